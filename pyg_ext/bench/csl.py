"""CSL expressivity demo: GIN with and without spectral PEs (test accuracy)."""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from pyg_ext.bench._common import (
    fmt_mean_std,
    format_table,
    mean_std,
    nonneg_int,
    positive_float,
    positive_int,
)

PES = ('none', 'lap', 'signnet', 'basisnet', 'spe')
#: Small encoders: CSL is tiny, and this demo must run in seconds on a CPU.
ENCODER_KWARGS: dict[str, dict[str, Any]] = {
    'lap': {'hidden_channels': 32},
    'signnet': {'hidden_channels': 32, 'phi': 'mlp', 'phi_layers': 2},
    'basisnet': {'hidden_channels': 16, 'ign_channels': 4},
    'spe': {'num_phis': 4, 'hidden_channels': 16, 'rho_layers': 2},
}
#: Encoders that ``--preset`` applies to, with their kwargs under a
#: non-default preset (the reference SignNet has a GIN phi only).
PRESET_KWARGS: dict[str, dict[str, Any]] = {
    'signnet': {'hidden_channels': 32, 'phi_layers': 2},
    'spe': {'num_phis': 4, 'hidden_channels': 16, 'rho_layers': 2},
    'basisnet': {'hidden_channels': 32, 'rho_layers': 1},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--pe', default=','.join(PES),
                        help='comma-separated encodings (default: all)')
    parser.add_argument('--k', type=positive_int, default=9,
                        help='eigenpairs (9 is at an eigengap for every '
                        'class)')
    parser.add_argument('--epochs', type=positive_int, default=30,
                        help='training epochs per seed')
    parser.add_argument('--hidden', type=positive_int, default=64,
                        help='hidden channels')
    parser.add_argument('--layers', type=positive_int, default=3,
                        help='GIN layers')
    parser.add_argument('--lr', type=positive_float, default=1e-3,
                        help='Adam learning rate')
    parser.add_argument('--batch-size', type=positive_int, default=10,
                        help='graphs per batch')
    parser.add_argument('--fold', type=nonneg_int, default=0,
                        help='cross-validation fold of the split')
    parser.add_argument('--preset', choices=('pyg_ext', 'reference'),
                        default='pyg_ext',
                        help='preset of the encoders in PRESET_KWARGS '
                        "(SignNet, SPE, BasisNet; default: pyg_ext; "
                        "'reference' = the authors' architectures, see "
                        'docs/pe.md)')
    parser.add_argument('--basisnet-timing', action='store_true',
                        help="only time BasisNet per_multiplicity='head' vs "
                        "'full' (and preset='reference'), fwd+bwd on 64 "
                        'molecule-like graphs; no training')


def _model(pe: str, k: int, hidden: int, layers: int,
           preset: str = 'pyg_ext') -> torch.nn.Module:
    from pyg_ext.nn.pe import PEGNN, build_pe_encoder
    kwargs = dict(ENCODER_KWARGS.get(pe, {}))
    if preset != 'pyg_ext' and pe in PRESET_KWARGS:
        kwargs = {**PRESET_KWARGS[pe], 'preset': preset}
    enc = build_pe_encoder(pe, k, hidden, **kwargs)
    return PEGNN(1, hidden, 10, num_layers=layers, conv='gin',
                 pe_encoder=enc, pool='mean')


def train_eval(dataset: Any, split: dict[str, torch.Tensor], pe: str,
               seed: int, k: int = 9, epochs: int = 30, hidden: int = 64,
               layers: int = 3, lr: float = 1e-3, batch_size: int = 10,
               preset: str = 'pyg_ext') -> dict[str, float]:
    """Train one model; test accuracy at the best validation epoch.
    ``preset`` goes to the encoders listed in ``PRESET_KWARGS``."""
    from torch_geometric.loader import DataLoader

    from pyg_ext.testing import seed_all
    seed_all(seed)
    model = _model(pe, k, hidden, layers, preset)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    train = DataLoader(dataset[split['train']], batch_size=batch_size,
                       shuffle=True)
    evals = {s: DataLoader(dataset[split[s]], batch_size=len(split[s]))
             for s in ('train', 'valid', 'test')}

    @torch.no_grad()
    def acc(loader: Any) -> float:
        model.eval()
        correct = total = 0
        for b in loader:
            correct += int((model(b).argmax(-1) == b.y).sum())
            total += b.num_graphs
        return correct / max(total, 1)

    best_val, best_test = -1.0, 0.0
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for b in train:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(b), b.y)
            loss.backward()
            opt.step()
        val = acc(evals['valid'])
        if val > best_val:
            best_val, best_test = val, acc(evals['test'])
    return {'valid': best_val, 'test': best_test,
            'seconds': time.perf_counter() - t0}


