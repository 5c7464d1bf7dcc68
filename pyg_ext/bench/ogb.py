"""OGB graph property prediction (ogbg-mol*): OGB's GIN / GIN-virtual
protocol, GraphGPS and GIN with spectral PEs.

``--protocol ogb`` (the default) trains with the settings of OGB's example
(``snap-stanford/ogb``, ``examples/graphproppred/mol/main_pyg.py``: 5
layers, 300 hidden, dropout 0.5, batch 32, 100 epochs, Adam 1e-3, JK
'last', mean pooling, 10 seeds) and reports the official Evaluator's test
and validation score at the best-validation epoch (mean ± std over seeds) in
the leaderboard's columns. ``--quick`` keeps the small smoke settings (3x64
GIN, 20 epochs, 3 seeds). With ``--json`` every finished (model, PE, seed)
cell is written at once and a re-run with the same file skips it (resume).
``--engine ray [--address A]`` trains the cells as Ray tasks (retried, one
thread per worker; same cells, same ``--json`` streaming and resume).
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import json
import logging
import math
import os
import shlex
import time
from typing import Any

import torch

from pyg_ext.bench._common import (
    add_engine_arguments,
    choice_list,
    dataset_errors,
    device_arg,
    dropout_rate,
    engine_options,
    environment,
    fmt_mean_std,
    format_table,
    mean_std,
    positive_float,
    positive_int,
    write_json,
)

logger = logging.getLogger(__name__)

PES = ('none', 'lap', 'signnet', 'basisnet', 'spe')
MODELS = ('gin', 'gin-virtual', 'gine', 'gps')
PROTOCOLS = ('ogb', 'quick')

#: OGB's example settings (examples/graphproppred/mol/main_pyg.py, gnn.py
#: and conv.py of snap-stanford/ogb) for GIN and GIN-virtual.
OGB_PROTOCOL: dict[str, Any] = {
    'num_layers': 5, 'hidden': 300, 'dropout': 0.5, 'batch_size': 32,
    'epochs': 100, 'lr': 1e-3, 'optimizer': 'adam', 'weight_decay': 0.0,
    'jk': 'last', 'pool': 'mean', 'residual': False, 'seeds': 10,
}
#: GraphGPS' molecule configuration (rampasek/GraphGPS,
#: configs/GPS/ogbg-molhiv-GPS.yaml), run with PyG's GPSConv; the local
#: model is GINE (GraphGPS' ZINC configs) instead of GatedGCN.
GPS_PROTOCOL: dict[str, Any] = {
    'num_layers': 10, 'hidden': 64, 'heads': 4, 'dropout': 0.05,
    'attn_dropout': 0.5, 'head_layers': 3, 'batch_size': 32, 'epochs': 100,
    'lr': 1e-4, 'optimizer': 'adamw', 'weight_decay': 1e-5,
    'scheduler': 'cosine_with_warmup', 'warmup_epochs': 5,
    'clip_grad_norm': 1.0, 'pool': 'mean', 'seeds': 10,
}
#: The PEs under ``--protocol ogb``: eigenpairs (``k``, Laplacian
#: normalisation), encoder output size (``pe_channels``, concatenated to the
#: atom embedding) and encoder keywords. ``lap`` and ``signnet``: GraphGPS
#: (ogbg-molhiv-GPS.yaml LapPE DeepSet; zinc-GPS+SNMLP.yaml SignNet with a
#: GIN phi and an MLP rho; combinatorial Laplacian, ``laplacian_norm:
#: none``); ``spe``: the SPE paper's molecule config (Graph-COM/SPE,
#: configs/drugood/scaffold/SPE_gine_gin_mlp_pe32_standard.yaml: 32 pairs of
#: the symmetric normalised Laplacian, 16 phis of 3 layers x 16, a 3-layer
#: GIN rho of width 64), with the authors' modules (``preset='reference'``).
PE_PROTOCOL: dict[str, dict[str, Any]] = {
    'lap': {'k': 8, 'normalization': 'none', 'pe_channels': 8,
            'encoder': {'num_layers': 2}},
    'signnet': {'k': 8, 'normalization': 'none', 'pe_channels': 8,
                'encoder': {'hidden_channels': 64, 'phi_out_channels': 4,
                            'phi_layers': 8, 'rho_layers': 2, 'phi': 'gin',
                            'rho': 'mlp', 'preset': 'reference'}},
    'spe': {'k': 32, 'normalization': 'sym', 'pe_channels': 32,
            'encoder': {'num_phis': 16, 'phi_hidden_channels': 16,
                        'phi_layers': 3, 'hidden_channels': 64,
                        'rho_layers': 3, 'preset': 'reference'}},
}
#: ``--quick`` defaults (the smoke settings).
QUICK_PROTOCOL: dict[str, Any] = {
    'num_layers': 3, 'hidden': 64, 'dropout': 0.2, 'batch_size': 32,
    'epochs': 20, 'lr': 1e-3, 'optimizer': 'adam', 'weight_decay': 0.0,
    'pool': 'mean', 'seeds': 3,
}

#: Published results on OGB's scaffold splits with OGB's settings (test,
#: validation, #params, hardware, source: the leaderboard at
#: https://ogb.stanford.edu/docs/leader_graphprop/, 10 seeds); see
#: docs/pe.md for the datasets without one.
ANCHORS: dict[tuple[str, str, str], dict[str, Any]] = {
    ('ogbg-molhiv', 'gin', 'none'): {
        'test': (0.7558, 0.0140), 'valid': (0.8232, 0.0090),
        'params': 1885206,
        'hardware': 'GeForce RTX 2080 (11GB GPU)',
        'source': 'OGB leaderboard ogbg-molhiv (OGB team, May 1, 2020)'},
    ('ogbg-molhiv', 'gin-virtual', 'none'): {
        'test': (0.7707, 0.0149), 'valid': (0.8479, 0.0068),
        'params': 3336306,
        'hardware': 'GeForce RTX 2080 (11GB GPU)',
        'source': 'OGB leaderboard ogbg-molhiv (OGB team, May 1, 2020)'},
    ('ogbg-molpcba', 'gin', 'none'): {
        'test': (0.2266, 0.0028), 'valid': (0.2305, 0.0027),
        'params': 1923433,
        'hardware': 'GeForce RTX 2080 (11GB GPU)',
        'source': 'OGB leaderboard ogbg-molpcba (OGB team, Aug 11, 2020)'},
    ('ogbg-molpcba', 'gin-virtual', 'none'): {
        'test': (0.2703, 0.0023), 'valid': (0.2798, 0.0025),
        'params': 3374533,
        'hardware': 'GeForce RTX 2080 (11GB GPU)',
        'source': 'OGB leaderboard ogbg-molpcba (OGB team, Aug 11, 2020)'},
}

#: Encoder sizes used by the runner (small: it must run on a CPU).
ENCODER_KWARGS: dict[str, dict[str, Any]] = {
    'lap': {'hidden_channels': 64},
    'signnet': {'hidden_channels': 32, 'phi': 'gin', 'phi_layers': 2},
    'basisnet': {'hidden_channels': 16, 'ign_channels': 4},
    'spe': {'num_phis': 4, 'hidden_channels': 16, 'rho_layers': 2},
}
#: Encoders that ``--preset`` applies to, with their kwargs under a
#: non-default preset (``preset`` is added). Same sizes as
#: ``pyg_ext.bench.csl.PRESET_KWARGS``: BasisNet's reference IGN has no
#: ``ign_channels`` (an eigenspace of multiplicity d gives d features).
PRESETS = ('pyg_ext', 'reference')
PRESET_KWARGS: dict[str, dict[str, Any]] = {
    'signnet': {'hidden_channels': 32, 'phi': 'gin', 'phi_layers': 2},
    'basisnet': {'hidden_channels': 32, 'rho_layers': 1},
    'spe': {'num_phis': 4, 'hidden_channels': 16, 'rho_layers': 2},
}

#: Suite defaults of the common options (``--seeds``: 10 under the OGB
#: protocol, 3 with ``--quick``; see :func:`default_seeds`).
COMMON_DEFAULTS: dict[str, Any] = {'seeds': None}
COMMON_HELP: dict[str, str] = {
    'seeds': "number of seeds (0..N-1) or a list like '0,3,7' (default: 10 "
             'under --protocol ogb, 3 with --quick)'}


def pairs_type(text: str) -> list[tuple[str, str]]:
    """``type=`` of ``--pairs``: comma-separated ``model+pe`` items.

    Raises:
        argparse.ArgumentTypeError: an empty list, an item without ``+``,
            an unknown model or PE.
    """
    out = []
    for item in [t.strip().lower() for t in str(text).split(',')
                 if t.strip()]:
        model, sep, pe = item.partition('+')
        if not sep or model not in MODELS or pe not in PES:
            raise argparse.ArgumentTypeError(
                f"expected model+pe items (models {', '.join(MODELS)}; PEs "
                f"{', '.join(PES)}), got {item!r}")
        if (model, pe) not in out:
            out.append((model, pe))
    if not out:
        raise argparse.ArgumentTypeError(
            f'expected comma-separated model+pe items, got {text!r}')
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--dataset', default='ogbg-molbace',
                        help='an ogbg-mol* dataset (default: ogbg-molbace)')
    parser.add_argument('--protocol', choices=PROTOCOLS, default=None,
                        help="'ogb': OGB's example settings (5x300 GIN, "
                        "dropout 0.5, 100 epochs, 10 seeds); 'quick': the "
                        "smoke settings (default: 'ogb', 'quick' with "
                        '--quick)')
    parser.add_argument('--quick', action='store_true',
                        help='small settings: 3x64 GIN, 20 epochs, 3 seeds '
                        '(--protocol quick)')
    parser.add_argument('--model', default=None,
                        type=choice_list(MODELS, what='--model'),
                        help="comma-separated of 'gin', 'gin-virtual', "
                        "'gine', 'gps' (default: 'gin,gin-virtual' under "
                        "the OGB protocol, 'gin' with --quick); OGB's GIN "
                        "already uses bond features, so 'gine' is for "
                        '--quick')
    parser.add_argument('--pairs', default=None, type=pairs_type,
                        help="explicit model+PE cells instead of every "
                        "--model x --pe, e.g. 'gin+none,gin+spe,gps+lap' "
                        '(default: none)')
    parser.add_argument('--pe', default='none',
                        type=choice_list(PES, what='--pe'),
                        help="'none', 'lap', 'signnet', 'basisnet', 'spe', or "
                        "a comma-separated list (e.g. 'none,spe'); "
                        "basisnet only with --quick")
    parser.add_argument('--k', type=positive_int, default=8,
                        help='eigenpairs (--quick; the OGB protocol uses '
                        'PE_PROTOCOL)')
    parser.add_argument('--normalization', default='sym',
                        choices=('sym', 'rw', 'none'),
                        help='Laplacian normalisation of the eigenpairs '
                        '(--quick)')
    parser.add_argument('--epochs', type=positive_int, default=None,
                        help='training epochs per seed (default: 100, '
                        '20 with --quick)')
    parser.add_argument('--hidden', type=positive_int, default=None,
                        help='hidden channels (default: 300, GPS 64; 64 '
                        'with --quick)')
    parser.add_argument('--layers', type=positive_int, default=None,
                        help='GNN layers (default: 5, GPS 10; 3 with '
                        '--quick)')
    parser.add_argument('--batch-size', type=positive_int, default=None,
                        help='graphs per batch (default: 32)')
    parser.add_argument('--lr', type=positive_float, default=None,
                        help='learning rate (default: 1e-3 Adam, GPS 1e-4 '
                        'AdamW)')
    parser.add_argument('--dropout', type=dropout_rate, default=None,
                        help='dropout probability (default: 0.5, GPS 0.05; '
                        '0.2 with --quick)')
    parser.add_argument('--device', default='cpu', type=device_arg,
                        help="'cpu', 'cuda[:i]' or 'auto'")
    parser.add_argument('--max-graphs', type=positive_int, default=None,
                        help='use a fixed random N graphs of each split '
                        '(smoke tests; default: all)')
    parser.add_argument('--preset', choices=PRESETS, default='pyg_ext',
                        help='preset of the encoders in PRESET_KWARGS '
                        "(SignNet, BasisNet, SPE; --quick; default: pyg_ext; "
                        "'reference' = the authors' architectures, see "
                        'docs/pe.md)')
    add_engine_arguments(parser)


def default_seeds(protocol: str) -> list[int]:
    """Seeds 0..N-1 of a protocol (10 for ``'ogb'``, 3 for ``'quick'``)."""
    table = OGB_PROTOCOL if protocol == 'ogb' else QUICK_PROTOCOL
    return list(range(table['seeds']))


def cell_config(model: str, pe: str, protocol: str,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full, JSON-serialisable configuration of one (model, PE) cell:
    the protocol's settings, the PE's and any ``overrides`` (``epochs``,
    ``hidden``, ``num_layers``, ``batch_size``, ``lr``, ``dropout``,
    ``max_graphs``, and under ``'quick'`` ``k``, ``normalization``,
    ``preset``; ``None`` values are ignored).

    Raises:
        ValueError: an unknown model, PE or protocol, or a combination the
            protocol does not define (``'gine'`` or ``'basisnet'`` under
            ``'ogb'``).
    """
    from pyg_ext.utils.validation import check_choice
    check_choice(protocol, 'protocol', PROTOCOLS)
    check_choice(model, 'model', MODELS)
    check_choice(pe, 'pe', PES)
    over = {k: v for k, v in (overrides or {}).items() if v is not None}
    if protocol == 'quick':
        cfg = {k: v for k, v in QUICK_PROTOCOL.items() if k != 'seeds'}
        cfg.update({'k': 8, 'normalization': 'sym', 'preset': 'pyg_ext'})
    else:
        if model == 'gine':
            raise ValueError("--model gine: OGB's GIN already uses bond "
                             "features (GINE messages); use 'gin', or "
                             "'gine' with --quick")
        if pe == 'basisnet':
            raise ValueError('--pe basisnet is only available with --quick '
                             '(no published molecule configuration here)')
        base = GPS_PROTOCOL if model == 'gps' else OGB_PROTOCOL
        cfg = {k: v for k, v in base.items() if k != 'seeds'}
        if pe != 'none':
            spec = PE_PROTOCOL[pe]
            cfg.update({'k': spec['k'],
                        'normalization': spec['normalization'],
                        'pe_channels': spec['pe_channels'],
                        'pe_encoder': copy.deepcopy(spec['encoder'])})
        over = {k: v for k, v in over.items()
                if k not in ('k', 'normalization', 'preset')}
    cfg.update(over)
    if cfg.get('pe_channels', 0) >= cfg['hidden']:
        # a --hidden below the PE size (smoke runs): a quarter of the width
        cfg['pe_channels'] = max(1, cfg['hidden'] // 4)
        logger.warning('%s: --hidden %d leaves no room for the %s PE; it '
                       'gets %d channels', model, cfg['hidden'], pe,
                       cfg['pe_channels'])
    cfg.update({'protocol': protocol, 'model': model, 'pe': pe})
    return cfg


def build_protocol_model(cfg: dict[str, Any], num_tasks: int
                         ) -> torch.nn.Module:
    """The model of a ``--protocol ogb`` cell (see :func:`cell_config`)."""
    from pyg_ext.nn.models.ogb import GPSMol, LapPEDeepSet, OGBMolGNN
    from pyg_ext.nn.pe import build_pe_encoder
    pe, enc = cfg['pe'], None
    if pe == 'lap':
        enc = LapPEDeepSet(cfg['k'], cfg['pe_channels'],
                           **cfg['pe_encoder'])
    elif pe != 'none':
        enc = build_pe_encoder(pe, cfg['k'], cfg['pe_channels'],
                               **cfg['pe_encoder'])
    if cfg['model'] == 'gps':
        return GPSMol(num_tasks, num_layers=cfg['num_layers'],
                      hidden_channels=cfg['hidden'], heads=cfg['heads'],
                      dropout=cfg['dropout'],
                      attn_dropout=cfg['attn_dropout'],
                      head_layers=cfg['head_layers'], pe_encoder=enc)
    return OGBMolGNN(num_tasks, num_layers=cfg['num_layers'],
                     hidden_channels=cfg['hidden'], dropout=cfg['dropout'],
                     virtual_node=cfg['model'] == 'gin-virtual',
                     pool=cfg['pool'], pe_encoder=enc)


def build_model(pe: str, args: argparse.Namespace, num_tasks: int
                ) -> torch.nn.Module:
    """GIN/GINE with OGB's atom/bond encoders and the chosen PE;
    ``args.preset`` (default ``'pyg_ext'``) goes to the encoders in
    :data:`PRESET_KWARGS`.

    Raises:
        ValueError: an unknown ``args.preset``.
    """
    from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder

    from pyg_ext.nn.pe import PEGNN, build_pe_encoder
    from pyg_ext.utils.validation import check_choice
    h = args.hidden
    preset = check_choice(getattr(args, 'preset', 'pyg_ext'), 'preset',
                          PRESETS)
    kwargs = dict(ENCODER_KWARGS.get(pe, {}))
    if preset != 'pyg_ext' and pe in PRESET_KWARGS:
        kwargs = {**PRESET_KWARGS[pe], 'preset': preset}
    enc = build_pe_encoder(pe, args.k, h, **kwargs)
    return PEGNN(AtomEncoder(h), h, num_tasks, num_layers=args.layers,
                 conv=args.model,
                 edge_encoder=BondEncoder(h) if args.model == 'gine' else None,
                 pe_encoder=enc, dropout=args.dropout, pool='mean')


def _loaders(dataset: Any, split: dict[str, torch.Tensor],
             args: argparse.Namespace) -> dict[str, Any]:
    from torch_geometric.loader import DataLoader
    out = {}
    for name in ('train', 'valid', 'test'):
        idx = split[name]
        if args.max_graphs:  # a fixed random subset (both classes present)
            gen = torch.Generator().manual_seed(0)
            idx = idx[torch.randperm(len(idx), generator=gen)]
            idx = idx[:args.max_graphs]
        out[name] = DataLoader(dataset[idx], batch_size=args.batch_size,
                               shuffle=name == 'train')
    return out


def train_one(pe: str, seed: int, dataset: Any, split: dict[str, Any],
              evaluator: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Train one seed; metrics at the epoch of best validation."""
    from pyg_ext.nn.pe import num_parameters
    from pyg_ext.testing import seed_all

    seed_all(seed)
    dev = torch.device(args.device)
    metric = evaluator.eval_metric
    is_reg = metric == 'rmse'
    higher = not is_reg
    model = build_model(pe, args, dataset.num_tasks).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loaders = _loaders(dataset, split, args)

    @torch.no_grad()
    def evaluate(loader: Any) -> float:
        model.eval()
        ys, ps = [], []
        for b in loader:
            b = b.to(dev)
            ps.append(model(b).cpu())
            ys.append(b.y.view(ps[-1].shape).cpu())
        res = evaluator.eval({'y_true': torch.cat(ys),
                              'y_pred': torch.cat(ps)})
        return float(res[metric])

    best = {'valid': -math.inf if higher else math.inf, 'test': math.nan,
            'train': math.nan, 'epoch': -1}
    t0 = time.perf_counter()
    skipped = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        for b in loaders['train']:
            if b.num_nodes < 2:
                # BatchNorm cannot train on one node (e.g. a last batch
                # holding one single-atom molecule, as in ogbg-molfreesolv)
                skipped += 1
                continue
            b = b.to(dev)
            out = model(b)
            y = b.y.view(out.shape).to(out.dtype)
            labelled = y == y  # NaN = missing label
            if is_reg:
                loss = torch.nn.functional.mse_loss(out[labelled],
                                                    y[labelled])
            else:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    out[labelled], y[labelled])
            opt.zero_grad()
            loss.backward()
            opt.step()
        valid = evaluate(loaders['valid'])
        if (valid > best['valid']) if higher else (valid < best['valid']):
            best = {'valid': valid, 'test': evaluate(loaders['test']),
                    'train': math.nan, 'epoch': epoch}
    if skipped:
        logger.warning('%s seed %d: skipped %d training batch(es) with a '
                       'single node (BatchNorm needs two)', pe, seed,
                       skipped)
    best['skipped_batches'] = skipped
    best['params'] = num_parameters(model)
    best['seconds'] = time.perf_counter() - t0
    return best



#: Datasets loaded in this process: (folder, name, eigen repr) ->
#: (dataset, split, precompute seconds).
_LOADED: dict[tuple[str, str, str], tuple[Any, Any, float]] = {}
_EIGEN_ATTRS = ('eigvecs', 'eigvals', 'eig_mask')


def _eigen_cache_path(dataset: Any, transform: Any) -> str:
    digest = hashlib.sha1(repr(transform).encode()).hexdigest()[:16]
    return os.path.join(dataset.processed_dir, f'pyg_ext_eigen_{digest}.pt')


def _add_eigen(dataset: Any, transform: Any, progress: bool) -> float:
    """:func:`precompute_eigen_pe` as a pre-transform cached on disk under
    the transform's ``repr`` (every hyperparameter); returns the seconds
    spent computing (0 when the cache was used)."""
    from pyg_ext.transforms import precompute_eigen_pe
    path = _eigen_cache_path(dataset, transform)
    if os.path.exists(path):
        try:
            stored = torch.load(path, weights_only=True)
            if stored.get('repr') == repr(transform) and int(
                    stored['num_graphs']) == len(dataset):
                for attr in _EIGEN_ATTRS:
                    dataset._data[attr] = stored['data'][attr]
                    dataset.slices[attr] = stored['slices'][attr]
                dataset._data_list = None
                return 0.0
        except (OSError, RuntimeError, KeyError, TypeError) as exc:
            logger.warning('ignoring the eigen cache %s (%s)', path, exc)
    t0 = time.perf_counter()
    precompute_eigen_pe(dataset, transform, progress_bar=progress)
    seconds = time.perf_counter() - t0
    print(f'{transform}: {len(dataset)} graphs in {seconds:.2f} s '
          f'({len(dataset) / max(seconds, 1e-9):,.0f} graphs/s)')
    try:
        tmp = f'{path}.{os.getpid()}.tmp'
        torch.save({'repr': repr(transform), 'num_graphs': len(dataset),
                    'data': {a: dataset._data[a] for a in _EIGEN_ATTRS},
                    'slices': {a: dataset.slices[a] for a in _EIGEN_ATTRS}},
                   tmp)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only root: compute again next time
        logger.warning('could not cache the eigenpairs in %s (%s)', path, exc)
    return seconds


def load_dataset(name: str, root: str | os.PathLike[str] | None,
                 k: int | None = None, normalization: str = 'sym',
                 progress: bool = False) -> tuple[Any, Any, float]:
    """``(dataset, split, precompute_seconds)`` of an ``ogbg-*`` dataset
    under ``root``/ogb, with ``k`` eigenpairs (``None``: none) added once per
    process and cached on disk.

    Raises:
        ValueError: not an ``ogbg-*`` dataset.
        DatasetMissingError: absent and the download failed (one line).
    """
    from pyg_ext.datasets.registry import get_spec
    from pyg_ext.transforms import AddEigenPE
    from pyg_ext.utils.data_root import resolve_root
    from pyg_ext.utils.ogb_compat import load_ogb_graphprop

    name = get_spec(name).name
    if not name.startswith('ogbg-'):
        raise ValueError(f'{name} is not an ogbg-* dataset')
    folder = resolve_root(root) / 'ogb'
    tr = (AddEigenPE(k, normalization=normalization, on_cut='ignore')
          if k is not None else None)
    key = (str(folder), name, repr(tr))
    if key not in _LOADED:
        with dataset_errors(name, folder,
                            created=folder / name.replace('-', '_')):
            os.makedirs(folder, exist_ok=True)
            dataset, split = load_ogb_graphprop(name, folder)
        seconds = _add_eigen(dataset, tr, progress) if tr is not None else 0.0
        _LOADED[key] = (dataset, split, seconds)
    return _LOADED[key]


def _subset(idx: torch.Tensor, max_graphs: int | None) -> torch.Tensor:
    if max_graphs:  # a fixed random subset
        gen = torch.Generator().manual_seed(0)
        idx = idx[torch.randperm(len(idx), generator=gen)][:max_graphs]
    return idx


def _cosine_with_warmup(warmup: int, total: int) -> Any:
    """GraphGPS' per-epoch ``cosine_with_warmup`` factor."""
    def factor(epoch: int) -> float:
        if epoch < warmup:
            return max(1e-6, epoch / max(1, warmup))
        progress = (epoch - warmup) / max(1, total - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
    return factor


def _train_protocol(cfg: dict[str, Any], seed: int, dataset: Any,
                    split: Any, evaluator: Any, device: str
                    ) -> dict[str, Any]:
    """One seed of a ``--protocol ogb`` cell, as OGB's ``main_pyg.py``:
    training skips a batch of one node or one graph; validation and test
    are evaluated after every epoch (batches of one node skipped) and the
    scores of the best-validation epoch (the first best) are kept."""
    from torch_geometric.loader import DataLoader

    from pyg_ext.nn.pe import num_parameters
    from pyg_ext.testing import seed_all

    seed_all(seed)
    dev = torch.device(device)
    metric = evaluator.eval_metric
    higher = metric != 'rmse'
    is_cls = 'classification' in dataset.task_type
    model = build_protocol_model(cfg, dataset.num_tasks).to(dev)
    if cfg['optimizer'] == 'adamw':
        opt: torch.optim.Optimizer = torch.optim.AdamW(
            model.parameters(), lr=cfg['lr'],
            weight_decay=cfg['weight_decay'])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg['lr'],
                               weight_decay=cfg['weight_decay'])
    sched = None
    if cfg.get('scheduler') == 'cosine_with_warmup':
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, _cosine_with_warmup(cfg['warmup_epochs'], cfg['epochs']))
    loaders = {
        part: DataLoader(dataset[_subset(split[part], cfg.get('max_graphs'))],
                         batch_size=cfg['batch_size'],
                         shuffle=part == 'train')
        for part in ('train', 'valid', 'test')}

    @torch.no_grad()
    def evaluate(loader: Any) -> float:
        model.eval()
        ys, ps = [], []
        for b in loader:
            if b.x.size(0) == 1:
                continue
            b = b.to(dev)
            ps.append(model(b).float().cpu())
            ys.append(b.y.view(ps[-1].shape).cpu())
        return float(evaluator.eval({'y_true': torch.cat(ys),
                                     'y_pred': torch.cat(ps)})[metric])

    valid_curve: list[float] = []
    test_curve: list[float] = []
    skipped = 0
    t0 = time.perf_counter()
    for _ in range(cfg['epochs']):
        model.train()
        for b in loaders['train']:
            if b.x.size(0) == 1 or int(b.batch[-1]) == 0:
                skipped += 1
                continue
            b = b.to(dev)
            out = model(b).float()
            y = b.y.view(out.shape).float()
            lab = y == y  # NaN = missing label
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(
                out[lab], y[lab]) if is_cls
                else torch.nn.functional.mse_loss(out[lab], y[lab]))
            opt.zero_grad()
            loss.backward()
            if cfg.get('clip_grad_norm'):
                torch.nn.utils.clip_grad_norm_(model.parameters(),
                                               cfg['clip_grad_norm'])
            opt.step()
        if sched is not None:
            sched.step()
        valid_curve.append(evaluate(loaders['valid']))
        test_curve.append(evaluate(loaders['test']))
    pick = max if higher else min
    best = valid_curve.index(pick(valid_curve))
    return {'valid': valid_curve[best], 'test': test_curve[best],
            'epoch': best + 1, 'params': num_parameters(model),
            'seconds': time.perf_counter() - t0, 'skipped_batches': skipped,
            'valid_curve': valid_curve, 'test_curve': test_curve}


