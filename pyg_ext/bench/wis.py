"""Walk Index Sparsification: accuracy vs edges removed, and sparsifier speed.

The study of Razin, Verbin and Cohen (NeurIPS 2023, Fig. 3): remove a
fraction of the (undirected) edges with each sparsifier, train a GNN on the
sparsified graph and report test accuracy (model selected at the best
validation epoch), mean ± std over seeds. Every sparsifier computes one
removal order per graph (per seed for the random ones), so all ratios share
it. The sparsifiers' own CPU time (process time, robust on a shared machine)
is compared with a reference-style
implementation (the official code's per-removal loop of torch ops over all
edges, timed on a prefix and extrapolated) in the same run.

Datasets: ``Cora``, ``CiteSeer``, ``PubMed`` (``<root>/planetoid``) and OGB
node-property datasets ``ogbn-*`` (``<root>/ogb``, official split; a custom
dataset in OGB's format through ``--ogb-meta meta.json``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import os
import time
from typing import Any

import torch
import torch.nn.functional as F

from pyg_ext.bench._common import (
    add_engine_arguments,
    choice_list,
    dataset_errors,
    device_arg,
    dropout_rate,
    engine_options,
    float_list,
    fmt_mean_std,
    format_table,
    mean_std,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
)

logger = logging.getLogger(__name__)

METHODS = ('1-wis', '2-wis', 'random', 'spectral')
PLANETOID = {'cora': 'Cora', 'citeseer': 'CiteSeer', 'pubmed': 'PubMed'}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--dataset', default='Cora',
                        help='Cora | CiteSeer | PubMed | ogbn-<name> '
                        '(default: Cora)')
    parser.add_argument('--ogb-meta', default=None, metavar='JSON',
                        help="meta_dict (JSON) of a custom dataset in OGB's "
                        'node-property format (default: none)')
    parser.add_argument('--model', default='gcn',
                        choices=('gcn', 'gin', 'sage'), help='GNN layer type')
    parser.add_argument('--layers', type=positive_int, default=3,
                        help='GNN depth')
    parser.add_argument('--hidden', type=positive_int, default=64,
                        help='hidden channels')
    parser.add_argument('--ratios', default='0,0.3,0.5,0.7,0.9',
                        type=ratio_list,
                        help='comma-separated fractions of edges to remove, '
                        'each in [0, 1]')
    parser.add_argument('--methods', default=','.join(METHODS),
                        type=choice_list(METHODS, what='method'),
                        help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument('--epochs', type=positive_int, default=200,
                        help='most training epochs')
    parser.add_argument('--patience', type=positive_int, default=50,
                        help='early-stopping patience in epochs')
    parser.add_argument('--lr', type=positive_float, default=0.01,
                        help='Adam learning rate')
    parser.add_argument('--weight-decay', type=nonneg_float, default=5e-4,
                        help='Adam weight decay')
    parser.add_argument('--dropout', type=dropout_rate, default=0.5,
                        help='dropout probability')
    parser.add_argument('--split', default='auto',
                        choices=('auto', 'random', 'public', 'official'),
                        help='random 80/10/10 per seed (the paper; default '
                        'for Planetoid), public Planetoid split, or the '
                        'official OGB split (default for OGB)')
    parser.add_argument('--arch', default='pyg', choices=('pyg', 'paper'),
                        help="'paper': the reference code's model (convs to "
                        'hidden width, ReLU then LayerNorm, linear head; use '
                        "with --dropout 0); 'pyg': last conv to the classes "
                        '(default)')
    parser.add_argument('--split-seed', type=nonneg_int, default=None,
                        help='with --split random: one split drawn with this '
                        'seed and shared by all seeds (the reference code '
                        'fixes it to 1 and varies only the initialisation '
                        'and the random orders); default: a split per seed')
    parser.add_argument('--min-delta', type=nonneg_float, default=0.0,
                        help='early stopping counts only validation gains '
                        'above this (the reference code: 1e-4)')
    parser.add_argument('--ref-steps', type=nonneg_int, default=100,
                        help='removals timed for the reference-style 1-WIS '
                        '(extrapolated; 0 skips it)')
    parser.add_argument('--plot', default=None, metavar='PNG',
                        help='write the accuracy curve here (default: no '
                        'plot)')
    parser.add_argument('--table', default=None, metavar='MD',
                        help='write the markdown table here (default: none)')
    parser.add_argument('--device', default='cpu', type=device_arg,
                        help="'cpu', 'cuda[:i]' or 'auto'")
    add_engine_arguments(parser)


def ratio_list(text: str) -> list[float]:
    """``type=`` of ``--ratios``: comma-separated fractions in ``[0, 1]``.

    Raises:
        argparse.ArgumentTypeError: for a non-number or a value outside
            ``[0, 1]``.
    """
    vals = float_list(text)
    bad = [v for v in vals if not 0.0 <= v <= 1.0]
    if bad:
        raise argparse.ArgumentTypeError(
            f'ratios must lie in [0, 1], got {bad[0]:g}')
    return vals


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def load_graph(args: argparse.Namespace) -> tuple[Any, dict | None, str]:
    """``(data, official_split or None, evaluator name or '')``."""
    from torch_geometric.utils import to_undirected

    from pyg_ext.utils import resolve_root

    root = resolve_root(getattr(args, 'root', None))
    name = args.dataset
    if name.lower() in PLANETOID:
        from torch_geometric.datasets import Planetoid
        folder = os.path.join(root, 'planetoid')
        canon = PLANETOID[name.lower()]
        with dataset_errors(canon, folder,
                            created=os.path.join(folder, canon)):
            ds = Planetoid(folder, canon)
        data = ds[0]
        split = {'train': data.train_mask.nonzero().view(-1),
                 'valid': data.val_mask.nonzero().view(-1),
                 'test': data.test_mask.nonzero().view(-1)}
        evaluator = ''
    elif name.startswith('ogbn-') or args.ogb_meta:
        from pyg_ext.utils import load_ogb_nodeprop
        kwargs: dict[str, Any] = {}
        if args.ogb_meta:
            with open(args.ogb_meta) as f:
                kwargs['meta_dict'] = json.load(f)
        folder = os.path.join(root, 'ogb')
        with dataset_errors(name, folder, created=os.path.join(
                folder, name.replace('-', '_'))):
            os.makedirs(folder, exist_ok=True)
            ds, split = load_ogb_nodeprop(name, folder, **kwargs)
        data = ds[0]
        evaluator = '' if args.ogb_meta else name
    else:
        raise ValueError(f"unknown dataset '{name}' (Cora, CiteSeer, PubMed "
                         'or ogbn-*)')
    data.y = data.y.view(-1).long()
    ei = data.edge_index
    from torch_geometric.utils import remove_self_loops
    ei = remove_self_loops(ei)[0]
    data.edge_index = to_undirected(ei, num_nodes=data.num_nodes)
    for key in ('edge_attr', 'edge_weight'):
        if key in data:
            del data[key]
    return data, split, evaluator


def random_split(n: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    a, b = int(0.8 * n), int(0.9 * n)
    return {'train': perm[:a], 'valid': perm[a:b], 'test': perm[b:]}


# --------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------
class _Net(torch.nn.Module):
    """``arch='pyg'``: the last conv maps to the classes, LayerNorm then ReLU
    between convs, dropout before each conv. ``arch='paper'``: the WIS
    reference code's node model: every conv maps to ``hidden``, each
    followed by ReLU then LayerNorm, a linear head (dropout as given; the
    reference uses none)."""

    def __init__(self, kind: str, in_dim: int, hidden: int, out_dim: int,
                 layers: int, dropout: float, arch: str = 'pyg') -> None:
        from torch_geometric.nn import GCNConv, GINConv, SAGEConv
        super().__init__()
        if arch not in ('pyg', 'paper'):
            raise ValueError(f"arch must be 'pyg' or 'paper', got {arch!r}")
        self.convs = torch.nn.ModuleList()
        self.norms = torch.nn.ModuleList()
        last = hidden if arch == 'paper' else out_dim
        dims = [in_dim] + [hidden] * (layers - 1) + [last]
        for i in range(layers):
            d_in, d_out = dims[i], dims[i + 1]
            if kind == 'gcn':
                # one fixed graph per model: cache the normalised adjacency
                conv = GCNConv(d_in, d_out, cached=True)
            elif kind == 'sage':
                conv = SAGEConv(d_in, d_out)
            else:
                conv = GINConv(torch.nn.Sequential(
                    torch.nn.Linear(d_in, hidden), torch.nn.ReLU(),
                    torch.nn.Linear(hidden, d_out)))
            self.convs.append(conv)
            if arch == 'paper' or i < layers - 1:
                self.norms.append(torch.nn.LayerNorm(d_out))
        self.head = (torch.nn.Linear(hidden, out_dim) if arch == 'paper'
                     else None)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor
                ) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            if self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)
            x = conv(x, edge_index)
            if self.head is not None:
                x = self.norms[i](x.relu())
            elif i < len(self.convs) - 1:
                x = self.norms[i](x).relu()
        return x if self.head is None else self.head(x)


def train_eval(data: Any, edge_index: torch.Tensor,
               split: dict[str, torch.Tensor], args: argparse.Namespace,
               seed: int, evaluator: str = '') -> float:
    """Test accuracy at the best validation epoch."""
    torch.manual_seed(seed)
    device = torch.device('cuda' if args.device == 'auto'
                          and torch.cuda.is_available() else
                          'cpu' if args.device == 'auto' else args.device)
    num_classes = int(data.y.max()) + 1
    model = _Net(args.model, data.num_features, args.hidden, num_classes,
                 args.layers, args.dropout,
                 getattr(args, 'arch', 'pyg')).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr,
                           weight_decay=args.weight_decay)
    x, y = data.x.float().to(device), data.y.to(device)
    if args.dropout == 0 and device.type == 'cpu' and x.numel() \
            and bool((x != 0).float().mean() < 0.05):
        # sparse bag-of-words features (Cora: 1.3 % non-zero): the first
        # layer's product as a sparse-dense matmul, same values
        x = x.to_sparse()
    ei = edge_index.to(device)
    if args.model == 'gcn' and device.type == 'cpu':
        # sparse-matrix products instead of gather / scatter (CSR of the
        # transposed adjacency, the layout GCNConv expects); same model
        from torch_geometric.utils import to_torch_csr_tensor
        ei = to_torch_csr_tensor(ei.flip(0), size=(data.num_nodes,
                                                   data.num_nodes))
    tr, va, te = (split[k].to(device) for k in ('train', 'valid', 'test'))
    best_val, best_test, since = -1.0, 0.0, 0
    min_delta = float(getattr(args, 'min_delta', 0.0))
    stop_ref = -1.0  # validation score the patience counter compares with
    for _ in range(args.epochs):
        model.train()
        opt.zero_grad()
        out = model(x, ei)
        F.cross_entropy(out[tr], y[tr]).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(x, ei).argmax(-1)
        val = _accuracy(pred, y, va, evaluator)
        if val > best_val:
            best_val, best_test = val, _accuracy(pred, y, te, evaluator)
        if val > stop_ref + min_delta:
            stop_ref, since = val, 0
        else:
            since += 1
            if since >= args.patience:
                break
    return best_test


def _accuracy(pred: torch.Tensor, y: torch.Tensor, idx: torch.Tensor,
              evaluator: str) -> float:
    if evaluator:
        from ogb.nodeproppred import Evaluator
        return float(Evaluator(evaluator).eval({
            'y_true': y[idx].view(-1, 1).cpu(),
            'y_pred': pred[idx].view(-1, 1).cpu()})['acc'])
    return float((pred[idx] == y[idx]).float().mean())


# --------------------------------------------------------------------------
# sparsifiers
# --------------------------------------------------------------------------
def removal_order(method: str, edge_index: torch.Tensor, num_nodes: int,
                  seed: int) -> Any:
    from pyg_ext.utils._sparsify_baselines import (
        effective_resistance_order,
        random_edge_order,
    )
    from pyg_ext.utils.walk_index import walk_index_sparsify
    if method == '1-wis':
        return walk_index_sparsify(edge_index, num_layers=2,
                                   num_nodes=num_nodes)
    if method == '2-wis':
        return walk_index_sparsify(edge_index, num_layers=3,
                                   num_nodes=num_nodes)
    if method == 'random':
        return random_edge_order(edge_index, num_nodes=num_nodes, seed=seed)
    if method == 'spectral':
        return effective_resistance_order(edge_index, num_nodes=num_nodes,
                                          seed=seed)
    raise ValueError(f"unknown method '{method}'; choose from {METHODS}")


def reference_one_wis_seconds_per_removal(edge_index: torch.Tensor,
                                          num_nodes: int, steps: int
                                          ) -> float:
    """CPU seconds per removal of a reference-style 1-WIS (the official
    code's loop: per removal, torch ops over all remaining edges)."""
    from torch_geometric.utils import degree
    ei = edge_index[:, edge_index[0] != edge_index[1]]
    deg = degree(ei[1], num_nodes)
    t0 = time.process_time()
    done = 0
    for _ in range(steps):
        if ei.size(1) == 0:
            break
        d = deg[ei]
        hi, lo = d.max(0).values, d.min(0).values
        best = lo == lo.max()
        i = torch.nonzero(best).view(-1)[torch.argmax(hi[best])]
        u, v = ei[0, i], ei[1, i]
        deg[u] -= 1
        deg[v] -= 1
        rm = ((ei[0] == u) & (ei[1] == v)) | ((ei[0] == v) & (ei[1] == u))
        ei = ei[:, ~rm]
        done += 1
    return (time.process_time() - t0) / max(done, 1)


#: points of the removal order (fraction removed) where the reference loop
#: is timed: a removal costs less as edges go
REF_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 0.95)