def _molecule_like(n: int, gen: torch.Generator) -> Any:
    """A random tree plus ``n // 6`` chords (rings), undirected."""
    from torch_geometric.data import Data
    parent = [int(torch.randint(0, i, (1,), generator=gen)) for i in
              range(1, n)]
    edges = [(i + 1, p) for i, p in enumerate(parent)]
    for _ in range(n // 6):
        u, v = torch.randint(0, n, (2,), generator=gen).tolist()
        if u != v:
            edges.append((u, v))
    ei = torch.tensor(edges, dtype=torch.long).T
    ei = torch.cat([ei, ei.flip(0)], 1).unique(dim=1)
    return Data(edge_index=ei, num_nodes=n)


def basisnet_timing(num_graphs: int = 64, k: int = 8, repeats: int = 5,
                    seed: int = 0) -> dict[str, float]:
    """Best-of-``repeats`` fwd+bwd time (ms) of ``BasisNet`` with
    ``per_multiplicity='head'`` and ``'full'`` (default preset, default
    sizes) and ``preset='reference'`` on ``num_graphs`` molecule-like graphs
    of 18-32 nodes (eigenpairs from :func:`precompute_eigen_pe`).
    Thread count is the caller's (use ``OMP_NUM_THREADS=1``)."""
    from torch_geometric.data import Batch

    from pyg_ext.nn import BasisNet
    from pyg_ext.transforms import AddEigenPE, precompute_eigen_pe

    gen = torch.Generator().manual_seed(seed)
    sizes = torch.randint(18, 33, (num_graphs,), generator=gen).tolist()
    graphs = [_molecule_like(n, gen) for n in sizes]
    precompute_eigen_pe(graphs, AddEigenPE(k))
    b = Batch.from_data_list(graphs)
    res: dict[str, float] = {}
    configs = {'head': {'per_multiplicity': 'head'},
               'full': {'per_multiplicity': 'full'},
               'reference': {'preset': 'reference'}}
    for name, kw in configs.items():
        torch.manual_seed(seed)
        enc = BasisNet(k, 16, **kw)
        best = float('inf')
        for _ in range(repeats + 1):  # the first call is a warm-up
            t0 = time.perf_counter()
            out = enc(b.eigvecs, b.eigvals, b.edge_index, b.batch,
                      b.eig_mask)
            out.square().mean().backward()
            best = min(best, time.perf_counter() - t0)
            enc.zero_grad()
        res[f'{name}_ms'] = best * 1e3
    res['full_over_head'] = res['full_ms'] / res['head_ms']
    return res


def run(args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, 'basisnet_timing', False):
        res = basisnet_timing()
        print(f"BasisNet fwd+bwd, 64 molecule-like graphs (18-32 nodes), "
              f"k=8, best of 5, {torch.get_num_threads()} thread(s): "
              f"head {res['head_ms']:.1f} ms, full {res['full_ms']:.1f} ms "
              f"(full/head {res['full_over_head']:.2f}), "
              f"preset='reference' {res['reference_ms']:.1f} ms")
        return res
    from pyg_ext.datasets.csl import CSLDataset
    from pyg_ext.nn.pe import num_parameters
    from pyg_ext.transforms import AddEigenPE, precompute_eigen_pe

    ds = CSLDataset()
    precompute_eigen_pe(ds, AddEigenPE(args.k))
    split = ds.get_idx_split(args.fold)
    rows, result = [], {}
    from pyg_ext.utils.log import progress
    for pe in [p.strip() for p in args.pe.split(',') if p.strip()]:
        preset = getattr(args, 'preset', 'pyg_ext')
        runs = [train_eval(ds, split, pe, s, args.k, args.epochs, args.hidden,
                           args.layers, args.lr, args.batch_size, preset)
                for s in progress(args.seeds, args.progress,
                                  desc=f'csl {pe}', unit='seed')]
        tests = [r['test'] for r in runs]
        n_par = num_parameters(_model(pe, args.k, args.hidden, args.layers,
                                      preset))
        result[pe] = {'test': tests, 'valid': [r['valid'] for r in runs],
                      'params': n_par,
                      'seconds': mean_std([r['seconds'] for r in runs])[0]}
        if pe in PRESET_KWARGS:
            result[pe]['preset'] = preset
        label = (f'{pe} ({preset})' if pe in PRESET_KWARGS
                 and preset != 'pyg_ext' else pe)
        rows.append({'PE': label, 'test acc (%)': fmt_mean_std(tests, 1, 100),
                     'valid acc (%)': fmt_mean_std(
                         result[pe]['valid'], 1, 100),
                     '#params': n_par,
                     's/run': f"{result[pe]['seconds']:.1f}"})
    print(f'CSL (150 graphs, 41 nodes, 10 classes; fold {args.fold}, '
          f'{len(args.seeds)} seed(s), {args.epochs} epochs, k={args.k}); '
          f'chance = 10%')
    print(format_table(rows))
    return result
