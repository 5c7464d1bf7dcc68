"""OGB graph property prediction (ogbg-mol*) with GIN/GINE + spectral PEs."""

from __future__ import annotations

import argparse
import logging
import math
import time
from typing import Any

import torch

from pyg_ext.bench._common import (
    choice_list,
    dataset_errors,
    device_arg,
    dropout_rate,
    fmt_mean_std,
    format_table,
    mean_std,
    positive_float,
    positive_int,
)

logger = logging.getLogger(__name__)

PES = ('none', 'lap', 'signnet', 'basisnet', 'spe')

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--dataset', default='ogbg-molbace',
                        help='an ogbg-mol* dataset (default: ogbg-molbace)')
    parser.add_argument('--model', default='gin', choices=('gin', 'gine'),
                        help='GNN: GIN, or GINE (with bond features)')
    parser.add_argument('--pe', default='none',
                        type=choice_list(PES, what='--pe'),
                        help="'none', 'lap', 'signnet', 'basisnet', 'spe', or "
                        "a comma-separated list (e.g. 'none,spe')")
    parser.add_argument('--k', type=positive_int, default=8,
                        help='eigenpairs')
    parser.add_argument('--normalization', default='sym',
                        choices=('sym', 'rw', 'none'),
                        help='Laplacian normalisation of the eigenpairs')
    parser.add_argument('--epochs', type=positive_int, default=20,
                        help='training epochs per seed')
    parser.add_argument('--hidden', type=positive_int, default=64,
                        help='hidden channels')
    parser.add_argument('--layers', type=positive_int, default=3,
                        help='GNN layers')
    parser.add_argument('--batch-size', type=positive_int, default=32,
                        help='graphs per batch')
    parser.add_argument('--lr', type=positive_float, default=1e-3,
                        help='Adam learning rate')
    parser.add_argument('--dropout', type=dropout_rate, default=0.2,
                        help='dropout probability')
    parser.add_argument('--device', default='cpu', type=device_arg,
                        help="'cpu', 'cuda[:i]' or 'auto'")
    parser.add_argument('--max-graphs', type=positive_int, default=None,
                        help='use a fixed random N graphs of each split '
                        '(smoke tests; default: all)')
    parser.add_argument('--preset', choices=PRESETS, default='pyg_ext',
                        help='preset of the encoders in PRESET_KWARGS '
                        "(SignNet, BasisNet, SPE; default: pyg_ext; "
                        "'reference' = the authors' architectures, see "
                        'docs/pe.md)')


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


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the suite.

    Raises:
        ValueError: a dataset that is not ``ogbg-*``, an unknown ``--pe``
            or ``--preset``.
        FileNotFoundError: the dataset is absent and cannot be downloaded.
        ImportError: ``ogb`` is not installed.
    """
    import os

    from pyg_ext.typing import require
    require('ogb', 'pyg-ext bench ogb')
    from ogb.graphproppred import Evaluator

    from pyg_ext.datasets.registry import get_spec
    from pyg_ext.transforms import AddEigenPE, precompute_eigen_pe
    from pyg_ext.utils.data_root import resolve_root
    from pyg_ext.utils.ogb_compat import load_ogb_graphprop
    from pyg_ext.utils.validation import check_choice

    name = get_spec(args.dataset).name
    if not name.startswith('ogbg-'):
        raise ValueError(f'{name} is not an ogbg-* dataset')
    pes = args.pe
    if isinstance(pes, str):  # from Python callers
        pes = [p.strip().lower() for p in pes.split(',') if p.strip()]
    for p in pes:
        if p not in PES:
            raise ValueError(f'unknown --pe {p!r}; choose from {PES}')
    preset = check_choice(getattr(args, 'preset', 'pyg_ext'), '--preset',
                          PRESETS)
    if args.device == 'auto':
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    folder = resolve_root(args.root) / 'ogb'
    with dataset_errors(name, folder,
                        created=folder / name.replace('-', '_')):
        os.makedirs(folder, exist_ok=True)
        dataset, split = load_ogb_graphprop(name, folder)
    evaluator = Evaluator(name)
    pre_s = 0.0
    if any(p != 'none' for p in pes):
        tr = AddEigenPE(args.k, normalization=args.normalization,
                        on_cut='ignore')
        t0 = time.perf_counter()
        precompute_eigen_pe(dataset, tr, progress_bar=args.progress)
        pre_s = time.perf_counter() - t0
        print(f'{tr}: {len(dataset)} graphs in {pre_s:.2f} s '
              f'({len(dataset) / max(pre_s, 1e-9):,.0f} graphs/s)')
    metric = evaluator.eval_metric
    rows, result = [], {'dataset': name, 'metric': metric,
                        'preset': preset, 'precompute_seconds': pre_s,
                        'runs': {}}
    for pe in pes:
        runs = []
        for seed in args.seeds:
            r = train_one(pe, seed, dataset, split, evaluator, args)
            runs.append(r)
            if args.progress:
                print(f'  {pe} seed {seed}: valid {r["valid"]:.4f} test '
                      f'{r["test"]:.4f} (epoch {r["epoch"]}, '
                      f'{r["seconds"]:.0f} s)', flush=True)
        tests = [r['test'] for r in runs]
        valids = [r['valid'] for r in runs]
        result['runs'][pe] = runs
        label = (f'{pe} ({preset})' if pe in PRESET_KWARGS
                 and preset != 'pyg_ext' else pe)
        rows.append({
            'Method': f'{args.model.upper()} + {label}',
            f'Test {metric}': fmt_mean_std(tests, 4),
            f'Validation {metric}': fmt_mean_std(valids, 4),
            '#Params': f'{runs[0]["params"]:,}',
            's/seed': f'{mean_std([r["seconds"] for r in runs])[0]:.0f}',
        })
    import ogb
    print(f'{name} ({metric}, official Evaluator, scaffold split; '
          f'{len(args.seeds)} seed(s), {args.epochs} epochs, best-validation '
          f'epoch; encoder preset {preset}; ogb {ogb.__version__})')
    print(format_table(rows))
    result['table'] = rows
    return result
