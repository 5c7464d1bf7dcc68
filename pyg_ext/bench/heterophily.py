"""Platonov et al. (ICLR 2023) heterophily baselines vs the published table.

``pyg-ext bench heterophily --dataset minesweeper --model gcn`` trains the
baseline with the paper's protocol: 512 hidden channels, 8 heads, dropout
0.2, LayerNorm, AdamW with lr 3e-5, 1000 full-batch steps, evaluation after
every step and the step with the best validation score kept (accuracy, or
ROC-AUC for the binary graphs), 1-5 layers with the depth picked by mean
validation score, one run per fixed split (10), mean ± std of the test
score. Run ``i`` uses split ``i`` and seed ``i``; ``--seeds`` replaces the
seeds, one per split in the order of ``--splits`` (``--seeds 10`` is the
default 0..9; a list of another length than the splits is refused). A
single split prints its score with ``(n=1)`` instead of a std. ``--quick``
is a smoke test (64 channels, 2 layers, 80 steps at lr 3e-3, split 0 only):
its numbers are not comparable to the paper's, so its table has no Δ/σ
column. A long run prints a progress line (step, validation score, best so
far, seconds per step) every ``--log-every`` seconds (60 by default), or
shows a bar with ``--progress`` on a terminal.

``--model`` also takes the heterophily-specific models of the paper (H2GCN,
CPGNN, GPR-GNN, FSGNN, GloGNN, FAGCN, GBK-GNN, JacobiConv, ResNet+SGC,
ResNet+adj; ``specific`` for all of them) when
:mod:`pyg_ext.nn.models.heterophily_specific` is installed; they train with
its ``SPECIFIC_DEFAULTS`` (the paper's hyperparameters) unless an option
overrides one. The published table (:mod:`._heterophily_published`) holds
every cell of the paper this runner could source.

**Resume.** ``--checkpoint DIR`` (default: off) saves every (model, depth,
split) run (model, optimiser, scaler and RNG states, the validation/test
history and the step) to ``DIR/<dataset>/<protocol hash>/`` every
``--checkpoint-every`` steps or ``--checkpoint-seconds`` seconds, and its
result to a ``.json`` beside it when it finishes. The same command started
again skips the finished runs and continues the others from their last
checkpoint; on CPU the resumed run is bit-for-bit the uninterrupted one.
A different protocol (hidden size, lr, steps, ...) gets another folder.

**Ray.** ``--engine ray [--address A]`` runs every (model, depth, split,
seed) cell as a task of :func:`pyg_ext.distributed.run_grid` (retried, one
thread per worker) and builds the same result from the finished cells;
``--cells-json FILE`` streams them into FILE and a re-run skips them (also
without ``--engine ray``). See ``docs/distributed.md``.

**Names.** ``cornell``, ``texas``, ``wisconsin`` and ``actor`` are the
Platonov et al. re-releases (printed as e.g. ``cornell (Platonov et al.
re-release)``); PyG's own WebKB / Actor graphs (geom-gcn files) are
``cornell-webkb``, ``texas-webkb``, ``wisconsin-webkb`` and ``actor-pyg``.

Graphs are used as the reference code (yandex-research/heterophilous-graphs)
uses them: undirected graphs with both directions of every edge once, the
``*_directed`` graphs with their arcs as given; GCN, GAT and GT get one more
self-loop per node even where the file has one (``dgl.add_self_loop``), and
GCN normalises an arc ``u -> v`` by the out-degrees of ``u`` and ``v``
(``graph.out_degrees()`` in its ``GCNModule``). On CPU, sparse features
(chameleon / squirrel bag-of-words) enter the input projection as a CSR
matrix (same parameters, same result up to float rounding, ~10x faster).

``--characterize`` prints every measure of :mod:`pyg_ext.metrics.homophily`,
the class-compatibility matrix and the Handbook category (malignant / benign
/ ambiguous heterophily) derived from graph-agnostic vs GNN scores (the
published table where the dataset has one, else the models run here).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from pyg_ext.bench._common import (
    add_engine_arguments,
    dataset_errors,
    device_arg,
    dropout_rate,
    engine_options,
    first_repeated,
    format_table,
    mean_std,
    nonneg_float,
    positive_float,
    positive_int,
    positive_int_list,
)
from pyg_ext.bench._heterophily_published import (
    CITATION,
    PUBLISHED,
    published,
    unchecked,
)

logger = logging.getLogger(__name__)

#: Help of the common ``--seeds`` in this suite (its default means: the
#: seed of each run is its split id).
COMMON_HELP: dict[str, str] = {
    'seeds': "one seed per split, as a count (0..N-1) or a list like '7,' "
             "or '0,3,7' (default: each run's seed is its split id)"}

FULL = dict(hidden=512, steps=1000, lr=3e-5, layers='1,2,3,4,5',
            splits='all', dropout=0.2, weight_decay=0.0)
QUICK = dict(hidden=64, steps=80, lr=3e-3, layers='2', splits='1',
             dropout=0.2, weight_decay=0.0)

#: Graph conventions of the reference code, pinned here whatever the model
#: class defaults are (see :class:`~pyg_ext.nn.models.HeterophilyBaseline`):
#: self-loops appended to the arcs as given, GCN normalised by out-degrees.
SELF_LOOP_MODE, GCN_DEGREE = 'append', 'out'

#: Names of PyG's own versions of the graphs the Platonov collection also
#: re-releases (``--dataset cornell`` is the re-release).
PYG_VERSIONS = {'cornell_webkb': 'cornell', 'texas_webkb': 'texas',
                'wisconsin_webkb': 'wisconsin', 'actor_pyg': 'actor'}

#: Checkpoint file format (bumped when the saved state changes).
CHECKPOINT_FORMAT = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--dataset', required=True,
                        help='a Platonov et al. graph (minesweeper, tolokers, '
                        'roman-empire, chameleon-filtered, cornell, ...), '
                        "PyG's WebKB/Actor as cornell-webkb, texas-webkb, "
                        'wisconsin-webkb, actor-pyg, or a registered dataset '
                        'with [N, 10] masks')
    parser.add_argument('--model', default=None,
                        help="resnet|gcn|sage|gat|gat-sep|gt|gt-sep, a "
                        "heterophily-specific model (h2gcn, cpgnn, gprgnn, "
                        "fsgnn, glognn, fagcn, gbkgnn, jacobiconv, "
                        "resnet-sgc, resnet-adj), a comma list, 'all' (the "
                        "baselines) or 'specific' (default: none; needed "
                        'unless --characterize)')
    parser.add_argument('--characterize', action='store_true',
                        help='print homophily measures and the Handbook '
                        'category instead of training (with --model: both)')
    parser.add_argument('--quick', action='store_true',
                        help='smoke-test protocol (minutes on a CPU; not '
                        'comparable to the paper, so no Δ/σ column)')
    parser.add_argument('--layers', default=None, type=positive_int_list,
                        help='depths to try, e.g. 1,2,3,4,5 or 3 (default: '
                        f"{FULL['layers']}; --quick: {QUICK['layers']}; "
                        'specific models: their published depth)')
    parser.add_argument('--hidden', type=positive_int, default=None,
                        help=f"hidden channels (default: {FULL['hidden']}; "
                        f"--quick: {QUICK['hidden']})")
    parser.add_argument('--heads', type=positive_int, default=8,
                        help='attention heads (GAT, GT)')
    parser.add_argument('--dropout', type=dropout_rate, default=None,
                        help=f"dropout probability (default: "
                        f"{FULL['dropout']}; specific models: their "
                        'published value)')
    parser.add_argument('--lr', type=positive_float, default=None,
                        help=f"AdamW learning rate (default: {FULL['lr']:g}; "
                        f"--quick: {QUICK['lr']:g})")
    parser.add_argument('--weight-decay', type=nonneg_float, default=None,
                        help='AdamW weight decay (default: 0; specific '
                        'models: their published value)')
    parser.add_argument('--steps', type=positive_int, default=None,
                        help=f"full-batch training steps (default: "
                        f"{FULL['steps']}; --quick: {QUICK['steps']})")
    parser.add_argument('--splits', default=None,
                        help="'all' (10), a count N (splits 0..N-1) or a "
                        "list like 0,3 (default: all; --quick: 1)")
    parser.add_argument('--device', default='auto', type=device_arg,
                        help="'auto' (cuda when available), 'cpu', 'cuda'")
    parser.add_argument('--time-budget', type=positive_float, default=None,
                        help='seconds; start no new (model, depth) run after '
                        'this and report what finished (default: no limit)')
    parser.add_argument('--checkpoint', default=None, metavar='DIR',
                        help='save every run to DIR (model, optimiser, RNG, '
                        'history, step) and its result when done; the same '
                        'command again resumes the unfinished runs and '
                        'skips the finished ones (default: off)')
    parser.add_argument('--checkpoint-every', type=positive_int, default=100,
                        metavar='STEPS',
                        help='with --checkpoint: save every STEPS steps')
    parser.add_argument('--checkpoint-seconds', type=positive_float,
                        default=300.0, metavar='SECONDS',
                        help='with --checkpoint: also save when SECONDS '
                        'passed since the last save')
    parser.add_argument('--history', default=None, metavar='JSON',
                        help='write every run\'s per-step (validation, '
                        'test) curve to this file, refreshed every 20 '
                        'steps (default: none)')
    parser.add_argument('--log-every', type=nonneg_float, default=60.0,
                        metavar='SECONDS',
                        help='during training, print a progress line (step, '
                        'validation score, best so far, time per step) at '
                        'most every SECONDS; 0: never. With --progress on a '
                        'terminal a bar replaces the lines')
    parser.add_argument('--tf32', action='store_true',
                        help='allow TF32 matmuls on CUDA (faster)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision, the reference code\'s --amp '
                        '(float16 on CUDA; bfloat16 on CPU, faster only '
                        'where lscpu lists avx512_bf16 or amx_bf16, much '
                        'slower elsewhere); head and sparse sums stay '
                        'float32')
    _track_explicit(parser, '--seeds', 'seeds_given')
    add_engine_arguments(parser)


def _track_explicit(parser: argparse.ArgumentParser, option: str,
                    dest: str) -> None:
    """Make ``parser`` set ``dest`` to whether ``option`` (or an
    abbreviation argparse accepts) was on the command line: the common
    ``--seeds`` has a default, and this suite must tell it from a given
    value."""
    parse = parser.parse_known_args

    def parse_known_args(args: Any = None, namespace: Any = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        argv = list(sys.argv[1:] if args is None else args)
        ns, rest = parse(argv, namespace)
        given = False
        for token in argv:
            if token == '--':
                break
            head = str(token).split('=', 1)[0]
            if len(head) > 3 and head.startswith('--') and \
                    option.startswith(head):
                given = True
        setattr(ns, dest, given)
        return ns, rest

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


# --- models ------------------------------------------------------------------

def _specific() -> ModuleType | None:
    """:mod:`pyg_ext.nn.models.heterophily_specific`, or ``None`` where this
    version does not have it (an error inside the module propagates)."""
    import importlib
    name = 'pyg_ext.nn.models.heterophily_specific'
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        return None


def _squash(name: str) -> str:
    return name.replace('-', '').replace('_', '').replace('+', '')


def canonical_models(arg: str) -> list[str]:
    """Parse ``--model``: baselines, heterophily-specific models, ``'all'``
    (the baselines) or ``'specific'``.

    Raises:
        ValueError: an unknown name (the message lists the choices), or a
            heterophily-specific model where the module is not installed.
    """
    from pyg_ext.nn.models.heterophily import MODELS
    items = [m.strip() for m in str(arg).split(',') if m.strip()]
    spec = None
    if any(i.lower() != 'all' and _squash(i.lower()) not in
           {_squash(m) for m in MODELS} for i in items):
        spec = _specific()  # only where a non-baseline name is asked for
    specific = tuple(getattr(spec, 'SPECIFIC_MODELS', ())) if spec else ()
    known_specific = ('h2gcn', 'cpgnn', 'gprgnn', 'fsgnn', 'glognn', 'fagcn',
                      'gbkgnn', 'jacobiconv', 'resnet-sgc', 'resnet-adj')
    out: list[str] = []
    for item in items:
        key = item.lower()
        if key == 'all':
            out += list(MODELS)
            continue
        if key == 'specific':
            if not specific:
                raise ValueError(
                    "--model specific needs pyg_ext.nn.models."
                    'heterophily_specific, which this installation lacks')
            out += list(specific)
            continue
        match = [m for m in (*MODELS, *specific, *known_specific)
                 if _squash(m) == _squash(key)]
        if not match:
            raise ValueError(
                f"--model: unknown model '{item}'; choose from "
                f"{', '.join(MODELS)}, "
                f"{', '.join(specific or known_specific)}, 'all' or "
                "'specific'")
        name = match[0]
        if name not in MODELS and name not in specific:
            raise ValueError(
                f"--model {item}: heterophily-specific models need "
                'pyg_ext.nn.models.heterophily_specific, which this '
                'installation lacks')
        out.append(name)
    seen: set[str] = set()
    return [m for m in out if not (m in seen or seen.add(m))]


#: Heterophily-specific models built with ``num_nodes=`` (their docs).
NEEDS_NUM_NODES = ('resnet-adj', 'glognn')


def build_model(model_name: str, in_channels: int, out_channels: int, *,
                hidden: int, num_layers: int, heads: int, dropout: float,
                num_nodes: int | None = None) -> torch.nn.Module:
    """A baseline (:class:`~pyg_ext.nn.models.HeterophilyBaseline` with the
    reference code's graph conventions) or a heterophily-specific model."""
    from pyg_ext.nn.models.heterophily import MODELS, HeterophilyBaseline
    if model_name in MODELS:
        return HeterophilyBaseline(
            model_name, in_channels, out_channels, hidden_channels=hidden,
            num_layers=num_layers, num_heads=heads, dropout=dropout,
            self_loop_mode=SELF_LOOP_MODE, gcn_degree=GCN_DEGREE)
    spec = _specific()
    if spec is None:
        raise ValueError(f"model '{model_name}' needs pyg_ext.nn.models."
                         'heterophily_specific, which this installation '
                         'lacks')
    extra = ({'num_nodes': num_nodes}
             if model_name in NEEDS_NUM_NODES and num_nodes is not None
             else {})
    return spec.build_specific_model(
        model_name, in_channels, out_channels, hidden_channels=hidden,
        num_layers=num_layers, dropout=dropout, **extra)


def model_protocol(model_name: str, args: argparse.Namespace,
                   preset: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters of one model: explicit options, else (specific
    models, full protocol) its ``SPECIFIC_DEFAULTS`` (one point of the
    paper's grids: ``lr``, ``weight_decay``, ``hidden``, ``layers`` or
    ``layers_grid``, ``dropout``, ``steps``, ``optimizer`` and early-stopping
    ``patience``, the last dropped when ``--steps`` is given), else the
    preset. ``--quick`` keeps a specific model's dropout, weight decay and
    optimiser only."""
    from pyg_ext.nn.models.heterophily import MODELS
    defaults: dict[str, Any] = {}
    if model_name not in MODELS and not args.quick:
        spec = _specific()
        defaults = dict(getattr(spec, 'SPECIFIC_DEFAULTS', {}).get(
            model_name, {})) if spec else {}
    elif model_name not in MODELS:
        spec = _specific()
        full = dict(getattr(spec, 'SPECIFIC_DEFAULTS', {}).get(
            model_name, {})) if spec else {}
        defaults = {k: full[k] for k in ('dropout', 'weight_decay',
                                         'optimizer') if k in full}

    def pick(option: Any, key: str, preset_key: str | None = None) -> Any:
        if option is not None:
            return option
        if key in defaults:
            return defaults[key]
        return preset[preset_key or key]

    layers = args.layers
    if layers is None:
        layers = defaults.get('layers_grid', defaults.get('layers'))
    if layers is None:
        layers = preset['layers']
    if isinstance(layers, str):
        depths = positive_int_list(layers)
    elif isinstance(layers, int):
        depths = [layers]
    else:
        depths = [int(d) for d in layers]
    hidden = pick(args.hidden, 'hidden')
    if hidden is None:  # e.g. JacobiConv: no hidden layer at its depth
        hidden = preset['hidden']
    patience = defaults.get('patience') if args.steps is None else None
    return {'hidden': int(hidden),
            'lr': float(pick(args.lr, 'lr')),
            'steps': int(pick(args.steps, 'steps')),
            'dropout': float(pick(args.dropout, 'dropout')),
            'weight_decay': float(pick(args.weight_decay, 'weight_decay')),
            'optimizer': str(defaults.get('optimizer', 'adamw')).lower(),
            'patience': None if patience is None else int(patience),
            'depths': depths}


# --- data --------------------------------------------------------------------

def dataset_label(key: str) -> str:
    """How the runner prints a dataset: the Platonov re-releases of graphs
    PyG also ships say so, PyG's versions name their source."""
    if key in PYG_VERSIONS.values():
        return f'{key} (Platonov et al. re-release)'
    if key in PYG_VERSIONS:
        src = 'PyG Actor' if key == 'actor_pyg' else 'PyG WebKB'
        return f'{key.replace("_", "-")} ({src}, geom-gcn files)'
    return key


def load_graph(name: str, root: str | None) -> tuple[Any, str, str]:
    """``(data, canonical name, metric)`` for a Platonov graph, one of PyG's
    WebKB / Actor graphs (``cornell-webkb``, ..., ``actor-pyg``) or a
    registered dataset with ``[N, S]`` masks.

    Raises:
        ValueError: a dataset without ``[N, splits]`` masks.
        DatasetMissingError, FileNotFoundError: the files are missing and
            cannot be downloaded (one line naming the folder and the URL).
    """
    from pyg_ext.bench._common import load_registered
    from pyg_ext.datasets.heterophily import (
        NEW_GRAPHS,
        STATS,
        PlatonovHeterophilyDataset,
    )
    from pyg_ext.utils.data_root import resolve_root

    key = name.strip().lower().replace('-', '_').replace('_platonov', '')
    base = resolve_root(root)
    if key in STATS:
        family = 'heterophilous' if key in NEW_GRAPHS else 'heterophilous_extra'
        with dataset_errors(key, base / family):
            ds = PlatonovHeterophilyDataset(str(base / family), key)
        return ds[0], key, ds.metric
    if key in PYG_VERSIONS:
        ds = load_registered(PYG_VERSIONS[key], root)
        name = key
    else:
        ds = load_registered(name, root)
    data = ds[0]
    if getattr(data, 'train_mask', None) is None or data.train_mask.dim() != 2:
        raise ValueError(f"dataset '{name}' has no [N, splits] masks; use a "
                         'Platonov et al. graph')
    c = int(data.y.max()) + 1
    return data, name, 'roc_auc' if c == 2 else 'accuracy'


def split_ids(arg: str | None, available: int) -> list[int]:
    """Parse ``--splits``."""
    if arg in (None, 'all'):
        return list(range(available))
    parts = [p for p in str(arg).split(',') if p.strip()]
    if len(parts) == 1 and ',' not in str(arg):
        k = int(parts[0])
        if not 1 <= k <= available:
            raise ValueError(f'--splits must be in 1..{available}, got {k}')
        return list(range(k))
    ids = [int(p) for p in parts]
    bad = [i for i in ids if not 0 <= i < available]
    if bad:
        raise ValueError(f'split ids {bad} out of range 0..{available - 1}')
    twice = first_repeated(ids)
    if twice is not None:  # the same run twice would understate the std
        raise ValueError(f'--splits lists split {twice} more than once')
    return ids


# --- metrics -----------------------------------------------------------------

def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary ROC-AUC with tied scores counted half (the Mann-Whitney
    statistic, as sklearn's ``roc_auc_score``), on the scores' device."""
    labels = labels.bool()
    n_pos = labels.sum()
    n_neg = labels.numel() - n_pos
    order = torch.argsort(scores)
    s = scores[order]
    ranks = torch.empty_like(scores, dtype=torch.float64)
    # average ranks over ties
    _, inverse, counts = torch.unique_consecutive(
        s, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(torch.float64)
    starts = ends - counts + 1
    avg = (starts + ends) / 2
    ranks[order] = avg[inverse]
    r_pos = ranks[labels].sum()
    return (r_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg).clamp(min=1)


# --- training ----------------------------------------------------------------

#: Feature density below which a CPU run feeds the input projection a
#: sparse CSR copy of ``x`` (the chameleon / squirrel bag-of-words features
#: are ~0.5% non-zero: about 10x faster, same result up to float rounding).
SPARSE_INPUT_DENSITY = 0.1


class _SparseInputLinear(torch.nn.Linear):
    """``lin_in`` of a model with the same parameters (same state-dict
    keys), computing ``x @ W.T + b`` from a CSR copy of ``x`` when it is
    called with that very tensor (any other input: the dense product)."""

    def __init__(self, lin: torch.nn.Linear, x: torch.Tensor) -> None:
        torch.nn.Module.__init__(self)
        self.in_features, self.out_features = lin.in_features, lin.out_features
        self.weight, self.bias = lin.weight, lin.bias
        self._dense = x
        import warnings
        with warnings.catch_warnings():  # 'CSR support is in beta state'
            warnings.simplefilter('ignore', UserWarning)
            self._csr = x.to_sparse_csr()

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        if inp is not self._dense:
            return super().forward(inp)
        if self.bias is None:
            return torch.sparse.mm(self._csr, self.weight.t())
        return torch.addmm(self.bias, self._csr, self.weight.t())


def _use_sparse_input(model: torch.nn.Module, x: torch.Tensor,
                      device: torch.device, amp: bool) -> bool:
    """Swap ``model.lin_in`` for :class:`_SparseInputLinear` on a CPU run
    without autocast whose features are sparse; returns whether it did."""
    lin = getattr(model, 'lin_in', None)
    if (device.type != 'cpu' or amp or type(lin) is not torch.nn.Linear
            or x.numel() == 0):
        return False
    density = float((x != 0).sum()) / x.numel()
    if density >= SPARSE_INPUT_DENSITY:
        return False
    model.lin_in = _SparseInputLinear(lin, x)
    return True



def train_one(data: Any, model_name: str, num_layers: int, split: int,
              metric: str, *, hidden: int, heads: int, dropout: float,
              lr: float, steps: int, device: torch.device,
              seed: int = 0, amp: bool = False, weight_decay: float = 0.0,
              optimizer: str = 'adamw', patience: int | None = None,
              on_step: Any = None, reporter: Any = None,
              checkpoint: str | os.PathLike[str] | None = None,
              checkpoint_every: int = 100,
              checkpoint_seconds: float = 300.0,
              step_hook: Any = None) -> dict[str, Any]:
    """Train on one split and return the best-validation step's scores.

    ``amp=True`` is the reference code's ``--amp``: autocast (float16 with a
    gradient scaler on CUDA as there; bfloat16 on CPU, which needs no
    scaler), the output head and the sparse aggregations in float32.

    ``on_step(step, hist)`` (optional) is called every 20 steps and after
    the last one with the ``[steps, 2]`` (validation, test) history so far
    (the runner's ``--history`` keeps the curves with it).
    ``reporter(step, hist)`` (optional, e.g. a :class:`StepReporter`) is
    called after every step with the history on the training device; on a
    resumed run its ``resume(step, hist)`` (if any) is called first.
    ``step_hook(step)`` (optional) is called after every step, after any
    checkpoint of that step was written (tests stop a run with it).

    ``checkpoint``: a file; when it exists the run continues from it (same
    model, optimiser, scaler and RNG states, history and step: bit for bit
    the uninterrupted run on CPU), and it is rewritten every
    ``checkpoint_every`` steps or ``checkpoint_seconds`` seconds.
    Heterophily-specific models get ``set_train_labels(y, mask)`` before
    training, ``extra_loss()`` (unless ``None``) added to the loss and their
    ``parameter_groups(weight_decay)`` as optimiser groups, where they have
    them. ``optimizer``: ``'adamw'`` (the baselines) or ``'adam'`` (L2 weight
    decay, the specific models' code); ``patience``: stop after that many
    steps without a better validation score (``None``: run every step).

    Raises:
        ValueError: a checkpoint that cannot be read or belongs to another
            run (model, depth, split, seed or protocol).
    """
    torch.manual_seed(seed)
    binary = metric == 'roc_auc'
    num_classes = int(data.y.max()) + 1
    model = build_model(model_name, data.x.size(1),
                        1 if binary else num_classes, hidden=hidden,
                        num_layers=num_layers, heads=heads,
                        dropout=dropout,
                        num_nodes=int(data.num_nodes)).to(device)
    groups = (model.parameter_groups(weight_decay)
              if hasattr(model, 'parameter_groups') else model.parameters())
    if optimizer not in ('adam', 'adamw'):
        raise ValueError(f"optimizer must be 'adam' or 'adamw', got "
                         f'{optimizer!r}')
    opt_cls = torch.optim.Adam if optimizer == 'adam' else torch.optim.AdamW
    opt = opt_cls(groups, lr=lr, weight_decay=weight_decay)
    x, ei = data.x.to(device), data.edge_index.to(device)
    _use_sparse_input(model, x, device, amp)
    y = data.y.to(device)
    tr = data.train_mask[:, split].to(device)
    va = data.val_mask[:, split].to(device)
    te = data.test_mask[:, split].to(device)
    if hasattr(model, 'set_train_labels'):
        model.set_train_labels(y, tr)
    extra_loss = getattr(model, 'extra_loss', None)
    y_loss = y.float() if binary else y
    hist = torch.zeros(steps, 2, dtype=torch.float64, device=device)
    cuda = device.type == 'cuda'
    amp_dtype = torch.float16 if cuda else torch.bfloat16
    scaler = torch.amp.GradScaler('cuda', enabled=amp and cuda)
    ident = {'format': CHECKPOINT_FORMAT, 'model': model_name,
             'layers': int(num_layers), 'split': int(split),
             'seed': int(seed), 'steps': int(steps), 'hidden': int(hidden),
             'heads': int(heads), 'dropout': float(dropout), 'lr': float(lr),
             'weight_decay': float(weight_decay), 'amp': bool(amp),
             'metric': metric, 'optimizer': optimizer,
             'patience': patience}
    ckpt = Path(checkpoint) if checkpoint is not None else None
    start, seconds_before = 0, 0.0
    if ckpt is not None and ckpt.exists():
        try:
            state = torch.load(ckpt, map_location='cpu', weights_only=True)
        except Exception as e:  # truncated / foreign file
            raise ValueError(f'checkpoint {ckpt} cannot be read '
                             f'({type(e).__name__}); remove it to start '
                             'this run over') from e
        if not isinstance(state, dict) or state.get('ident') != ident:
            got = state.get('ident') if isinstance(state, dict) else None
            raise ValueError(f'checkpoint {ckpt} belongs to another run '
                             f'({got}), not {ident}; remove it or use '
                             'another --checkpoint folder')
        model.load_state_dict(state['model'])
        opt.load_state_dict(state['optimizer'])
        scaler.load_state_dict(state['scaler'])
        start = int(state['step'])
        hist[:start] = state['history'].to(device)
        seconds_before = float(state['seconds'])
        torch.set_rng_state(state['rng_cpu'])
        if cuda and state.get('rng_cuda') is not None:
            torch.cuda.set_rng_state(state['rng_cuda'], device)
        logger.info('resumed %s at step %d from %s', model_name, start, ckpt)
        if reporter is not None and hasattr(reporter, 'resume'):
            reporter.resume(start, hist)
    t0 = last_save = time.perf_counter()

    def save(done: int) -> None:
        assert ckpt is not None
        val = hist[:done, 0].cpu()
        best = int(torch.argmax(val))
        state = {'ident': ident, 'step': done,
                 'model': model.state_dict(), 'optimizer': opt.state_dict(),
                 'scaler': scaler.state_dict(),
                 'rng_cpu': torch.get_rng_state(),
                 'rng_cuda': torch.cuda.get_rng_state(device) if cuda
                 else None,
                 'history': hist[:done].cpu(), 'best_step': best + 1,
                 'best_val': float(val[best]),
                 'seconds': seconds_before + time.perf_counter() - t0}
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        tmp = ckpt.with_name(ckpt.name + '.tmp')
        torch.save(state, tmp)
        os.replace(tmp, ckpt)

    for step in range(start, steps):
        model.train()
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
            out = model(x, ei)
        if binary:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                out[tr], y_loss[tr])
        else:
            loss = torch.nn.functional.cross_entropy(out[tr], y_loss[tr])
        if extra_loss is not None:
            extra = extra_loss()
            if extra is not None:
                loss = loss + extra
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        model.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=amp_dtype,
                                             enabled=amp):
            out = model(x, ei)
            if binary:
                hist[step, 0] = roc_auc(out[va], y[va])
                hist[step, 1] = roc_auc(out[te], y[te])
            else:
                pred = out.argmax(-1)
                hist[step, 0] = (pred[va] == y[va]).double().mean()
                hist[step, 1] = (pred[te] == y[te]).double().mean()
        done = step + 1
        if on_step is not None and (done % 20 == 0 or done == steps):
            on_step(done, hist[:done].cpu())
        if reporter is not None:
            reporter(done, hist)
        if ckpt is not None and done < steps and (
                done % checkpoint_every == 0
                or time.perf_counter() - last_save >= checkpoint_seconds):
            save(done)
            last_save = time.perf_counter()
        if step_hook is not None:
            step_hook(done)
        if patience is not None and done - 1 - int(
                torch.argmax(hist[:done, 0])) >= patience:
            hist = hist[:done]
            break
    hist = hist.cpu()
    # first step with the best validation score (strict improvement, as in
    # the reference logger)
    best = int(torch.argmax(hist[:, 0]))
    return {'val': float(hist[best, 0]), 'test': float(hist[best, 1]),
            'best_step': best + 1, 'steps_run': int(hist.size(0)),
            'seconds': seconds_before + time.perf_counter() - t0,
            'resumed_from': start}


@functools.cache
def model_code_version(model_name: str) -> str:
    """Short hash of the source files of the code a model runs: every module
    of ``pyg_ext`` that defines a class in a small instance of the model
    (built under a forked RNG, so the caller's random state is untouched),
    plus PyG's version when the model uses PyG's layers.

    It enters every checkpoint and grid-cell protocol, so a run finished
    (or checkpointed) before a change to the model's code is trained again
    rather than read back. A model that cannot be built small falls back to
    the files of the two heterophily model modules.
    """
    files: set[str] = set()
    uses_pyg = False
    try:
        with torch.random.fork_rng(devices=[]):
            model = build_model(model_name, 4, 3, hidden=8, num_layers=2,
                                heads=2, dropout=0.0, num_nodes=6)
        for mod in model.modules():
            name = type(mod).__module__
            if name.startswith('torch_geometric'):
                uses_pyg = True
            if name.split('.')[0] == 'pyg_ext':
                f = getattr(sys.modules.get(name), '__file__', None)
                if f:
                    files.add(f)
    except Exception:  # noqa: BLE001 - fall back to the model modules
        import pyg_ext.nn.models.heterophily as base
        files.add(str(base.__file__))
        spec = _specific()
        if spec is not None and getattr(spec, '__file__', None):
            files.add(str(spec.__file__))
        uses_pyg = True
    h = hashlib.sha1()
    for f in sorted(files):
        h.update(Path(f).name.encode())
        h.update(Path(f).read_bytes())
    if uses_pyg:
        import torch_geometric
        h.update(torch_geometric.__version__.encode())
    return h.hexdigest()[:12]


def protocol_hash(protocol: dict[str, Any]) -> str:
    """Short hash of a protocol dict (the checkpoint folder's name)."""
    text = json.dumps(protocol, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def cell_paths(checkpoint_dir: str | os.PathLike[str], dataset: str,
               model_name: str, depth: int, split: int, seed: int,
               protocol: dict[str, Any]) -> tuple[Path, Path]:
    """``(checkpoint .pt, result .json)`` of one (model, depth, split) run
    under ``checkpoint_dir/<dataset>/<protocol hash>/``."""
    folder = Path(checkpoint_dir) / dataset / protocol_hash(protocol)
    stem = f'{model_name}_L{depth}_split{split}_seed{seed}'
    return folder / f'{stem}.pt', folder / f'{stem}.json'


def run_cell(data: Any, dataset: str, metric: str, model_name: str,
             depth: int, split: int, *, seed: int, hidden: int, heads: int,
             dropout: float, lr: float, steps: int,
             device: torch.device | str = 'cpu', amp: bool = False,
             weight_decay: float = 0.0, optimizer: str = 'adamw',
             patience: int | None = None,
             checkpoint_dir: str | os.PathLike[str] | None = None,
             checkpoint_every: int = 100, checkpoint_seconds: float = 300.0,
             log_every: float = 0.0, bar: bool = False,
             on_step: Any = None, step_hook: Any = None) -> dict[str, Any]:
    """One unit of work: train ``model_name`` with ``depth`` layers on split
    ``split`` (seed ``seed``) and return a JSON-serialisable dict (model,
    layers, split, seed, val, test, best_step, seconds, resumed_from,
    finished_earlier).

    With ``checkpoint_dir`` the run is checkpointed (see :func:`train_one`)
    under ``checkpoint_dir/<dataset>/<protocol hash>/``, its result saved as
    JSON beside it when it ends (the checkpoint is then removed), and a run
    whose result is already there is not trained again.

    Raises:
        ValueError: a checkpoint of another run (see :func:`train_one`).
    """
    device = torch.device(device)
    protocol = {'hidden': hidden, 'heads': heads, 'dropout': dropout,
                'lr': lr, 'steps': steps, 'amp': amp,
                'weight_decay': weight_decay, 'metric': metric,
                'self_loop_mode': SELF_LOOP_MODE, 'gcn_degree': GCN_DEGREE,
                'format': CHECKPOINT_FORMAT,
                'code': model_code_version(model_name)}
    if optimizer != 'adamw' or patience is not None:
        protocol.update(optimizer=optimizer, patience=patience)
    if device.type != 'cpu':
        # a GPU result (TF32 or not) is not reused for a CPU run, nor the
        # other way round; CPU hashes stay as they were
        protocol['device'] = device.type
        if device.type == 'cuda' and \
                torch.backends.cuda.matmul.allow_tf32:
            protocol['tf32'] = True
    label = f'{model_name} L={depth} split {split}'
    ckpt = done_file = None
    if checkpoint_dir is not None:
        ckpt, done_file = cell_paths(checkpoint_dir, dataset, model_name,
                                     depth, split, seed, protocol)
        if done_file.exists():
            with open(done_file) as f:
                r = json.load(f)
            r['finished_earlier'] = True
            print(f'  {label}: finished earlier ({done_file})', flush=True)
            return r
    reporter = StepReporter(label, steps, log_every, bar)
    try:
        r = train_one(data, model_name, depth, split, metric, hidden=hidden,
                      heads=heads, dropout=dropout, lr=lr, steps=steps,
                      device=device, seed=seed, amp=amp,
                      weight_decay=weight_decay, optimizer=optimizer,
                      patience=patience, on_step=on_step,
                      reporter=reporter, checkpoint=ckpt,
                      checkpoint_every=checkpoint_every,
                      checkpoint_seconds=checkpoint_seconds,
                      step_hook=step_hook)
    finally:
        reporter.close()
    r = {'model': model_name, 'layers': int(depth), 'split': int(split),
         'seed': int(seed), **r, 'steps': int(steps),
         'finished_earlier': False}
    if done_file is not None and ckpt is not None:
        tmp = done_file.with_name(done_file.name + '.tmp')
        done_file.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, 'w') as f:
            json.dump({**r, 'protocol': protocol, 'dataset': dataset}, f,
                      indent=1)
        os.replace(tmp, done_file)
        if ckpt.exists():
            ckpt.unlink()
    return r


def run_models(data: Any, name: str, metric: str, models: list[str],
               depths: list[int], splits: list[int], *, hidden: int,
               heads: int, dropout: float, lr: float, steps: int,
               device: torch.device, budget: float | None = None,
               progress: bool = False, amp: bool = False,
               history: str | None = None, log_every: float = 0.0,
               bar: bool = False, seeds: list[int] | None = None,
               weight_decay: float = 0.0,
               protocols: dict[str, dict[str, Any]] | None = None,
               checkpoint_dir: str | None = None,
               checkpoint_every: int = 100,
               checkpoint_seconds: float = 300.0) -> dict[str, Any]:
    """Train every (model, depth) on every split (:func:`run_cell` each);
    pick the depth per model by mean validation score. ``seeds[i]`` is the
    seed of the run on ``splits[i]`` (default: the split id).
    ``protocols[model]`` (optional) overrides hidden / lr / steps / dropout
    / weight_decay / depths for that model. ``progress`` prints a line per
    finished split; within a run, ``bar`` shows a tqdm bar over the steps,
    else a line is printed at most every ``log_every`` seconds (0: never),
    see :class:`StepReporter`."""
    seeds = list(splits) if seeds is None else list(seeds)
    if len(seeds) != len(splits):
        raise ValueError(f'seeds: one per split, got {len(seeds)} seeds for '
                         f'{len(splits)} splits')
    base = {'hidden': hidden, 'lr': lr, 'steps': steps, 'dropout': dropout,
            'weight_decay': weight_decay, 'optimizer': 'adamw',
            'patience': None, 'depths': list(depths)}
    protos = {m: {**base, **(protocols or {}).get(m, {})} for m in models}
    all_depths = sorted({d for p in protos.values() for d in p['depths']})
    t_start = time.perf_counter()
    results: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    stopped = False
    for depth in all_depths:
        for model_name in models:
            p = protos[model_name]
            if depth not in p['depths']:
                continue
            if budget is not None and time.perf_counter() - t_start > budget:
                stopped = True
                break
            runs = []
            for s, seed in zip(splits, seeds):
                cb = None
                if history is not None:
                    cb = _history_writer(history, curves, name, model_name,
                                         depth, s, p['steps'])
                r = run_cell(data, name, metric, model_name, depth, s,
                             seed=seed, hidden=p['hidden'], heads=heads,
                             dropout=p['dropout'], lr=p['lr'],
                             steps=p['steps'], device=device, amp=amp,
                             weight_decay=p['weight_decay'],
                             optimizer=p['optimizer'],
                             patience=p['patience'],
                             checkpoint_dir=checkpoint_dir,
                             checkpoint_every=checkpoint_every,
                             checkpoint_seconds=checkpoint_seconds,
                             log_every=log_every, bar=bar, on_step=cb)
                runs.append(r)
                if progress:
                    print(f'  {model_name} L={depth} split {s}: val '
                          f'{100 * r["val"]:.2f} test {100 * r["test"]:.2f} '
                          f'(step {r["best_step"]}, {r["seconds"]:.1f} s)',
                          flush=True)
            results.setdefault(model_name, {})[depth] = runs
        if stopped:
            break
    return {'summary': summarize_runs(results, protos, splits, seeds),
            'stopped_early': stopped,
            'seconds': time.perf_counter() - t_start}


def summarize_runs(results: dict[str, dict[int, list[dict[str, Any]]]],
                   protos: dict[str, dict[str, Any]], splits: list[int],
                   seeds: list[int]) -> dict[str, Any]:
    """Per model (in the order of ``results``): the depth with the best mean
    validation score and its mean ± std validation / test scores (in %),
    from ``results[model][depth]`` (the :func:`run_cell` dicts, one per
    split in the order of ``splits``)."""
    summary = {}
    for model_name, by_depth in results.items():
        best_depth = max(by_depth, key=lambda d: mean_std(
            [r['val'] for r in by_depth[d]])[0])
        runs = by_depth[best_depth]
        vm, vs = mean_std([100 * r['val'] for r in runs])
        tm, ts = mean_std([100 * r['test'] for r in runs])
        summary[model_name] = {
            'layers': best_depth, 'depths_tried': sorted(by_depth),
            'val_mean': vm, 'val_std': vs, 'test_mean': tm, 'test_std': ts,
            'n': len(runs), 'splits': list(splits)[:len(runs)],
            'seeds': seeds[:len(runs)], 'runs': runs,
            'protocol': protos[model_name],
            'all_depths': {d: mean_std([100 * r['test'] for r in rs])
                           for d, rs in by_depth.items()},
        }
    return summary


# --- grid of cells on Ray (--engine ray) or resumable (--cells-json) ---------

def _ray_device(arg: str) -> torch.device:
    """The training device of ``--engine ray`` cells: the CPU (tasks hold
    CPU slots only).

    Raises:
        ValueError: ``--device cuda`` with ``--engine ray``.
    """
    if arg not in ('auto', 'cpu'):
        raise ValueError(f'--device {arg}: --engine ray trains every cell on '
                         "a worker's CPU; use --device cpu (or auto) or "
                         '--engine local')
    return torch.device('cpu')


def _grid_options(args: argparse.Namespace, device: torch.device
                  ) -> dict[str, Any] | None:
    """:func:`~pyg_ext.distributed.run_grid` keywords when the cells run as
    a grid (``--engine ray`` or ``--cells-json``), else ``None`` (the plain
    :func:`run_models` loop).

    Raises:
        ValueError: ``--address`` without ``--engine ray``, or an option the
            grid cannot honour (``--time-budget``, ``--history``).
    """
    opts = engine_options(args)
    if opts['engine'] == 'local' and opts['json_path'] is None:
        return None
    how = ('--engine ray' if opts['engine'] == 'ray' else '--cells-json')
    for option, dest in (('--time-budget', 'time_budget'),
                         ('--history', 'history')):
        if getattr(args, dest, None) is not None:
            raise ValueError(f'{option} is not supported with {how} (cells '
                             'run as independent tasks); drop it or use '
                             '--engine local without --cells-json')
    return opts


def cell_protocol(proto: dict[str, Any], heads: int, amp: bool,
                  metric: str, device: torch.device,
                  model_name: str) -> str:
    """Hash of everything besides (model, depth, split, seed) that decides
    a cell's scores, the model's code included (:func:`model_code_version`):
    a grid file of another protocol or of older model code is never
    reused."""
    return protocol_hash({
        'code': model_code_version(model_name),
        'hidden': proto['hidden'], 'lr': proto['lr'],
        'steps': proto['steps'], 'dropout': proto['dropout'],
        'weight_decay': proto['weight_decay'],
        'optimizer': proto['optimizer'], 'patience': proto['patience'],
        'heads': heads, 'amp': amp, 'metric': metric,
        'device': device.type, 'self_loop_mode': SELF_LOOP_MODE,
        'gcn_degree': GCN_DEGREE, 'format': CHECKPOINT_FORMAT})


def _grid_cell(ctx: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    """One grid cell (on a Ray worker or here): :func:`run_cell` of the
    cell's (model, depth, split, seed) with its model's protocol."""
    p = ctx['protocols'][cell['model']]
    return run_cell(ctx['data'], ctx['dataset'], ctx['metric'],
                    cell['model'], cell['layers'], cell['split'],
                    seed=cell['seed'], hidden=p['hidden'],
                    heads=ctx['heads'], dropout=p['dropout'], lr=p['lr'],
                    steps=p['steps'], device=ctx['device'], amp=ctx['amp'],
                    weight_decay=p['weight_decay'],
                    optimizer=p['optimizer'], patience=p['patience'],
                    checkpoint_dir=ctx['checkpoint'],
                    checkpoint_every=ctx['checkpoint_every'],
                    checkpoint_seconds=ctx['checkpoint_seconds'],
                    log_every=ctx['log_every'])


def run_models_grid(data: Any, name: str, metric: str, models: list[str],
                    splits: list[int], seeds: list[int],
                    protos: dict[str, dict[str, Any]],
                    args: argparse.Namespace, device: torch.device,
                    grid: dict[str, Any]) -> dict[str, Any]:
    """:func:`run_models` with every (model, depth, split, seed) cell a
    task of :func:`~pyg_ext.distributed.run_grid` (``grid``: its engine /
    address / json_path keywords): Ray tasks with retries (``--engine
    ray``, one thread per worker), finished cells streamed into
    ``--cells-json`` and skipped when the same command runs again. Returns
    the same dict as :func:`run_models` (same scores as the local run on
    CPU); ``seconds`` is this run's wall time.

    Raises:
        RuntimeError: a cell still failing after its retries (the finished
            cells are in ``--cells-json``).
        ValueError: a ``--cells-json`` file that is not a grid file.
    """
    from pyg_ext.distributed import run_grid
    t_start = time.perf_counter()
    all_depths = sorted({d for p in protos.values() for d in p['depths']})
    order = [(m, d) for d in all_depths for m in models
             if d in protos[m]['depths']]
    hashes = {m: cell_protocol(protos[m], args.heads, args.amp, metric,
                               device, m) for m in models}
    cells = [{'dataset': name, 'model': m, 'layers': d, 'split': s,
              'seed': seed, 'protocol': hashes[m]}
             for m, d in order for s, seed in zip(splits, seeds)]
    ctx = {'data': data, 'dataset': name, 'metric': metric,
           'protocols': protos, 'heads': args.heads, 'amp': args.amp,
           'device': str(device), 'checkpoint': args.checkpoint,
           'checkpoint_every': args.checkpoint_every,
           'checkpoint_seconds': args.checkpoint_seconds,
           'log_every': float(getattr(args, 'log_every', 60.0))}
    where = ('Ray' if grid['engine'] == 'ray' else 'this process')
    print(f'{len(cells)} cells on {where}'
          + (f", finished cells in {grid['json_path']}"
             if grid['json_path'] else ''), flush=True)

    def report(cell: dict[str, Any], r: dict[str, Any]) -> None:
        print(f"  {cell['model']} L={cell['layers']} split {cell['split']}: "
              f"val {100 * r['val']:.2f} test {100 * r['test']:.2f} (step "
              f"{r['best_step']}, {r['seconds']:.1f} s)", flush=True)

    out = run_grid(cells, functools.partial(_grid_cell, ctx),
                   on_result=report, **grid)
    results: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for cell, r in zip(cells, out):
        results.setdefault(cell['model'], {}).setdefault(
            cell['layers'], []).append(r)
    return {'summary': summarize_runs(results, protos, splits, seeds),
            'stopped_early': False,
            'seconds': time.perf_counter() - t_start}


class StepReporter:
    """Progress of one training run, called after every step with
    ``(steps_done, hist)`` (``hist``: the ``[steps, 2]`` validation/test
    history on the training device).

    With ``bar`` a tqdm bar over the steps (validation and best score in its
    postfix, refreshed every 20 steps); otherwise a line on stdout at most
    every ``every`` seconds (``0``: never): step, validation score, best so
    far (and its step), seconds per step (over the steps run since the
    start or the last resume). Scores are read from the device only when
    shown. A resumed run calls :meth:`resume` first, which prints where it
    continues.
    """

    def __init__(self, label: str, steps: int, every: float = 60.0,
                 bar: bool = False) -> None:
        self.label, self.steps, self.every = label, steps, float(every)
        self.t0 = self.last = time.perf_counter()
        self.start = 0
        self.bar = None
        if bar:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=steps, desc=label, unit='step',
                            leave=False)

    def _scores(self, done: int, hist: torch.Tensor
                ) -> tuple[float, float, int]:
        val = hist[:done, 0].detach().cpu()
        best = int(torch.argmax(val))
        return float(val[done - 1]), float(val[best]), best + 1

    def resume(self, done: int, hist: torch.Tensor) -> None:
        """The run continues after step ``done`` (from a checkpoint)."""
        self.start = done
        self.t0 = self.last = time.perf_counter()
        if self.bar is not None:
            self.bar.update(done)
            return
        if done > 0:
            val, best, at = self._scores(done, hist)
            print(f'  {self.label}: resumed at step {done}/{self.steps}, '
                  f'val {100 * val:.2f}, best {100 * best:.2f} (step {at})',
                  flush=True)

    def __call__(self, done: int, hist: torch.Tensor) -> None:
        """Report step ``done`` (1-based)."""
        if self.bar is not None:
            self.bar.update(1)
            if done % 20 == 0 or done == self.steps:
                val, best, _ = self._scores(done, hist)
                self.bar.set_postfix(val=f'{100 * val:.2f}',
                                     best=f'{100 * best:.2f}', refresh=False)
            return
        now = time.perf_counter()
        if self.every <= 0 or now - self.last < self.every:
            return
        self.last = now
        val, best, at = self._scores(done, hist)
        per_step = (now - self.t0) / max(done - self.start, 1)
        print(f'  {self.label}: step {done}/{self.steps}, val '
              f'{100 * val:.2f}, best {100 * best:.2f} (step {at}), '
              f'{per_step:.3f} s/step', flush=True)

    def close(self) -> None:
        """Close the bar (if any)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _history_writer(path: str, curves: dict[str, Any], name: str,
                    model_name: str, depth: int, split: int,
                    steps: int) -> Any:
    """A ``train_one`` callback that rewrites ``path`` (JSON) with every
    run's (validation, test) curve so far and its best-validation step, so
    an interrupted CPU run keeps what it computed."""
    import json

    key = f'{model_name}/L{depth}/split{split}'
    t0 = time.perf_counter()

    def write(done: int, hist: torch.Tensor) -> None:
        best = int(torch.argmax(hist[:, 0]))
        curves[key] = {
            'dataset': name, 'model': model_name, 'layers': depth,
            'split': split, 'steps_done': done, 'steps': steps,
            'best_step': best + 1, 'val': float(hist[best, 0]),
            'test': float(hist[best, 1]),
            'seconds': time.perf_counter() - t0,
            'history': hist.tolist()}
        tmp = f'{path}.tmp'
        with open(tmp, 'w') as f:
            json.dump(curves, f)
        import os
        os.replace(tmp, path)

    return write


# --- characterisation --------------------------------------------------------

def handbook_category(scores: dict[str, float],
                      agnostic: str = 'resnet') -> str:
    """The Heterophilic Graph Learning Handbook's category from mean scores:
    ``'benign'`` when every GNN beats the graph-agnostic model,
    ``'malignant'`` when every GNN is below it, ``'ambiguous'`` otherwise
    (our operational reading of Luan et al., 2024; their study compares
    tuned GNNs with their graph-agnostic counterparts)."""
    if agnostic not in scores or len(scores) < 2:
        return 'unknown'
    base = scores[agnostic]
    others = [v for k, v in scores.items() if k != agnostic]
    if all(v > base for v in others):
        return 'benign'
    if all(v < base for v in others):
        return 'malignant'
    return 'ambiguous'


def characterize(data: Any, name: str, directed: bool) -> dict[str, Any]:
    """All homophily measures and the compatibility matrix of ``data``."""
    from pyg_ext.metrics.homophily import compatibility_matrix, homophily_report
    report = homophily_report(data.edge_index, data.y)
    h = compatibility_matrix(data.edge_index, data.y)
    return {'measures': report, 'compatibility': h.tolist(),
            'directed': directed, 'num_nodes': int(data.num_nodes),
            'num_arcs': int(data.edge_index.size(1)),
            'num_classes': int(data.y.max()) + 1}


# --- entry point --------------------------------------------------------------

def _device(arg: str) -> torch.device:
    if arg == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    dev = torch.device(arg)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError('--device cuda but no CUDA device is available')
    return dev


def fmt_score(mean: float, std: float, n: int) -> str:
    """``'mean ± std'``, or ``'mean (n=1)'`` for a single run (whose std
    is not a measurement)."""
    if n == 1:
        return f'{mean:.2f} (n=1)'
    return f'{mean:.2f} ± {std:.2f}'


def run_seeds(args: argparse.Namespace, splits: list[int]) -> list[int]:
    """The seed of the run on each split: the split id, or ``--seeds`` (one
    per split) when it was given.

    Raises:
        ValueError: ``--seeds`` given with another count than the splits.
    """
    if not getattr(args, 'seeds_given', False):
        return list(splits)
    seeds = [int(s) for s in args.seeds]
    if len(seeds) != len(splits):
        raise ValueError(
            f'--seeds: this suite runs once per split, so give one seed per '
            f'split ({len(splits)} split(s): {splits}), got {len(seeds)} '
            f'({seeds}; one seed alone is written --seeds 7, as a bare '
            f'number is a count); without --seeds the run on split i uses '
            f'seed i')
    return seeds


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the suite (see the module docstring)."""
    preset = QUICK if args.quick else FULL
    if not args.model and not args.characterize:
        raise ValueError('--model is required (or use --characterize)')
    models = canonical_models(args.model) if args.model else []
    protos = {m: model_protocol(m, args, preset) for m in models}
    for m, p in protos.items():
        if m in ('gat', 'gat-sep', 'gt', 'gt-sep') and p['hidden'] % args.heads:
            raise ValueError(f"--hidden {p['hidden']} must be a multiple of "
                             f'--heads {args.heads}')
    data, name, metric = load_graph(args.dataset, args.root)
    label = dataset_label(name)
    directed = name.endswith('_directed')
    out: dict[str, Any] = {'dataset': name, 'dataset_label': label,
                           'metric': metric}
    pub_table = PUBLISHED.get(name, {})

    if args.characterize:
        info = characterize(data, name, directed)
        out['characterize'] = info
        print(f'{label}: {info["num_nodes"]} nodes, {info["num_arcs"]} arcs '
              f'({"directed" if directed else "undirected, both directions"}),'
              f' {info["num_classes"]} classes')
        rows = [{'measure': k, 'value': f'{v:.4f}'}
                for k, v in info['measures'].items()]
        print(format_table(rows))
        c = info['num_classes']
        if c <= 20:
            print('class compatibility H[node class, neighbour class]:')
            for i, row in enumerate(info['compatibility']):
                print(f'  {i:>2}: ' + ' '.join(f'{v:.2f}' for v in row))
        from pyg_ext.nn.models.heterophily import MODELS
        base_pub = {m: v[0] for m, v in pub_table.items() if m in MODELS}
        if 'resnet' in base_pub and len(base_pub) > 1:
            cat = handbook_category(base_pub)
            src = 'Platonov et al. 2023, Table 4'
        else:
            cat, src = 'unknown', 'no published baselines; run models'
        out['handbook_category'] = {'category': cat, 'source': src}
        if not models:
            print(f'Handbook category: {cat} ({src})')
            return out

    splits = split_ids(args.splits or preset['splits'],
                       int(data.train_mask.size(1)))
    seeds = run_seeds(args, splits)
    if engine_options(args)['engine'] == 'ray':
        device = _ray_device(args.device)
    else:
        device = _device(args.device)
    if args.tf32 and device.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    mode = 'quick' if args.quick else 'full'
    depths = sorted({d for p in protos.values() for d in p['depths']})
    first = protos[models[0]]
    print(f'{label} ({metric}), {mode} protocol: hidden {first["hidden"]}, '
          f'{first["steps"]} steps, lr {first["lr"]:g}, layers {depths}, '
          f'splits {splits}, seeds {seeds}, device {device}'
          f'{", amp" if args.amp else ""}', flush=True)
    for m in models:
        if protos[m] != first or protos[m]['optimizer'] != 'adamw' or \
                protos[m]['patience'] is not None:
            p = protos[m]
            stop = (f', patience {p["patience"]}' if p['patience'] is not None
                    else '')
            print(f'  {m}: hidden {p["hidden"]}, {p["steps"]} steps{stop}, '
                  f'{p["optimizer"]} lr {p["lr"]:g}, dropout '
                  f'{p["dropout"]:g}, weight decay {p["weight_decay"]:g}, '
                  f'layers {p["depths"]}', flush=True)
    if args.checkpoint:
        print(f'checkpoints and finished runs: {args.checkpoint}/{name}/',
              flush=True)
    grid = _grid_options(args, device)
    if grid is not None:
        res = run_models_grid(data, name, metric, models, splits, seeds,
                              protos, args, device, grid)
    else:
        res = run_models(data, name, metric, models, depths, splits,
                         hidden=first['hidden'], heads=args.heads,
                         dropout=first['dropout'], lr=first['lr'],
                         steps=first['steps'], device=device,
                         budget=args.time_budget, progress=args.progress,
                         amp=args.amp, history=args.history,
                         log_every=getattr(args, 'log_every', 60.0),
                         bar=bool(args.progress and sys.stderr.isatty()),
                         seeds=seeds, protocols=protos,
                         checkpoint_dir=args.checkpoint,
                         checkpoint_every=args.checkpoint_every,
                         checkpoint_seconds=args.checkpoint_seconds)
    rows = []
    starred = False
    for m, s in res['summary'].items():
        pub = published(name, m)
        row = {'model': m, 'layers': s['layers'],
               'val': fmt_score(s['val_mean'], s['val_std'], s['n']),
               'test': fmt_score(s['test_mean'], s['test_std'], s['n']),
               'published': f'{pub[0]:.2f} ± {pub[1]:.2f}' if pub else '-'}
        if not args.quick:
            mark = '*' if pub and unchecked(name, m) else ''
            starred = starred or bool(mark)
            row['Δ/σ_pub'] = (f"{(s['test_mean'] - pub[0]) / pub[1]:+.1f}"
                              f'{mark}' if pub else '-')
        rows.append(row)
    what = 'ROC-AUC' if metric == 'roc_auc' else 'accuracy'
    n = len(splits)
    print(f'test {what} (%), ' + (
        f'mean ± std over {n} splits' if n > 1 else 'one split') +
        f', best-validation step; published: {CITATION}')
    print(format_table(rows))
    if args.quick:
        print('(--quick: no Δ/σ_pub column; 64 channels and 80 steps on one '
              "split are not the paper's protocol, so the distance to its "
              'numbers would mean nothing)')
    if starred:
        print('(* published cell transcribed from the paper, not re-checked '
              'in a stored copy; see pyg_ext/bench/_heterophily_published.py)')
    if res['stopped_early']:
        print('(time budget reached: not every model/depth ran)')
    out.update(res)
    out['protocol'] = {'mode': mode, 'models': protos, 'splits': splits,
                       'seeds': seeds, 'heads': args.heads, 'amp': args.amp,
                       'device': str(device),
                       'self_loop_mode': SELF_LOOP_MODE,
                       'gcn_degree': GCN_DEGREE,
                       'checkpoint': args.checkpoint}
    if args.characterize:
        scores = {m: s['test_mean'] for m, s in res['summary'].items()}
        if out['handbook_category']['category'] == 'unknown' and \
                'resnet' in scores:
            cat = handbook_category(scores)
            out['handbook_category'] = {'category': cat,
                                        'source': 'models run here'}
        hc = out['handbook_category']
        print(f"Handbook category: {hc['category']} ({hc['source']})")
    if any(math.isnan(s['test_mean']) for s in res['summary'].values()):
        print('warning: some scores are nan')
    return out