def reference_one_wis_full_order_seconds(edge_index: torch.Tensor,
                                         num_nodes: int, steps: int,
                                         order: Any) -> tuple[float, float]:
    """``(estimated CPU seconds of the reference-style loop over the full
    order, seconds per removal on the whole graph)``: ``steps`` removals
    timed from the graph with the first 0, 25, 50, 75 and 95 % of
    ``order`` (the fast 1-WIS order, which the loop reproduces) removed,
    integrated piecewise linearly over the order (constant after 95 %)."""
    m = order.num_candidates
    pers = []
    for frac in REF_FRACTIONS:
        keep = order.keep_mask_for(num_remove=int(frac * m))
        pers.append(reference_one_wis_seconds_per_removal(
            edge_index[:, keep], num_nodes, steps))
    xs = [*REF_FRACTIONS, 1.0]
    ys = [*pers, pers[-1]]
    area = sum((xs[i + 1] - xs[i]) * (ys[i] + ys[i + 1]) / 2
               for i in range(len(xs) - 1))
    return area * m, pers[0]


# --------------------------------------------------------------------------
# suite
# --------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    ratios = (ratio_list(args.ratios) if isinstance(args.ratios, str)
              else [float(r) for r in args.ratios])
    for r in ratios:
        if not 0.0 <= r <= 1.0:
            raise ValueError(f'ratios must lie in [0, 1], got {r}')
    methods = args.methods
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(',') if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method '{m}'; choose from {METHODS}")
    if args.layers < 1:
        raise ValueError('--layers must be >= 1')
    data, official, evaluator = load_graph(args)
    n, ei = data.num_nodes, data.edge_index
    split_kind = args.split
    if split_kind == 'auto':
        split_kind = 'official' if args.dataset.startswith('ogbn-') \
            or args.ogb_meta else 'random'
    print(f'WIS study: {args.dataset} ({n} nodes, {ei.size(1) // 2} '
          f'undirected edges), {args.layers}-layer {args.model.upper()}, '
          f'split={split_kind}, seeds={args.seeds}')

    # sparsifier running time (deterministic WIS orders are shared)
    timings: dict[str, list[float]] = {m: [] for m in methods}
    shared: dict[str, Any] = {}
    from pyg_ext.utils.walk_index import NUMBA_MIN_EDGES, _numba_one_wis
    if '1-wis' in methods and ei.size(1) // 2 >= NUMBA_MIN_EDGES:
        # the timed call takes the compiled kernel: load (or compile) it
        # first, or the time is the loading (a tiny graph would take the
        # pure-Python path and load nothing)
        _numba_one_wis(wait=True)
    for m in methods:
        if m in ('1-wis', '2-wis'):
            t0 = time.process_time()
            shared[m] = removal_order(m, ei, n, 0)
            timings[m].append(time.process_time() - t0)
    # removal orders and splits first (timed here), then the training grid
    # (seed x method x ratio; 0 % once per seed) as cells of run_grid:
    # locally or as Ray tasks (--engine ray), resumable (--cells-json)
    orders: dict[tuple[int, str], Any] = {}
    splits: dict[int, dict[str, torch.Tensor]] = {}
    for seed in args.seeds:
        if split_kind == 'random':
            splits[seed] = random_split(n, seed if args.split_seed is None
                                        else args.split_seed)
        elif official is None:
            raise ValueError(f'no {split_kind} split for {args.dataset}')
        else:
            splits[seed] = official
        for m in methods:
            if m in shared:
                orders[(seed, m)] = shared[m]
            else:
                t0 = time.process_time()
                orders[(seed, m)] = removal_order(m, ei, n, seed)
                timings[m].append(time.process_time() - t0)
    # a cell's identity in --cells-json includes everything else that
    # decides its accuracy: a file of another setting is never reused
    setting = hashlib.sha1(json.dumps({
        'dataset': args.dataset, 'ogb_meta': args.ogb_meta,
        'split': split_kind, 'device': args.device,
        **{k: getattr(args, k, None) for k in (
            'model', 'layers', 'hidden', 'epochs', 'patience', 'lr',
            'weight_decay', 'dropout', 'arch', 'split_seed', 'min_delta')}},
        sort_keys=True, default=str).encode()).hexdigest()[:12]
    cells = [{'seed': seed, 'method': m, 'ratio': r, 'setting': setting}
             for seed in args.seeds for i, m in enumerate(methods)
             for r in ratios if r != 0.0 or i == 0]

    def report(cell: dict[str, Any], acc: float) -> None:
        if args.progress:
            print(f"seed {cell['seed']} {cell['method']} removed "
                  f"{cell['ratio']:.0%}: {100 * acc:.1f}", flush=True)

    from pyg_ext.distributed import run_grid
    results = run_grid(cells, functools.partial(
        _train_cell, (data, ei, orders, splits, args, evaluator)),
        on_result=report, **engine_options(args))
    done = {(c['seed'], c['method'], c['ratio']): a
            for c, a in zip(cells, results)}
    accs: dict[tuple[str, float], list[float]] = {}
    for seed in args.seeds:
        for m in methods:
            for r in ratios:
                # 0 % removed: the same graph for every method
                key = (seed, methods[0] if r == 0.0 else m, r)
                accs.setdefault((m, r), []).append(done[key])

    rows = []
    for r in ratios:
        row: dict[str, Any] = {'removed': f'{r:.0%}'}
        for m in methods:
            row[m] = fmt_mean_std(accs[(m, r)], digits=1, scale=100)
        rows.append(row)
    table = format_table(rows, ['removed', *methods])
    print(table)

    speed: dict[str, Any] = {m: mean_std(t)[0] for m, t in timings.items()}
    lines = ['sparsifier CPU time (full order): ' + ', '.join(
        f'{m} {speed[m]:.3f} s' for m in methods)]
    if args.ref_steps > 0 and '1-wis' in methods:
        total, per = reference_one_wis_full_order_seconds(
            ei, n, args.ref_steps, shared['1-wis'])
        speed['reference_1wis_s_per_removal'] = per
        speed['reference_1wis_full_order_s_estimate'] = total
        speed['speedup_1wis_vs_reference'] = total / max(speed['1-wis'],
                                                         1e-9)
        lines.append(
            f'reference-style 1-WIS: {per * 1e3:.2f} ms/removal on the '
            f'whole graph, ~{total:.1f} s for the full order (timed at 0, '
            f'25, 50, 75 and 95 % removed); fast 1-WIS is '
            f'{speed["speedup_1wis_vs_reference"]:.0f}x faster')
    for line in lines:
        print(line)

    if args.plot:
        _plot(args, ratios, methods, accs)
        print(f'plot written to {args.plot}')
    if args.table:
        with open(args.table, 'w') as f:
            f.write(table + '\n')
    return {
        'dataset': args.dataset, 'model': args.model, 'layers': args.layers,
        'split': split_kind, 'split_seed': args.split_seed,
        'seeds': args.seeds, 'ratios': ratios,
        'methods': methods,
        'training': {k: getattr(args, k) for k in (
            'arch', 'hidden', 'dropout', 'lr', 'weight_decay', 'epochs',
            'patience', 'min_delta')},
        'accuracy': {f'{m}@{r}': accs[(m, r)] for m in methods
                     for r in ratios},
        'table': table, 'timing': speed,
    }


