"""Unsupervised OptGNN training: minimise the problem's penalised relaxation
over random batches (no labels, no solver in the loop)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.loader import DataLoader

from pyg_ext.utils.validation import (
    check_choice,
    check_int,
    check_positive_int,
    check_real,
)


def _check_model(model: Any) -> None:
    """Raise ``TypeError`` unless ``model`` is an OptGNN."""
    from pyg_ext.nn import OptGNN
    if not isinstance(model, OptGNN):
        raise TypeError(f'model must be a pyg_ext.nn.OptGNN, got '
                        f'{type(model).__name__}')


def _check_instances(value: Any, name: str) -> list[Any]:
    """``value`` (a sequence of ``Data``) as a non-empty list."""
    from torch_geometric.data.data import BaseData
    hint = ' (wrap a single graph in a list)' \
        if isinstance(value, BaseData) else ''
    if isinstance(value, (str, bytes, BaseData)) or \
            not hasattr(value, '__iter__'):
        raise TypeError(f'{name} must be a sequence of Data (a list or a '
                        f'dataset), got {type(value).__name__}{hint}')
    out = list(value)
    if not out:
        raise ValueError(f'{name} is empty: give at least one instance')
    return out


def train_optgnn(model: Any, train: Sequence[Any], epochs: int = 5,
                 batch_size: int = 32, lr: float = 1e-3,
                 val: Sequence[Any] | None = None, seed: int = 0,
                 max_seconds: float | None = None,
                 log: Any = None) -> dict[str, list[float]]:
    """Train ``model`` (an :class:`pyg_ext.nn.OptGNN`) with Adam on
    ``model.problem.loss`` and keep the weights with the best validation loss
    (training loss when ``val`` is ``None``).

    Args:
        train / val: sequences of ``Data`` (datasets or lists).
        max_seconds: stop after this much wall-clock time.
        log: optional callable receiving one line per epoch.

    Returns:
        ``{'train_loss': [...], 'val_loss': [...]}`` per epoch (the first
        entry of ``val_loss`` is the untrained model's).

    Raises:
        TypeError, ValueError: ``model`` not an ``OptGNN``, ``train`` (or
            a given ``val``) empty or not a sequence, ``epochs < 0``,
            ``batch_size < 1``, ``lr <= 0``, ``max_seconds <= 0``, ``log``
            not callable.
    """
    _check_model(model)
    train = _check_instances(train, 'train')
    if val is not None:
        val = _check_instances(val, 'val')
    epochs = check_int(epochs, 'epochs', low=0)
    batch_size = check_positive_int(batch_size, 'batch_size')
    lr = check_real(lr, 'lr', low=0.0, low_open=True)
    seed = check_int(seed, 'seed')
    if max_seconds is not None:
        max_seconds = check_real(max_seconds, 'max_seconds', low=0.0,
                                 low_open=True)
    if log is not None and not callable(log):
        raise TypeError(f'log must be callable, got {type(log).__name__}')
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True)
    hist: dict[str, list[float]] = {'train_loss': [], 'val_loss': []}

    def evaluate() -> float:
        data = val if val is not None else train
        gen = torch.Generator().manual_seed(12345)
        tot, cnt = 0.0, 0
        with torch.no_grad():
            for batch in DataLoader(list(data), batch_size=128):
                tot += float(model.loss(batch, generator=gen)) * \
                    batch.num_graphs
                cnt += batch.num_graphs
        return tot / max(cnt, 1)

    best = evaluate()
    hist['val_loss'].append(best)
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    t0 = time.perf_counter()
    for ep in range(epochs):
        model.train()
        tot, cnt = 0.0, 0
        for batch in loader:
            opt.zero_grad()
            loss = model.loss(batch)
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * batch.num_graphs
            cnt += batch.num_graphs
            if max_seconds and time.perf_counter() - t0 > max_seconds:
                break
        model.eval()
        v = evaluate()
        hist['train_loss'].append(tot / max(cnt, 1))
        hist['val_loss'].append(v)
        if v < best:
            best = v
            best_state = {k: x.clone() for k, x in model.state_dict().items()}
        if log is not None:
            log(f'epoch {ep + 1}: train {hist["train_loss"][-1]:.5f} '
                f'val {v:.5f}')
        if max_seconds and time.perf_counter() - t0 > max_seconds:
            break
    model.load_state_dict(best_state)
    return hist


#: Default architecture per problem (rank, depth, initial step).
DEFAULT_CONFIGS: dict[str, dict[str, Any]] = {
    'maxcut': {'rank': 16, 'num_layers': 128, 'step': 1.3,
               'normalize_direction': False},
    'vertex_cover': {'rank': 16, 'num_layers': 16, 'step': 0.5},
    'max3sat': {'rank': 16, 'num_layers': 16, 'step': 1.0},
}

PRETRAINED_DIR = Path(__file__).resolve().parent / 'pretrained'


def default_config(problem: str) -> dict[str, Any]:
    """A copy of :data:`DEFAULT_CONFIGS` for ``problem``.

    Raises:
        TypeError, ValueError: ``problem`` not one of its keys (the message
            lists them).
    """
    problem = check_choice(problem, 'problem',
                           tuple(sorted(DEFAULT_CONFIGS)))
    return dict(DEFAULT_CONFIGS[problem])


def load_pretrained(problem: str) -> Any:
    """The packaged checkpoint for ``problem`` (an ``OptGNN``), or ``None``
    when a known problem (a key of :data:`DEFAULT_CONFIGS`) has no
    checkpoint file. Built by :func:`pretrain` (see ``docs/optgnn.md``).

    Raises:
        TypeError, ValueError: unknown ``problem`` (the message lists the
            known ones).
    """
    from pyg_ext.nn import OptGNN
    problem = check_choice(problem, 'problem',
                           tuple(sorted(DEFAULT_CONFIGS)))
    path = PRETRAINED_DIR / f'optgnn_{problem}.pt'
    if not path.exists():
        return None
    model = OptGNN.load(str(path))
    model.eval()
    return model


def training_set(problem: str, root: str | None = None) -> list[Any]:
    """The instances the packaged checkpoints were trained on: for graph
    vertex cover the TU training splits (MUTAG, ENZYMES, PROTEINS,
    IMDB-BINARY, first 150 graphs of each, when ``root`` has them) plus
    generated Erdos-Renyi graphs (n 50-100, p = 0.15, and n = 200,
    p = 0.05); for Max-Cut 16 ER(200, 0.05) and 48 ER(n 300-500,
    p 0.02-0.04) graphs (on TU graphs the untrained initialisation already
    reaches the SDP value); for Max-3-SAT random 3-SAT with 100
    variables at clause ratios 4.0-4.3 (seeds disjoint from the test
    sets)."""
    from pyg_ext.combopt.generators import erdos_renyi, random_3sat
    rng = np.random.default_rng(0)
    if problem == 'max3sat':
        return [random_3sat(100, float(rng.uniform(4.0, 4.3)),
                            seed=50_000 + i) for i in range(240)]
    out: list[Any] = []
    if problem == 'maxcut':
        # TU graphs and small dense ER graphs are solved to the SDP optimum
        # by the initialisation already (nothing left to learn); the
        # unconverged regime is sparse mid-size graphs
        out += [erdos_renyi(200, 0.05, seed=70_000 + i) for i in range(16)]
        out += [erdos_renyi(int(rng.integers(300, 501)),
                            float(rng.uniform(0.02, 0.04)), seed=80_000 + i)
                for i in range(48)]
        return out
    if root is not None:
        from pyg_ext.combopt.datasets import tu_split
        from pyg_ext.datasets import get_dataset
        for name in ('MUTAG', 'ENZYMES', 'PROTEINS', 'IMDB-BINARY'):
            ds = get_dataset(name, root)
            tr = tu_split(ds)[0]
            out += [_strip(ds[i]) for i in tr[:150]]
    out += [erdos_renyi(int(rng.integers(50, 101)), 0.15, seed=60_000 + i)
            for i in range(100)]
    out += [erdos_renyi(200, 0.05, seed=70_000 + i) for i in range(50)]
    return out


def _strip(d: Any) -> Any:
    from torch_geometric.data import Data
    return Data(edge_index=d.edge_index, num_nodes=d.num_nodes)


def pretrain(problem: str, root: str | None = None, seconds: float = 300.0,
             epochs: int = 30, out: str | None = None, log: Any = print
             ) -> Any:
    """Train the default model for ``problem`` on :func:`training_set` and
    save it (default: the packaged checkpoint path)."""
    from pyg_ext.nn import OptGNN
    data = training_set(problem, root)
    perm = np.random.default_rng(1).permutation(len(data))
    data = [data[i] for i in perm]
    n_val = max(8, len(data) // 10)
    torch.manual_seed(0)
    model = OptGNN(problem, **default_config(problem))
    train_optgnn(model, data[n_val:], epochs=epochs, val=data[:n_val],
                 max_seconds=seconds, log=log, batch_size=16)
    path = out or str(PRETRAINED_DIR / f'optgnn_{problem}.pt')
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return model


# --- reference-style training (preset='reference') ---------------------------

def maxcut_mixture(rng: np.random.Generator, n_range: tuple[int, int] = (
        50, 400), p_range: tuple[float, float] = (0.01, 0.05),
        ba_m: tuple[int, int] = (1, 4)) -> Any:
    """One random training graph: Erdos-Renyi ``G(n, p)`` or Barabasi-Albert
    (probability 1/2 each), ``n`` uniform in ``n_range``, ``p`` uniform in
    ``p_range``, ``m`` uniform in ``ba_m``."""
    from pyg_ext.combopt.generators import barabasi_albert, erdos_renyi
    n = int(rng.integers(n_range[0], n_range[1] + 1))
    seed = int(rng.integers(2**31))
    if rng.random() < 0.5:
        return erdos_renyi(n, float(rng.uniform(*p_range)), seed=seed)
    return barabasi_albert(n, int(rng.integers(ba_m[0], ba_m[1] + 1)),
                           seed=seed)


def sat_mixture(rng: np.random.Generator, n: int = 100,
                clauses: tuple[int, int] = (400, 430)) -> Any:
    """One random 3-SAT training instance (``n`` variables, clause count
    uniform in ``clauses``) as a pair-variable graph
    (:func:`~pyg_ext.combopt.max3sat.sat_pair_graph`)."""
    from pyg_ext.combopt.generators import random_3sat
    from pyg_ext.combopt.max3sat import sat_pair_graph
    c = int(rng.integers(clauses[0], clauses[1] + 1))
    return sat_pair_graph(random_3sat(n, seed=int(rng.integers(2**31)),
                                      num_clauses=c))


def rounded_score(model: Any, val: Sequence[Any], num_hyperplanes: int = 1000,
                  seed: int = 12345) -> float:
    """Mean rounded objective of ``model`` on ``val`` (one pass with fixed
    random inputs, best of ``num_hyperplanes`` hyperplanes, no local
    search): the reference code's validation score.

    Raises:
        TypeError, ValueError: ``model`` not an ``OptGNN``, ``val`` empty or
            not a sequence, ``num_hyperplanes < 1``.
    """
    from torch_geometric.loader import DataLoader as _DL
    _check_model(model)
    val = _check_instances(val, 'val')
    num_hyperplanes = check_positive_int(num_hyperplanes, 'num_hyperplanes')
    gen = torch.Generator().manual_seed(seed)
    tot, cnt = 0.0, 0
    was = model.training
    model.eval()
    for batch in _DL(list(val), batch_size=len(val)):
        _, st = model.solve(batch, restarts=1,
                            num_hyperplanes=num_hyperplanes, improve=False,
                            generator=gen)
        tot += float(st['rounded'].sum())
        cnt += int(st['rounded'].numel())
    model.train(was)
    return tot / max(cnt, 1)


def train_reference(model: Any, sample: Any, steps: int = 1000,
                    batch_size: int = 16, lr: float = 1e-3,
                    val: Sequence[Any] | None = None, valid_every: int = 100,
                    val_hyperplanes: int = 1000, seed: int = 0,
                    max_seconds: float | None = None,
                    save: str | None = None, log: Any = None
                    ) -> dict[str, list[float]]:
    """Train as the reference code does: Adam on the loss summed over each
    batch of ``batch_size`` freshly generated instances (``sample(rng)``,
    an infinite stream), validation every ``valid_every`` steps by the
    rounded score (:func:`rounded_score`), keeping (and saving to
    ``save``) the best-validation weights, which are loaded at the end.

    Returns:
        ``{'step': [...], 'val_score': [...], 'train_loss': [...]}`` (the
        first validation entry is the untrained model's, at step 0).

    Raises:
        TypeError, ValueError: ``model`` not an ``OptGNN``, ``steps``,
            ``batch_size`` or ``valid_every`` below 1, ``lr <= 0``,
            ``sample`` not callable, ``val`` given but empty.
    """
    from torch_geometric.data import Batch

    _check_model(model)
    if val is not None:
        val = _check_instances(val, 'val')
    val_hyperplanes = check_positive_int(val_hyperplanes, 'val_hyperplanes')
    steps = check_positive_int(steps, 'steps')
    batch_size = check_positive_int(batch_size, 'batch_size')
    valid_every = check_positive_int(valid_every, 'valid_every')
    lr = check_real(lr, 'lr', low=0.0, low_open=True)
    if not callable(sample):
        raise TypeError(f'sample must be callable, got '
                        f'{type(sample).__name__}')
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    maximise = model.problem.sense == 'max'
    hist: dict[str, list[float]] = {'step': [], 'val_score': [],
                                    'train_loss': []}
    val = list(val) if val is not None else [sample(rng) for _ in range(8)]

    def validate(step: int) -> bool:
        v = rounded_score(model, val, val_hyperplanes)
        hist['step'].append(step)
        hist['val_score'].append(v)
        prev = hist['val_score'][:-1]
        best = not prev or (v > max(prev) if maximise else v < min(prev))
        if log is not None:
            log(f'step {step}: val rounded score {v:.4f}'
                f'{" (best)" if best else ""} '
                f'{time.perf_counter() - t0:.0f}s')
        return best

    t0 = time.perf_counter()
    validate(0)
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    if save:
        model.save(save)
    run_loss = 0.0
    for step in range(1, steps + 1):
        model.train()
        batch = Batch.from_data_list([sample(rng) for _ in range(batch_size)])
        opt.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        opt.step()
        run_loss += float(loss.detach()) / batch_size
        out_of_time = bool(max_seconds and
                           time.perf_counter() - t0 > max_seconds)
        if step % valid_every == 0 or step == steps or out_of_time:
            hist['train_loss'].append(run_loss / valid_every)
            run_loss = 0.0
            if validate(step):
                best_state = {k: v.clone()
                              for k, v in model.state_dict().items()}
                if save:
                    model.save(save)
        if out_of_time:
            break
    model.load_state_dict(best_state)
    model.eval()
    return hist


def pretrain_reference(problem: str, seconds: float = 1200.0,
                       steps: int = 100_000, rank: int = 16,
                       num_layers: int = 16, batch_size: int = 16,
                       valid_every: int = 100, out: str | None = None,
                       seed: int = 0, log: Any = print) -> Any:
    """Train ``OptGNN(problem, preset='reference')`` on the reference-style
    stream (:func:`maxcut_mixture` or :func:`sat_mixture`) for at most
    ``seconds`` and save the best-validation checkpoint (default: the
    packaged ``optgnn_<problem>_reference.pt``)."""
    from pyg_ext.nn import OptGNN
    if problem == 'maxcut':
        sample = maxcut_mixture
    elif problem == 'max3sat':
        sample = sat_mixture
    else:
        raise ValueError(f"problem must be 'maxcut' or 'max3sat' for "
                         f'pretrain_reference, got {problem!r}')
    val_rng = np.random.default_rng(10_000 + seed)
    val = [sample(val_rng) for _ in range(16)]
    torch.manual_seed(seed)
    model = OptGNN(problem, rank=rank, num_layers=num_layers,
                   preset='reference')
    path = out or str(PRETRAINED_DIR / f'optgnn_{problem}_reference.pt')
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    train_reference(model, sample, steps=steps, batch_size=batch_size,
                    val=val, valid_every=valid_every, max_seconds=seconds,
                    seed=seed, save=path, log=log)
    return model


def load_pretrained_reference(problem: str) -> Any:
    """The packaged reference-preset checkpoint for ``problem``
    (``'maxcut'`` or ``'max3sat'``), or ``None`` when a known problem (a
    key of :data:`DEFAULT_CONFIGS`, e.g. ``'vertex_cover'``) has none.

    Raises:
        TypeError, ValueError: unknown ``problem`` (the message lists the
            known ones).
    """
    from pyg_ext.nn import OptGNN
    problem = check_choice(problem, 'problem',
                           tuple(sorted(DEFAULT_CONFIGS)))
    path = PRETRAINED_DIR / f'optgnn_{problem}_reference.pt'
    if not path.exists():
        return None
    model = OptGNN.load(str(path))
    model.eval()
    return model


__all__ = ['DEFAULT_CONFIGS', 'default_config', 'load_pretrained',
           'load_pretrained_reference', 'maxcut_mixture', 'pretrain',
           'pretrain_reference', 'rounded_score', 'sat_mixture',
           'train_optgnn', 'train_reference', 'training_set']

if __name__ == '__main__':  # pragma: no cover
    import argparse
    import functools
    ap = argparse.ArgumentParser(description='pretrain an OptGNN checkpoint')
    ap.add_argument('--problem', required=True)
    ap.add_argument('--preset', default='pyg_ext',
                    choices=['pyg_ext', 'reference'])
    ap.add_argument('--root', default=None)
    ap.add_argument('--seconds', type=float, default=300.0)
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--steps', type=int, default=100_000)
    ap.add_argument('--rank', type=int, default=16)
    ap.add_argument('--layers', type=int, default=16)
    ap.add_argument('--batch-size', type=int, default=16)
    ap.add_argument('--valid-every', type=int, default=100)
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    if a.preset == 'reference':
        pretrain_reference(a.problem, a.seconds, a.steps, a.rank, a.layers,
                           a.batch_size, a.valid_every, a.out,
                           log=functools.partial(print, flush=True))
    else:
        pretrain(a.problem, a.root, a.seconds, a.epochs, a.out)