def _quick_namespace(cfg: dict[str, Any], device: str) -> argparse.Namespace:
    return argparse.Namespace(
        model=cfg['model'], hidden=cfg['hidden'], layers=cfg['num_layers'],
        dropout=cfg['dropout'], lr=cfg['lr'], epochs=cfg['epochs'],
        batch_size=cfg['batch_size'], max_graphs=cfg.get('max_graphs'),
        k=cfg['k'], preset=cfg['preset'], device=device)


def _quick_new_model(pe: str, args: argparse.Namespace, num_tasks: int
                     ) -> torch.nn.Module:
    """GIN-virtual / GPS at the ``--quick`` sizes."""
    from pyg_ext.nn.models.ogb import GPSMol, OGBMolGNN
    from pyg_ext.nn.pe import build_pe_encoder
    h = args.hidden
    enc = build_pe_encoder(pe, args.k, max(1, h // 4),
                           **ENCODER_KWARGS.get(pe, {}))
    if args.model == 'gps':
        return GPSMol(num_tasks, num_layers=args.layers,
                      hidden_channels=h, heads=4 if h % 4 == 0 else 1,
                      dropout=args.dropout, pe_encoder=enc)
    return OGBMolGNN(num_tasks, num_layers=max(2, args.layers),
                     hidden_channels=h, dropout=args.dropout,
                     virtual_node=True, pe_encoder=enc)


def run_cell(dataset: str, model: str, pe: str, seed: int,
             config: dict[str, Any], root: str | None = None,
             device: str = 'cpu', progress: bool = False) -> dict[str, Any]:
    """Train and evaluate one (model, PE, seed) cell; the unit of work of
    the suite (self-contained: it loads the dataset, adds the eigenpairs
    from their cache, trains and returns a JSON-serialisable dict with
    ``valid``, ``test`` (at the best-validation epoch), ``epoch``,
    ``params``, ``seconds`` and the ``key`` that resume matches).

    Raises:
        ValueError: a ``config`` that does not match ``model`` / ``pe`` /
            the protocol, a non-``ogbg-*`` dataset.
        DatasetMissingError: the dataset is absent and cannot be downloaded.
    """
    from ogb.graphproppred import Evaluator

    from pyg_ext.utils.validation import check_int
    check_int(seed, 'seed', low=0)
    if config.get('model') != model or config.get('pe') != pe:
        raise ValueError(f'config is for model={config.get("model")!r}, '
                         f'pe={config.get("pe")!r}, not {model!r}, {pe!r}')
    protocol = config.get('protocol')
    needs_eigen = pe != 'none'
    ds, split, _ = load_dataset(
        dataset, root, k=config['k'] if needs_eigen else None,
        normalization=config.get('normalization', 'sym'), progress=progress)
    evaluator = Evaluator(ds.name if hasattr(ds, 'name') else dataset)
    if protocol == 'ogb':
        res = _train_protocol(config, seed, ds, split, evaluator, device)
    elif protocol == 'quick':
        args = _quick_namespace(config, device)
        if model in ('gin', 'gine'):
            res = train_one(pe, seed, ds, split, evaluator, args)
        else:
            global build_model
            legacy = build_model
            build_model = _quick_new_model  # type: ignore[assignment]
            try:
                res = train_one(pe, seed, ds, split, evaluator, args)
            finally:
                build_model = legacy
    else:
        raise ValueError(f'config has an unknown protocol {protocol!r}')
    res.update({'key': cell_key(dataset, config, seed), 'dataset': dataset,
                'model': model, 'pe': pe, 'seed': seed,
                'metric': evaluator.eval_metric,
                'hardware': _hardware(str(device))})
    return res


def _grid_cell(ctx: tuple[str, dict[str, dict[str, Any]], str],
               cell: dict[str, Any]) -> dict[str, Any]:
    """One ``--engine ray`` task: :func:`run_cell` on the worker's CPU."""
    name, configs, root = ctx
    return run_cell(name, cell['model'], cell['pe'], cell['seed'],
                    configs[f"{cell['model']}+{cell['pe']}"], root, 'cpu')


def _run_cells_grid(name: str, pairs: list[tuple[str, str]],
                    seeds: list[int],
                    configs: dict[tuple[str, str], dict[str, Any]],
                    done: dict[str, Any], result: dict[str, Any],
                    root: str | None, device: str, json_path: str | None,
                    grid: dict[str, Any], protocol: str, preset: str,
                    progress: bool) -> tuple[int, int]:
    """The cells not in ``done`` as Ray tasks (:func:`~pyg_ext.distributed.
    run_grid`, retried when they fail or their worker dies), each added to
    ``result['cells']`` and written to ``--json`` as it finishes, as the
    local loop does. The eigenpairs are computed (and cached on disk) here
    first, so that the workers read them. Returns ``(ran, skipped)``.

    Raises:
        ValueError: a CUDA ``--device`` (cells train on the workers' CPUs).
        RuntimeError: a cell still failing after its retries.
    """
    from pyg_ext.distributed import run_grid
    from pyg_ext.utils.data_root import resolve_root
    if device != 'cpu':
        raise ValueError(f'--device {device}: --engine ray trains every cell '
                         "on a worker's CPU; use --device cpu or --engine "
                         'local')
    for (_, p), cfg in configs.items():
        if p != 'none':
            load_dataset(name, root, k=cfg['k'],
                         normalization=cfg.get('normalization', 'sym'),
                         progress=progress)
    cells, skipped = [], 0
    for seed in seeds:
        for m, p in pairs:
            key = cell_key(name, configs[(m, p)], seed)
            if key in done:
                skipped += 1
            else:
                cells.append({'model': m, 'pe': p, 'seed': seed, 'key': key})
    print(f'{len(cells)} cell(s) on Ray ({skipped} finished before)',
          flush=True)
    ran = 0

    def finished(cell: dict[str, Any], res: dict[str, Any]) -> None:
        nonlocal ran
        ran += 1
        done[cell['key']] = res
        result['cells'].append(res)
        if progress or protocol == 'ogb':
            print(f"  {_label(cell['model'], cell['pe'], protocol, preset)} "
                  f"seed {cell['seed']}: valid {res['valid']:.4f} test "
                  f"{res['test']:.4f} (epoch {res['epoch']}, "
                  f"{res['seconds']:.0f} s)", flush=True)
        if json_path:
            _write_partial(json_path, [], result)

    ctx = (name, {f'{m}+{p}': c for (m, p), c in configs.items()},
           str(resolve_root(root)))
    run_grid(cells, functools.partial(_grid_cell, ctx), on_result=finished,
             **grid)
    return ran, skipped


def cell_key(dataset: str, config: dict[str, Any], seed: int) -> str:
    """What resume matches: the dataset, the seed and the whole config."""
    return json.dumps({'dataset': dataset, 'seed': seed, 'config': config},
                      sort_keys=True)


def _read_cells(path: str | None) -> list[dict[str, Any]]:
    if not path or not os.path.exists(path):
        return []
    try:
        with open(path) as f:
            stored = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f'--json {path}: cannot resume from it ({exc}); '
                         'move it away or pass another path') from None
    result = stored.get('result') if isinstance(stored, dict) else None
    cells = result.get('cells') if isinstance(result, dict) else None
    if stored.get('suite') != 'ogb' or not isinstance(cells, list):
        raise ValueError(f'--json {path} holds no ogb bench cells; move it '
                         'away or pass another path')
    return [c for c in cells if isinstance(c, dict) and 'key' in c]