def _train_cell(ctx: tuple[Any, ...], cell: dict[str, Any]) -> float:
    """One grid cell of :func:`run`: train on the graph with the cell's
    fraction of edges removed by its method, return the test accuracy."""
    data, ei, orders, splits, args, evaluator = ctx
    seed = cell['seed']
    keep = orders[(seed, cell['method'])].keep_mask_for(ratio=cell['ratio'])
    return train_eval(data, ei[:, keep], splits[seed], args, seed, evaluator)


def _plot(args: argparse.Namespace, ratios: list[float], methods: list[str],
          accs: dict[tuple[str, float], list[float]]) -> None:
    from pyg_ext.typing import require
    require('matplotlib', 'the WIS plot')
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.6), dpi=110)
    for m in methods:
        mean = [100 * mean_std(accs[(m, r)])[0] for r in ratios]
        std = [100 * mean_std(accs[(m, r)])[1] for r in ratios]
        ax.errorbar([100 * r for r in ratios], mean, yerr=std, marker='o',
                    ms=3, capsize=2, label=m)
    ax.set_xlabel('% of edges removed')
    ax.set_ylabel('test accuracy (%)')
    ax.set_title(f'{args.dataset}, {args.layers}-layer {args.model.upper()} '
                 f'({len(args.seeds)} seeds)')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(args.plot))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(args.plot)
    plt.close(fig)


__all__ = ['add_arguments', 'load_graph', 'removal_order', 'run',
           'train_eval']