def _write_partial(path: str, argv: list[str], result: dict[str, Any]
                   ) -> None:
    tmp = f'{path}.{os.getpid()}.tmp'
    write_json(tmp, {'suite': 'ogb', 'argv': argv, 'result': result})
    os.replace(tmp, path)


def _hardware(device: str) -> str:
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    env = environment()
    return (f"CPU ({env['processor']}, {env['cpu_count']} cores, "
            f'{torch.get_num_threads()} torch thread(s))')


def _command(args: argparse.Namespace, name: str, protocol: str,
             models: list[str], pes: list[str], seeds: list[int],
             pairs: list[tuple[str, str]] | None = None) -> str:
    parts = ['pyg-ext', 'bench', 'ogb', '--dataset', name]
    parts += ['--quick'] if protocol == 'quick' else ['--protocol', 'ogb']
    if pairs and pairs != [(m, p) for m in models for p in pes]:
        parts += ['--pairs', ','.join(f'{m}+{p}' for m, p in pairs)]
    else:
        parts += ['--model', ','.join(models), '--pe', ','.join(pes)]
    # a count means seeds 0..N-1; one other seed needs the list form '7,'
    parts += ['--seeds', (str(len(seeds)) if seeds == list(range(len(seeds)))
                          else ','.join(map(str, seeds))
                          + (',' if len(seeds) == 1 else ''))]
    for opt in ('epochs', 'hidden', 'layers', 'batch_size', 'lr', 'dropout',
                'max_graphs'):
        v = getattr(args, opt, None)
        if v is not None:
            parts += [f"--{opt.replace('_', '-')}", str(v)]
    if protocol == 'quick':
        parts += ['--k', str(getattr(args, 'k', 8)), '--normalization',
                  getattr(args, 'normalization', 'sym')]
        if getattr(args, 'preset', 'pyg_ext') != 'pyg_ext':
            parts += ['--preset', args.preset]
    if getattr(args, 'device', 'cpu') != 'cpu':
        parts += ['--device', args.device]
    if getattr(args, 'root', None):
        parts += ['--root', str(args.root)]
    if getattr(args, 'json_path', None):
        parts += ['--json', str(args.json_path)]
    return shlex.join(parts)


def _label(model: str, pe: str, protocol: str, preset: str) -> str:
    names = {'gin': 'GIN', 'gin-virtual': 'GIN-virtual', 'gine': 'GINE',
             'gps': 'GPS'}
    if protocol == 'quick':
        label = (f'{pe} ({preset})' if pe in PRESET_KWARGS
                 and preset != 'pyg_ext' else pe)
        return f'{names[model] if model != "gin" else "GIN"} + {label}'
    pe_names = {'lap': 'LapPE', 'signnet': 'SignNet', 'spe': 'SPE'}
    return names[model] + (f' + {pe_names[pe]}' if pe != 'none' else '')


def compare_pe(runs: dict[tuple[str, str], list[dict[str, Any]]],
               higher: bool) -> list[dict[str, Any]]:
    """For every model, each PE against no PE: the difference of the mean
    test scores (positive = the PE is better) and its standard error
    ``sqrt(s1^2/n1 + s2^2/n2)``; ``beats`` when the gain exceeds it."""
    out = []
    for (model, pe), cells in sorted(runs.items()):
        base = runs.get((model, 'none'))
        if pe == 'none' or not base:
            continue
        a = [c['test'] for c in cells]
        b = [c['test'] for c in base]
        (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
        gain = (ma - mb) if higher else (mb - ma)
        se = math.sqrt(sa ** 2 / len(a) + sb ** 2 / len(b))
        out.append({'model': model, 'pe': pe, 'gain': gain, 'se': se,
                    'n_pe': len(a), 'n_none': len(b),
                    'beats': bool(gain > se) if len(a) > 1 and len(b) > 1
                    else None})
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the suite.

    Raises:
        ValueError: a dataset that is not ``ogbg-*``, an unknown ``--pe``,
            ``--model``, ``--protocol`` or ``--preset``, a model / PE the
            protocol does not define, a ``--json`` file that is not an ogb
            bench result.
        FileNotFoundError: the dataset is absent and cannot be downloaded
            (:class:`~pyg_ext.bench.DatasetMissingError`, one line).
        ImportError: ``ogb`` is not installed.
    """
    from pyg_ext.typing import require
    from pyg_ext.utils.validation import check_choice

    pes = getattr(args, 'pe', 'none')
    if isinstance(pes, str):  # from Python callers
        pes = [p.strip().lower() for p in pes.split(',') if p.strip()]
    for p in pes:
        if p not in PES:
            raise ValueError(f'unknown --pe {p!r}; choose from {PES}')
    preset = check_choice(getattr(args, 'preset', 'pyg_ext'), '--preset',
                          PRESETS)
    protocol = getattr(args, 'protocol', None) or (
        'quick' if getattr(args, 'quick', False) else 'ogb')
    check_choice(protocol, '--protocol', PROTOCOLS)
    if getattr(args, 'quick', False) and protocol != 'quick':
        raise ValueError('--quick contradicts --protocol ogb')
    models = getattr(args, 'model', None) or (
        ['gin'] if protocol == 'quick' else ['gin', 'gin-virtual'])
    if isinstance(models, str):
        models = [m.strip().lower() for m in models.split(',') if m.strip()]
    for m in models:
        check_choice(m, '--model', MODELS)
    require('ogb', 'pyg-ext bench ogb')
    from ogb.graphproppred import Evaluator

    device = getattr(args, 'device', 'cpu')
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    args.device = device
    seeds = getattr(args, 'seeds', None) or default_seeds(protocol)
    overrides = {'epochs': getattr(args, 'epochs', None),
                 'hidden': getattr(args, 'hidden', None),
                 'num_layers': getattr(args, 'layers', None),
                 'batch_size': getattr(args, 'batch_size', None),
                 'lr': getattr(args, 'lr', None),
                 'dropout': getattr(args, 'dropout', None),
                 'max_graphs': getattr(args, 'max_graphs', None)}
    if protocol == 'quick':
        overrides.update({'k': getattr(args, 'k', 8),
                          'normalization': getattr(args, 'normalization',
                                                   'sym'),
                          'preset': preset})
    pairs = getattr(args, 'pairs', None)
    if isinstance(pairs, str):
        pairs = pairs_type(pairs)
    if pairs:
        models = list(dict.fromkeys(m for m, _ in pairs))
        pes = list(dict.fromkeys(p for _, p in pairs))
    else:
        pairs = [(m, p) for m in models for p in pes]
    configs = {(m, p): cell_config(m, p, protocol, overrides)
               for m, p in pairs}
    root = getattr(args, 'root', None)
    progress = bool(getattr(args, 'progress', False))
    # load once up front: a missing dataset fails here, in one line
    ds, _, _ = load_dataset(args.dataset, root)
    name = ds.name if hasattr(ds, 'name') else args.dataset
    from pyg_ext.datasets.registry import get_spec
    name = get_spec(args.dataset).name
    evaluator = Evaluator(name)
    metric = evaluator.eval_metric
    higher = metric != 'rmse'
    json_path = getattr(args, 'json_path', None)
    done = {c['key']: c for c in _read_cells(json_path)}
    command = _command(args, name, protocol, models, pes, seeds, pairs)
    result: dict[str, Any] = {
        'dataset': name, 'metric': metric, 'protocol': protocol,
        'preset': preset, 'models': models, 'pes': pes, 'seeds': seeds,
        'command': command, 'hardware': _hardware(device),
        'configs': {f'{m}+{p}': c for (m, p), c in configs.items()},
        'cells': list(done.values()), 'complete': False}
    import ogb
    result['ogb'] = ogb.__version__
    skipped = ran = 0
    pre_before = {k: v[2] for k, v in _LOADED.items()}
    grid = engine_options(args)
    if grid['json_path'] and grid['engine'] != 'ray':
        raise ValueError('--cells-json needs --engine ray (the local run '
                         'resumes from --json)')
    # seed-major: an interrupted run has every model at the same seeds
    for seed in (seeds if grid['engine'] == 'local' else []):
        for m, p in pairs:
            key = cell_key(name, configs[(m, p)], seed)
            if key in done:
                skipped += 1
                continue
            cell = run_cell(name, m, p, seed, configs[(m, p)], root,
                            device, progress)
            ran += 1
            done[key] = cell
            result['cells'].append(cell)
            if progress or protocol == 'ogb':
                print(f'  {_label(m, p, protocol, preset)} seed {seed}: '
                      f'valid {cell["valid"]:.4f} test '
                      f'{cell["test"]:.4f} (epoch {cell["epoch"]}, '
                      f'{cell["seconds"]:.0f} s)', flush=True)
            if json_path:
                _write_partial(json_path, [], result)
    if grid['engine'] == 'ray':
        ran, skipped = _run_cells_grid(name, pairs, seeds, configs, done,
                                       result, root, device, json_path,
                                       grid, protocol, preset, progress)
    result['cells_run'], result['cells_skipped'] = ran, skipped
    result['precompute_seconds'] = sum(
        v[2] for k, v in _LOADED.items() if k not in pre_before)
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (m, p), cfg in configs.items():
        runs[(m, p)] = [done[cell_key(name, cfg, s)] for s in seeds]
    rows = []
    hardware = result['hardware']
    for (m, p), cells in runs.items():
        rows.append({
            'Method': _label(m, p, protocol, preset),
            f'Test {metric}': fmt_mean_std([c['test'] for c in cells], 4),
            f'Validation {metric}': fmt_mean_std(
                [c['valid'] for c in cells], 4),
            '#Params': f'{cells[0]["params"]:,}',
            # where the cells ran (resumed ones may come from another
            # machine; cells from before this field: this run's)
            'Hardware': ' + '.join(dict.fromkeys(
                c.get('hardware', hardware) for c in cells)),
            'Seeds': str(len(cells)),
            's/seed': f'{mean_std([c["seconds"] for c in cells])[0]:.0f}',
            'Source': 'this run'})
        anchor = ANCHORS.get((name, m, p))
        if anchor is not None and protocol == 'ogb':
            (tm, ts), (vm, vs) = anchor['test'], anchor['valid']
            rows.append({
                'Method': _label(m, p, protocol, preset) + ' (published)',
                f'Test {metric}': f'{tm:.4f} ± {ts:.4f}',
                f'Validation {metric}': f'{vm:.4f} ± {vs:.4f}',
                '#Params': f'{anchor["params"]:,}',
                'Hardware': anchor['hardware'],
                'Seeds': '10', 's/seed': '', 'Source': anchor['source']})
    if protocol == 'quick':
        rows = [{k: r[k] for k in ('Method', f'Test {metric}',
                                   f'Validation {metric}', '#Params',
                                   's/seed')} for r in rows]
        result['runs'] = {(p if len(models) == 1 else f'{m}+{p}'): cells
                          for (m, p), cells in runs.items()}
    else:
        result['runs'] = {f'{m}+{p}': cells for (m, p), cells in runs.items()}
    result['comparisons'] = compare_pe(runs, higher)
    result['table'] = rows
    result['complete'] = True
    epochs = next(iter(configs.values()))['epochs']
    print(f'{name} ({metric}, official Evaluator, scaffold split; '
          f'protocol {protocol}; {len(seeds)} seed(s), {epochs} epochs, '
          f'scores at the best-validation epoch; ogb {ogb.__version__})')
    print(format_table(rows))
    for c in result['comparisons']:
        verdict = ('n/a (one seed)' if c['beats'] is None else
                   'beats no PE by more than the standard error'
                   if c['beats'] else 'does not beat no PE by more than the '
                   'standard error')
        print(f'{_label(c["model"], c["pe"], protocol, preset)}: gain '
              f'{c["gain"]:+.4f} (SE {c["se"]:.4f}): {verdict}')
    if protocol == 'ogb' and not any(
            (name, m, p) in ANCHORS for m, p in configs):
        print(f'No published result with these settings on {name} is '
              'known to this suite (see docs/pe.md).')
    print(f'command: {command}')
    if skipped:
        print(f'resumed: {skipped} finished cell(s) read from {json_path}, '
              f'{ran} run now')
    return result
