"""Bad input anywhere in the public API raises a clear error (issue #16).

Every public name of ``pyg_ext.{transforms, nn, nn.models, metrics,
datasets, ops, combopt, utils}`` (plus ``utils.eigen``,
``utils.walk_index`` and ``testing``) gets a few representative bad inputs
(wrong shapes, float / negative / out-of-range ids, NaN, empty graphs,
out-of-range ``k`` / ``ratio`` / ``depth``, wrong types, unknown names). Each
must raise ``ValueError`` / ``TypeError`` (or the library's own subclass)
whose message names the offending argument: never an ``IndexError`` /
``RuntimeError`` from deep inside torch, and never a silent result.

Inputs that could corrupt memory in an unchecked kernel (Triton, sparse CSR,
numba) run in one subprocess (:func:`test_crash_prone`), so a segfault fails
those cases instead of killing the test session. The full matrix (about
2,000 trials, one forked process per crash-prone trial) lives outside the
package, in the audit script of issue #16.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import pyg_ext.combopt as C
import pyg_ext.datasets as D
import pyg_ext.metrics as M
import pyg_ext.nn as NN
import pyg_ext.ops as O
import pyg_ext.testing as TS
import pyg_ext.transforms as T
import pyg_ext.utils as U
import pyg_ext.utils.eigen as E
import pyg_ext.utils.walk_index as W
from pyg_ext.combopt.generators import erdos_renyi, random_3sat
from pyg_ext.datasets.csl import CSLDataset
from pyg_ext.metrics import HomophilyError
from pyg_ext.nn.models import HeterophilyBaseline
from pyg_ext.utils import DataRootError

NAN = float('nan')
# never created: loaders must refuse it before writing anything
MISSING = os.path.join(tempfile.gettempdir(),
                       f'pyg_ext_missing_root_{os.getpid()}', 'root')
L = torch.long
BAD = (ValueError, TypeError)


def ring(n: int) -> torch.Tensor:
    s = torch.arange(n)
    return torch.cat([torch.stack([s, (s + 1) % n]),
                      torch.stack([(s + 1) % n, s])], 1)


def put(t: torch.Tensor, pos: int, val: float) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[pos] = val
    return t


def nanify(t: torch.Tensor) -> torch.Tensor:
    return put(t.float(), 0, NAN)


N = 6
EI = ring(N)
NE = EI.size(1)
X = torch.randn(N, 3)
Y = torch.tensor([0, 1, 0, 1, 2, 2])
G = Data(x=X, edge_index=EI, y=Y, num_nodes=N)
GB = Data(x=(X > 0).float(), edge_index=EI, num_nodes=N)
GB2 = Data(x=torch.ones(5, 3), edge_index=ring(5), num_nodes=5)
EI_T = EI.t().contiguous()
EI_NEG = put(EI, 0, -1)
EI_BIG = put(EI, NE + 3, 100000)
EI_EQ = put(EI, 2, N)
W_NAN = nanify(torch.rand(NE))


def graph(**kw: Any) -> Data:
    d = Data(x=X, edge_index=EI, y=Y, num_nodes=N)
    for k, v in kw.items():
        d[k] = v
    return d


def graph_level() -> list[Data]:
    return [graph(y=torch.tensor([i % 2])) for i in range(4)]


def pe_inputs() -> dict[str, Any]:
    pe = T.AddEigenPE(4, on_cut='ignore')(G)
    return dict(eigvecs=pe.eigvecs, eigvals=pe.eigvals, edge_index=EI,
                batch=None, eig_mask=pe.eig_mask)


def pe_call(cls: type, **kw: Any) -> Any:
    inp = pe_inputs()
    inp.update(kw)
    return cls(4, 8)(**inp)


def agg_call(cls: type, **kw: Any) -> Any:
    inp = dict(x=X, index=torch.tensor([0, 0, 1, 1, 2, 2]), ptr=None,
               dim_size=None)
    inp.update(kw)
    return cls()(**inp)


def facility() -> Data:
    return C.make_facility_instance('uniform', 30, seed=0)


def table() -> Any:
    return C.facility_table(torch.rand(20, 2) * 3)


def fl_with(**kw: Any) -> Data:
    d = facility()
    for k, v in kw.items():
        d[k] = v
    return d


def svm_distances() -> np.ndarray:
    d = np.abs(np.random.RandomState(0).rand(20, 20))
    d = d + d.T
    np.fill_diagonal(d, 0)
    return d


SRC = torch.randn(6, 4)
IDX = torch.tensor([0, 0, 1, 1, 2, 2])
PTR = torch.tensor([0, 2, 4, 6])


def case(name: str, label: str, fn: Callable[[], Any], match: str,
         exc: type[BaseException] | tuple[type[BaseException], ...] = BAD
         ) -> Any:
    return pytest.param(fn, exc, '(?i)' + match, id=f'{name}: {label}')


CASES = [
    # ------------------------------------------------------------ transforms
    case('AddEigenPE', 'k=0', lambda: T.AddEigenPE(0), r'\bk\b'),
    case('AddEigenPE', 'k=2.5', lambda: T.AddEigenPE(2.5), r'\bk\b'),
    case('AddEigenPE', "normalization='foo'",
         lambda: T.AddEigenPE(3, normalization='foo'), 'normalization'),
    case('AddEigenPE', "on_cut='foo'", lambda: T.AddEigenPE(3, on_cut='foo'),
         'on_cut'),
    case('AddEigenPE', '[E,2] edge_index',
         lambda: T.AddEigenPE(3)(Data(edge_index=EI_T, num_nodes=N)),
         'edge_index'),
    case('AddEigenPE', 'id 100000',
         lambda: T.AddEigenPE(3)(Data(edge_index=EI_BIG, num_nodes=N)),
         'edge_index'),
    case('AddEigenPE', 'NaN edge_weight',
         lambda: T.AddEigenPE(3)(graph(edge_weight=W_NAN)), 'edge_weight'),
    case('precompute_eigen_pe', 'k=-1',
         lambda: T.precompute_eigen_pe([G], -1), r'\bk\b'),
    case('precompute_eigen_pe', 'dataset=None',
         lambda: T.precompute_eigen_pe(None, 3), 'dataset'),
    case('precompute_eigen_pe', 'chunk_size=0',
         lambda: T.precompute_eigen_pe([G], 3, chunk_size=0), 'chunk_size'),
    *[case(cls, label, fn, match)
      for cls in ('EffectiveResistanceSparsification',
                  'RandomEdgeSparsification', 'WalkIndexSparsification')
      for label, fn, match in [
          ('ratio=1.5', lambda cls=cls: getattr(T, cls)(ratio=1.5), 'ratio'),
          ('ratio=-0.1', lambda cls=cls: getattr(T, cls)(ratio=-0.1),
           'ratio'),
          ('ratio and num_remove',
           lambda cls=cls: getattr(T, cls)(ratio=0.5, num_remove=2),
           'ratio|num_remove'),
          ('[E,2] edge_index', lambda cls=cls: getattr(T, cls)(ratio=0.5)(
              Data(edge_index=EI_T, num_nodes=N)), 'edge_index'),
      ]],
    case('WalkIndexSparsification', 'num_layers=0',
         lambda: T.WalkIndexSparsification(ratio=0.5, num_layers=0),
         'num_layers'),
    case('WalkIndexSparsification', "algorithm='foo'",
         lambda: T.WalkIndexSparsification(ratio=0.5, algorithm='foo'),
         'algorithm'),
    case('EffectiveResistanceSparsification', "method='foo'",
         lambda: T.EffectiveResistanceSparsification(ratio=0.5,
                                                     method='foo'),
         'method'),
    # -------------------------------------------------------------------- nn
    case('PEGNN', 'hidden_channels=0', lambda: NN.PEGNN(3, 0, 2),
         'hidden_channels'),
    case('PEGNN', 'num_layers=-1', lambda: NN.PEGNN(3, 8, 2, num_layers=-1),
         'num_layers'),
    case('PEGNN', "conv='foo'", lambda: NN.PEGNN(3, 8, 2, conv='foo'),
         'conv'),
    case('PEGNN', "pool='foo'", lambda: NN.PEGNN(3, 8, 2, pool='foo'),
         'pool'),
    case('PEGNN', 'x of the wrong width',
         lambda: NN.PEGNN(3, 8, 2)(graph(x=torch.randn(N, 5))),
         r'\bx\b|in_channels|node_encoder'),
    *[case(cls.__name__, label, fn, match)
      for cls in (NN.SPE, NN.BasisNet, NN.LapPE, NN.SignNet)
      for label, fn, match in [
          ('k=0', lambda cls=cls: cls(0, 8), r'\bk\b'),
          ('out_channels=-1', lambda cls=cls: cls(4, -1), 'out_channels'),
          ('eigvecs with the wrong k',
           lambda cls=cls: pe_call(cls, eigvecs=torch.randn(N, 3)),
           r'eigvecs|\bk\b'),
          ('NaN eigvecs', lambda cls=cls: pe_call(
              cls, eigvecs=nanify(torch.randn(N, 4))), 'eigvecs'),
          ('eigvals with the wrong k', lambda cls=cls: pe_call(
              cls, eigvals=torch.rand(1, 3)), 'eigvals'),
          ('batch of the wrong length', lambda cls=cls: pe_call(
              cls, batch=torch.zeros(4, dtype=L)), 'batch'),
          ('[E,2] edge_index', lambda cls=cls: pe_call(cls, edge_index=EI_T),
           'edge_index'),
      ]],
    case('SignNet', "phi='foo'", lambda: NN.SignNet(4, 8, phi='foo'), 'phi'),
    case('BasisNet', "per_multiplicity='foo'",
         lambda: NN.BasisNet(4, 8, per_multiplicity='foo'),
         'per_multiplicity'),
    case('build_pe_encoder', "name='foo'",
         lambda: NN.build_pe_encoder('foo', 4, 8), 'name|encod'),
    case('build_pe_encoder', 'k=-1',
         lambda: NN.build_pe_encoder('signnet', -1, 8), r'\bk\b'),
    *[case(cls.__name__, label, fn, match)
      for cls in (NN.FastMaxAggregation, NN.FastMeanAggregation,
                  NN.FastMinAggregation, NN.FastSoftmaxAggregation,
                  NN.FastSumAggregation)
      for label, fn, match in [
          ("backend='foo'", lambda cls=cls: cls(backend='foo'), 'backend'),
          ('index of the wrong length', lambda cls=cls: agg_call(
              cls, index=torch.tensor([0, 1, 2])), 'index'),
          ('float index', lambda cls=cls: agg_call(
              cls, index=IDX.float()), 'index'),
          ('index >= dim_size', lambda cls=cls: agg_call(cls, dim_size=2),
           'index|dim_size'),
          ('negative index', lambda cls=cls: agg_call(
              cls, index=put(IDX, 1, -1)), 'index'),
      ]],
    case('FastSoftmaxAggregation', 't=nan',
         lambda: NN.FastSoftmaxAggregation(t=NAN), r'\bt\b'),
    case('UniFLConv', 'channels=0', lambda: NN.UniFLConv(0), 'channels'),
    case('UniFLConv', 'weight of the wrong length',
         lambda: NN.UniFLConv(4)(torch.randn(N, 4), EI, torch.rand(5),
                                 torch.rand(N)), 'weight'),
    case('UniFLConv', '[E,2] edge_index',
         lambda: NN.UniFLConv(4)(torch.randn(N, 4), EI_T, torch.rand(NE),
                                 torch.rand(N)), 'edge_index'),
    case('UniFLMPNN', 'num_layers=-1', lambda: NN.UniFLMPNN(num_layers=-1),
         'num_layers'),
    case('UniFLMPNN', 'p_min=1.5', lambda: NN.UniFLMPNN(p_min=1.5), 'p_min'),
    case('UniFLMPNN', 'negative opening_cost',
         lambda: NN.UniFLMPNN(hidden_channels=8)(
             fl_with(opening_cost=torch.tensor([-1.]))),
         r'opening_cost|\bf\b'),
    case('UniFLRadius', 'num_bins=0', lambda: NN.UniFLRadius(0), 'num_bins'),
    case('UniFLRadius', 'f=0',
         lambda: NN.UniFLRadius()(EI, torch.rand(NE), 0.0, N), r'\bf\b'),
    case('UniFLRadius', 'NaN dist',
         lambda: NN.UniFLRadius()(EI, nanify(torch.rand(NE)), 1.0, N),
         'dist'),
    case('train_unifl', 'no instances',
         lambda: NN.train_unifl(NN.UniFLMPNN(hidden_channels=8), [], steps=1),
         'instances'),
    case('train_unifl', 'steps=-1',
         lambda: NN.train_unifl(NN.UniFLMPNN(hidden_channels=8),
                                [facility()], steps=-1), 'steps'),
    case('train_unifl', 'lr=nan',
         lambda: NN.train_unifl(NN.UniFLMPNN(hidden_channels=8),
                                [facility()], steps=1, lr=NAN), r'\blr\b'),
    case('unifl_decode', 'p > 1',
         lambda: NN.unifl_decode(torch.rand(20) + 1, table(), 1.0), r'\bp\b'),
    case('unifl_decode', "mode='foo'",
         lambda: NN.unifl_decode(torch.rand(20), table(), 1.0, mode='foo'),
         'mode'),
    case('unifl_decode', 'f=-1',
         lambda: NN.unifl_decode(torch.rand(20), table(), -1.0), r'\bf\b'),
    case('unifl_solve', "mode='foo'",
         lambda: NN.unifl_solve(NN.UniFLMPNN(hidden_channels=8), facility(),
                                mode='foo'), 'mode'),
    case('unifl_solve', 'data without pos',
         lambda: NN.unifl_solve(NN.UniFLMPNN(hidden_channels=8),
                                Data(edge_index=EI, num_nodes=N)),
         'pos|opening_cost'),
    case('OptGNN', "problem='foo'", lambda: NN.OptGNN('foo'), 'problem'),
    case('OptGNN', 'rank=0', lambda: NN.OptGNN('maxcut', rank=0), 'rank'),
    case('OptGNN', 'num_layers=-1',
         lambda: NN.OptGNN('maxcut', num_layers=-1), 'num_layers'),
    case('OptGNN', '[E,2] edge_index',
         lambda: NN.OptGNN('maxcut', 4, 2)(Data(edge_index=EI_T,
                                                num_nodes=N)), 'edge_index'),
    case('OptGNN', 'V with the wrong rank',
         lambda: NN.OptGNN('maxcut', 4, 2)(erdos_renyi(10, 0.4),
                                           V=torch.randn(10, 3)), r'\bV\b'),
    case('OptGNN', 'solve restarts=0',
         lambda: NN.OptGNN('maxcut', 4, 2).solve(erdos_renyi(10, 0.4),
                                                 restarts=0), 'restarts'),
    case('OptGNNLayer', 'rank=0', lambda: NN.OptGNNLayer(0), 'rank'),
    case('OptGNNLayer', 'V/G shape mismatch',
         lambda: NN.OptGNNLayer(4)(torch.randn(N, 4), torch.randn(5, 4)),
         r'\bG\b|\bV\b'),
    case('HeterophilyBaseline', "model='foo'",
         lambda: HeterophilyBaseline('foo', 3, 2, hidden_channels=8),
         'model'),
    case('HeterophilyBaseline', 'num_layers=-1',
         lambda: HeterophilyBaseline('gcn', 3, 2, hidden_channels=8,
                                     num_layers=-1), 'num_layers'),
    case('HeterophilyBaseline', 'dropout=1.5',
         lambda: HeterophilyBaseline('gcn', 3, 2, hidden_channels=8,
                                     dropout=1.5), 'dropout'),
    case('HeterophilyBaseline', "normalization='foo'",
         lambda: HeterophilyBaseline('gcn', 3, 2, hidden_channels=8,
                                     normalization='foo'), 'normalization'),
    *[case('HeterophilyBaseline', f'{m}: {label}', fn, match)
      for m in ('gcn', 'sage', 'gat', 'gt')
      for label, fn, match in [
          ('x of the wrong width', lambda m=m: HeterophilyBaseline(
              m, 3, 2, hidden_channels=8, num_heads=2)(torch.randn(N, 5), EI),
           r'\bx\b|in_channels'),
          ('id 100000', lambda m=m: HeterophilyBaseline(
              m, 3, 2, hidden_channels=8, num_heads=2)(X, EI_BIG),
           'edge_index'),
          ('negative id', lambda m=m: HeterophilyBaseline(
              m, 3, 2, hidden_channels=8, num_heads=2)(X, EI_NEG),
           'edge_index'),
      ]],
    # --------------------------------------------------------------- metrics
    *[case(fn, label, f, match)
      for fn in ('adjusted_homophily', 'aggregation_homophily',
                 'class_insensitive_homophily', 'compatibility_matrix',
                 'edge_homophily', 'homophily_report',
                 'label_informativeness', 'node_homophily')
      for label, f, match in [
          ('[E,2] edge_index', lambda fn=fn: getattr(M, fn)(EI_T, Y),
           'edge_index'),
          ('id 100000', lambda fn=fn: getattr(M, fn)(EI_BIG, Y),
           'edge_index'),
          ('negative id', lambda fn=fn: getattr(M, fn)(EI_NEG, Y),
           'edge_index'),
          ('non-integer float y', lambda fn=fn: getattr(M, fn)(
              EI, Y.float() + 0.5), r'\by\b'),
          ('y of the wrong length', lambda fn=fn: getattr(M, fn)(EI, Y[:4]),
           r'\by\b'),
          ('num_nodes=-1', lambda fn=fn: getattr(M, fn)(EI, Y, num_nodes=-1),
           'num_nodes'),
      ]],
    case('label_informativeness', "method='foo'",
         lambda: M.label_informativeness(EI, Y, method='foo'), 'method'),
    case('compatibility_matrix', 'num_classes < max label',
         lambda: M.compatibility_matrix(EI, Y, num_classes=2),
         r'num_classes|\by\b'),
    case('HomophilyError', 'one class', lambda: M.adjusted_homophily(
        EI, torch.zeros(N, dtype=L)), 'class', HomophilyError),
    case('plot_compatibility_matrix', 'non-square matrix',
         lambda: M.plot_compatibility_matrix(torch.rand(3, 4)), 'matrix'),
    case('plot_compatibility_matrix', 'class_names of the wrong length',
         lambda: M.plot_compatibility_matrix(torch.rand(3, 3),
                                             class_names=['a']),
         'class_names'),
    case('StableGIN', 'num_layers=0', lambda: M.StableGIN(3, 8, 2, 0),
         'num_layers'),
    case('StableGIN', 'x of the wrong width',
         lambda: M.StableGIN(3, 8, 2)(torch.randn(N, 5), EI),
         r'\bx\b|in_channels'),
    case('StableGIN', '[E,2] edge_index',
         lambda: M.StableGIN(3, 8, 2)(X, EI_T), 'edge_index'),
    *[case(fn, label, f, match)
      for fn in ('tree_movers_distance', 'rjl_distance',
                 'didm_movers_distance')
      for label, f, match in [
          ('depth=0', lambda fn=fn: getattr(M, fn)(GB, GB2, 0), 'depth'),
          ('depth=2.5', lambda fn=fn: getattr(M, fn)(GB, GB2, 2.5), 'depth'),
          ("flow='foo'", lambda fn=fn: getattr(M, fn)(GB, GB2, 2, flow='foo'),
           'flow'),
          ('p=0.5', lambda fn=fn: getattr(M, fn)(GB, GB2, 2, p=0.5),
           r'\bp\b'),
          ("backend='foo'", lambda fn=fn: getattr(M, fn)(
              GB, GB2, 2, backend='foo'), 'backend'),
          ('g1=None', lambda fn=fn: getattr(M, fn)(None, GB2, 2), 'g1'),
          ('NaN x', lambda fn=fn: getattr(M, fn)(graph(x=nanify(X)), GB2, 2),
           r'\bx\b|g1'),
          ('x width mismatch', lambda fn=fn: getattr(M, fn)(
              GB, graph(x=torch.rand(N, 4)), 2), r'\bx\b|feature|column'),
          ('[E,2] edge_index', lambda fn=fn: getattr(M, fn)(
              graph(edge_index=EI_T), GB2, 2), 'edge_index'),
      ]],
    case('tree_movers_distance', 'weights=-1',
         lambda: M.tree_movers_distance(GB, GB2, 2, -1.0), 'weights'),
    case('tree_movers_distance', "weights='foo'",
         lambda: M.tree_movers_distance(GB, GB2, 2, 'foo'), 'weights'),
    case('rjl_distance', "unmatched='foo'",
         lambda: M.rjl_distance(GB, GB2, 2, unmatched='foo'), 'unmatched'),
    case('didm_movers_distance', "aggregation='foo'",
         lambda: M.didm_movers_distance(GB, GB2, 2, aggregation='foo'),
         'aggregation'),
    *[case(fn, label, f, match)
      for fn, call in [
          ('pairwise', lambda gs, **kw: M.pairwise(gs, **kw)),
          ('cross', lambda gs, **kw: M.cross(gs, [GB2], **kw)),
          ('tmd_pairwise', lambda gs, **kw: M.tmd_pairwise(gs, **kw)),
          ('tmd_cross', lambda gs, **kw: M.tmd_cross(gs, [GB2], **kw)),
          ('didm_pairwise', lambda gs, **kw: M.didm_pairwise(gs, **kw)),
          ('didm_cross', lambda gs, **kw: M.didm_cross(gs, [GB2], **kw))]
      for label, f, match in [
          ('graphs=None', lambda call=call: call(None), 'graphs'),
          ('a graph is None', lambda call=call: call([GB, None]), 'graph'),
          ('n_jobs=0', lambda call=call: call([GB, GB2], n_jobs=0), 'n_jobs'),
          ('depth=0', lambda call=call: call([GB, GB2], depth=0), 'depth'),
          ('unknown kwarg', lambda call=call: call([GB, GB2], foo=1), 'foo'),
      ]],
    case('pairwise', "metric='foo'",
         lambda: M.pairwise([GB, GB2], metric='foo'), 'metric'),
    case('cross', "metric='foo'",
         lambda: M.cross([GB], [GB2], metric='foo'), 'metric'),
    case('pascal_weights', 'depth=0', lambda: M.pascal_weights(0), 'depth'),
    case('pascal_weights', 'depth=2.5', lambda: M.pascal_weights(2.5),
         'depth'),
    case('pascal_weights', "depth='3'", lambda: M.pascal_weights('3'),
         'depth'),
    *[case(fn, label, f, match)
      for fn in ('exp_kernel', 'gaussian_kernel')
      for label, f, match in [
          ('NaN D', lambda fn=fn: getattr(M, fn)(nanify(torch.rand(3, 3))),
           r'\bD\b'),
          ('3-D D', lambda fn=fn: getattr(M, fn)(np.ones((2, 3, 3))),
           r'\bD\b'),
          ('gamma=-1', lambda fn=fn: getattr(M, fn)(np.ones((3, 3)), -1.0),
           'gamma'),
      ]],
    case('tmd_svm_cv', 'non-square distances',
         lambda: M.tmd_svm_cv(svm_distances()[:, :5], np.arange(20) % 2),
         'distances'),
    case('tmd_svm_cv', 'y of the wrong length',
         lambda: M.tmd_svm_cv(svm_distances(), np.arange(5) % 2), r'\by\b'),
    case('tmd_svm_cv', 'n_splits=1',
         lambda: M.tmd_svm_cv(svm_distances(), np.arange(20) % 2,
                              n_splits=1), 'n_splits'),
    case('stability_study', 'empty dataset',
         lambda: M.stability_study([], epochs=1, num_pairs=2), 'dataset'),
    case('stability_study', 'num_layers=0',
         lambda: M.stability_study(graph_level(), num_layers=0, epochs=1,
                                   num_pairs=1), 'num_layers'),
    case('stability_study', 'num_pairs=0',
         lambda: M.stability_study(graph_level(), epochs=1, num_pairs=0),
         'num_pairs'),
    case('stability_study', "backend='foo'",
         lambda: M.stability_study(graph_level(), epochs=1, num_pairs=1,
                                   backend='foo'), 'backend'),
    # -------------------------------------------------------------- datasets
    case('get_dataset', "name='foo'", lambda: D.get_dataset('foo'),
         'foo', D.UnknownDatasetError),
    case('get_dataset', 'name=None', lambda: D.get_dataset(None), 'name',
         D.UnknownDatasetError),
    case('get_dataset', 'missing root',
         lambda: D.get_dataset('MUTAG', MISSING), 'root',
         DataRootError),
    case('get_dataset', 'root=3', lambda: D.get_dataset('MUTAG', 3), 'root',
         TypeError),
    case('get_spec', "name='MUTAGG'", lambda: D.get_spec('MUTAGG'),
         'MUTAG', D.UnknownDatasetError),
    case('UnknownDatasetError', 'is a ValueError', lambda: D.get_spec(''),
         'name', ValueError),
    case('list_datasets', "family='foo'", lambda: D.list_datasets('foo'),
         'family', ValueError),
    case('list_datasets', 'family=3', lambda: D.list_datasets(3), 'family',
         TypeError),
    case('register_dataset', 'spec is a str',
         lambda: D.register_dataset('MUTAG'), 'spec', TypeError),
    case('DatasetSpec', 'loader not callable',
         lambda: D.DatasetSpec('x', 'tu', 3), 'loader', TypeError),
    case('DatasetSpec', 'family with a slash',
         lambda: D.DatasetSpec('x', '../x', lambda *a, **k: None), 'family',
         ValueError),
    case('DatasetSpec', "task='foo'",
         lambda: D.DatasetSpec('x', 'tu', lambda *a, **k: None, task='foo'),
         'task', ValueError),
    case('DatasetSpec', 'name=3',
         lambda: D.DatasetSpec(3, 'tu', lambda *a, **k: None), 'name',
         TypeError),
    case('PlatonovHeterophilyDataset', "name='foo'",
         lambda: D.PlatonovHeterophilyDataset('.', 'foo'), 'name',
         ValueError),
    case('PlatonovHeterophilyDataset', 'name=3',
         lambda: D.PlatonovHeterophilyDataset('.', 3), 'name', TypeError),
    case('PlatonovHeterophilyDataset', 'root=None',
         lambda: D.PlatonovHeterophilyDataset(None, 'texas'), 'root',
         TypeError),
    case('PlatonovHeterophilyDataset', 'transform=3',
         lambda: D.PlatonovHeterophilyDataset('.', 'texas', transform=3),
         'transform', TypeError),
    case('CSLDataset', 'num_nodes=5 (classes would collapse)',
         lambda: CSLDataset(num_nodes=5), 'num_nodes', ValueError),
    case('CSLDataset', 'num_nodes=2.5', lambda: CSLDataset(num_nodes=2.5),
         'num_nodes', TypeError),
    case('CSLDataset', 'graphs_per_class=0',
         lambda: CSLDataset(graphs_per_class=0), 'graphs_per_class',
         ValueError),
    case('CSLDataset', "seed='a'", lambda: CSLDataset(seed='a'), 'seed',
         TypeError),
    case('CSLDataset', 'pre_transform=3',
         lambda: CSLDataset(pre_transform=3), 'pre_transform', TypeError),
    case('CSLDataset', 'get_idx_split fold=7',
         lambda: CSLDataset(graphs_per_class=5).get_idx_split(fold=7),
         'fold', ValueError),
    case('CSLDataset', 'get_idx_split num_folds=1',
         lambda: CSLDataset(graphs_per_class=5).get_idx_split(num_folds=1),
         'num_folds', ValueError),
    case('CSLDataset', 'get_idx_split num_folds > graphs_per_class',
         lambda: CSLDataset(graphs_per_class=3).get_idx_split(),
         'num_folds', ValueError),
    # ------------------------------------------------------------------- ops
    *[case(fn, label, f, match)
      for fn in ('scatter', 'scatter_max', 'scatter_min', 'scatter_softmax',
                 'softmax')
      for label, f, match in [
          ('2-D index', lambda fn=fn: getattr(O, fn)(SRC, IDX.view(2, 3)),
           'index'),
          ('float index', lambda fn=fn: getattr(O, fn)(SRC, IDX.float()),
           'index'),
          ('index of the wrong length',
           lambda fn=fn: getattr(O, fn)(SRC, IDX[:4]), 'index'),
          ('negative index',
           lambda fn=fn: getattr(O, fn)(SRC, put(IDX, 1, -1)), 'index'),
          ('index 100000 >= size 3', lambda fn=fn: getattr(O, fn)(
              SRC, put(IDX, 1, 100000),
              **{'num_nodes' if fn == 'softmax' else 'dim_size': 3}),
           'index|dim_size|num_nodes'),
          ('dim=5', lambda fn=fn: getattr(O, fn)(SRC, IDX, dim=5),
           r'\bdim\b'),
          ("backend='foo'",
           lambda fn=fn: getattr(O, fn)(SRC, IDX, backend='foo'), 'backend'),
      ]],
    *[case(fn, 'index >= dim_size',
           lambda fn=fn: getattr(O, fn)(SRC, IDX, dim_size=2),
           'index|dim_size')
      for fn in ('scatter', 'scatter_max', 'scatter_min', 'scatter_softmax')],
    case('scatter', "reduce='foo'", lambda: O.scatter(SRC, IDX, reduce='foo'),
         'reduce'),
    case('softmax', 'num_nodes < max index',
         lambda: O.softmax(SRC, IDX, num_nodes=2), 'index|num_nodes'),
    case('softmax', 'neither index nor ptr', lambda: O.softmax(SRC),
         'index|ptr'),
    case('segment', 'non-monotone ptr',
         lambda: O.segment(SRC, torch.tensor([0, 4, 2, 6])), 'ptr'),
    case('segment', 'ptr beyond src',
         lambda: O.segment(SRC, torch.tensor([0, 2, 4, 100])), 'ptr'),
    case('segment', 'ptr ending before src',
         lambda: O.segment(SRC, torch.tensor([0, 2, 4])), 'ptr'),
    case('segment', 'float ptr', lambda: O.segment(SRC, PTR.float()), 'ptr'),
    case('segment', "reduce='foo'", lambda: O.segment(SRC, PTR, 'foo'),
         'reduce'),
    case('spmm', '[E,2] edge_index', lambda: O.spmm(EI_T, torch.randn(N, 4)),
         'adj|edge_index'),
    case('spmm', 'float edge_index',
         lambda: O.spmm(EI.float(), torch.randn(N, 4)), 'adj|edge_index'),
    case('spmm', 'id 100000', lambda: O.spmm(EI_BIG, torch.randn(N, 4)),
         'adj|edge_index'),
    case('spmm', 'negative id', lambda: O.spmm(EI_NEG, torch.randn(N, 4)),
         'adj|edge_index'),
    case('spmm', 'id == num_nodes',
         lambda: O.spmm(EI_EQ, torch.randn(N, 4)), 'adj|edge_index'),
    case('spmm', 'edge_weight of the wrong length',
         lambda: O.spmm(EI, torch.randn(N, 4), edge_weight=torch.ones(3)),
         'edge_weight'),
    case('spmm', "reduce='foo'", lambda: O.spmm(EI, torch.randn(N, 4), 'foo'),
         'reduce'),
    case('spmm_csr', 'col 100000',
         lambda: O.spmm_csr(PTR, put(torch.arange(6), 1, 100000),
                            torch.randn(N, 4)), 'col'),
    case('spmm_csr', 'non-monotone rowptr',
         lambda: O.spmm_csr(torch.tensor([0, 4, 2, 6]), torch.arange(6),
                            torch.randn(N, 4)), 'rowptr'),
    case('spmm_csr', 'rowptr beyond col',
         lambda: O.spmm_csr(torch.tensor([0, 2, 4, 100]), torch.arange(6),
                            torch.randn(N, 4)), 'rowptr'),
    case('set_backend', "'foo'", lambda: O.set_backend('foo'),
         'backend|name'),
    case('set_backend', 'None', lambda: O.set_backend(None), 'backend|name'),
    case('use_backend', "'foo'",
         lambda: O.use_backend('foo').__enter__(), 'backend|name'),
    case('get_backend', 'an argument', lambda: O.get_backend(1),
         'get_backend|argument'),
    case('pyg_enabled', 'an argument', lambda: O.pyg_enabled(1),
         'pyg_enabled|argument'),
    case('enable_pyg', 'an argument', lambda: O.enable_pyg(1),
         'enable_pyg|argument'),
    case('disable_pyg', 'an argument', lambda: O.disable_pyg(1),
         'disable_pyg|argument'),
    case('pyg_switch', "enabled='no'",
         lambda: O.pyg_switch('no').__enter__(), 'enabled'),
    # --------------------------------------------------------------- combopt
    case('FacilityLocationDataset', "family='foo'",
         lambda: C.FacilityLocationDataset('.', family='foo', num_nodes=20,
                                           num_graphs=1), 'family'),
    case('FacilityLocationDataset', 'num_nodes=0',
         lambda: C.FacilityLocationDataset('.', num_nodes=0, num_graphs=1),
         'num_nodes'),
    case('FacilityLocationDataset', 'opening_cost=0',
         lambda: C.FacilityLocationDataset('.', num_nodes=20, num_graphs=1,
                                           opening_cost=0.0),
         'opening.cost'),
    case('generate_facility_points', "family='foo'",
         lambda: C.generate_facility_points('foo', 20), 'family'),
    case('generate_facility_points', 'n=-1',
         lambda: C.generate_facility_points('uniform', -1), r'\bn\b'),
    case('generate_facility_points', 'avg_neighbors=nan',
         lambda: C.generate_facility_points('uniform', 20,
                                            avg_neighbors=NAN),
         'avg_neighbors'),
    case('make_facility_instance', 'f=0',
         lambda: C.make_facility_instance('uniform', 20, f=0.0), r'\bf\b'),
    case('make_facility_instance', 'n=0',
         lambda: C.make_facility_instance('uniform', 0), r'\bn\b'),
    case('facility_graph', 'NaN pos',
         lambda: C.facility_graph(nanify(torch.rand(20, 2))), 'pos'),
    case('facility_graph', 'k=0',
         lambda: C.facility_graph(torch.rand(20, 2), k=0), r'\bk\b'),
    case('facility_graph', 'f=-1',
         lambda: C.facility_graph(torch.rand(20, 2), f=-1.0), r'\bf\b'),
    case('facility_table', 'max_neighbors=0',
         lambda: C.facility_table(torch.rand(20, 2), max_neighbors=0),
         'max_neighbors'),
    case('facility_table', '1-D pos',
         lambda: C.facility_table(torch.rand(20)), 'pos'),
    case('neighbor_table', 'negative dist',
         lambda: C.neighbor_table(EI, put(torch.rand(NE), 0, -1.0), N),
         'dist'),
    case('neighbor_table', 'dist of the wrong length',
         lambda: C.neighbor_table(EI, torch.rand(5), N), 'dist'),
    case('neighbor_table', '[E,2] edge_index',
         lambda: C.neighbor_table(EI_T, torch.rand(NE), N), 'edge_index'),
    case('NeighborTable', 'mismatched shapes',
         lambda: C.NeighborTable(torch.zeros(3, 4, dtype=L),
                                 torch.zeros(3, 2),
                                 torch.ones(3, 4, dtype=torch.bool)),
         'dist|index|mask|shape'),
    *[case(fn, label, f, 'open_mask')
      for fn, call in [
          ('assign_open', lambda om: C.assign_open(table(), om)),
          ('repair_open', lambda om: C.repair_open(table(), om)),
          ('facility_table_cost',
           lambda om: C.facility_table_cost(table(), om, 1.0)),
          ('facility_local_search',
           lambda om: C.facility_local_search(table(), om, 1.0))]
      for label, f in [
          ('open_mask of the wrong length',
           lambda call=call: call(torch.ones(5, dtype=torch.bool))),
          ('float open_mask', lambda call=call: call(torch.rand(20))),
      ]],
    case('facility_local_search', 'max_iter=-1',
         lambda: C.facility_local_search(
             table(), torch.ones(20, dtype=torch.bool), 1.0, max_iter=-1),
         'max_iter'),
    case('expected_facility_cost', 'p > 1',
         lambda: C.expected_facility_cost(torch.rand(20) + 1, table(), 1.0),
         r'\bp\b'),
    case('expected_facility_cost', "reduce='foo'",
         lambda: C.expected_facility_cost(torch.rand(20), table(), 1.0,
                                          reduce='foo'), 'reduce'),
    case('facility_radii', 'f=0', lambda: C.facility_radii(table(), 0.0),
         r'\bf\b'),
    case('facility_cost', 'open_mask of the wrong length',
         lambda: C.facility_cost(torch.rand(20, 2),
                                 torch.ones(5, dtype=torch.bool), 1.0),
         'open_mask'),
    case('facility_cost', 'f=nan',
         lambda: C.facility_cost(torch.rand(20, 2),
                                 torch.ones(20, dtype=torch.bool), NAN),
         r'\bf\b'),
    *[case(fn, label, f, match)
      for fn in ('facility_greedy', 'facility_ilp', 'facility_radius_sum',
                 'mettu_plaxton', 'simple_uniform_fl')
      for label, f, match in [
          ('data=None', lambda fn=fn: getattr(C, fn)(None), 'data'),
          ('data without pos', lambda fn=fn: getattr(C, fn)(
              Data(edge_index=EI, num_nodes=N)), 'pos|data'),
          ('NaN pos', lambda fn=fn: getattr(C, fn)(
              fl_with(pos=nanify(facility().pos))), 'pos'),
      ]],
    case('facility_greedy', 'max_rounds=0',
         lambda: C.facility_greedy(facility(), max_rounds=0), 'max_rounds'),
    case('facility_ilp', 'time_limit=-1',
         lambda: C.facility_ilp(facility(), time_limit=-1.0), 'time_limit'),
    case('facility_kmeanspp', 'k=0',
         lambda: C.facility_kmeanspp(facility(), 0), r'\bk\b'),
    case('facility_kmeanspp', 'k > n',
         lambda: C.facility_kmeanspp(facility(), 100), r'\bk\b'),
    case('mettu_plaxton', 'radii of the wrong length',
         lambda: C.mettu_plaxton(facility(), radii=torch.rand(5)), 'radii'),
    case('simple_uniform_fl', 'c=-1',
         lambda: C.simple_uniform_fl(facility(), c=-1.0), r'\bc\b'),
    *[case(cls, label, f, match)
      for cls, data in [('MaxCut', lambda: erdos_renyi(10, 0.4)),
                        ('VertexCover', lambda: erdos_renyi(10, 0.4)),
                        ('Max3Sat', lambda: random_3sat(10, 4.2))]
      for label, f, match in [
          ('V with the wrong rows', lambda cls=cls, data=data: getattr(
              C, cls)().loss(data(), torch.randn(3, 4)), r'\bV\b'),
          ('NaN V', lambda cls=cls, data=data: getattr(C, cls)().loss(
              data(), nanify(torch.randn(10, 4))), r'\bV\b'),
          ('S of the wrong length', lambda cls=cls, data=data: getattr(
              C, cls)().score(data(), torch.ones(3)), r'\bS\b'),
          ('S not +-1', lambda cls=cls, data=data: getattr(C, cls)().score(
              data(), torch.full((10,), 2.0)), r'\bS\b'),
      ]],
    case('VertexCover', 'penalty=-1', lambda: C.VertexCover(penalty=-1.0),
         'penalty'),
    case('Max3Sat', 'ls_iters=-1', lambda: C.Max3Sat(ls_iters=-1),
         'ls_iters'),
    case('get_problem', "'foo'", lambda: C.get_problem('foo'),
         'name|problem'),
    case('FACILITY_FAMILIES', 'unknown family is refused',
         lambda: C.generate_facility_points('poisson', 20), 'family'),
    # ----------------------------------------------------------------- utils
    case('resolve_root', 'missing root',
         lambda: U.resolve_root(MISSING), 'root',
         DataRootError),
    case('resolve_root', 'root=3', lambda: U.resolve_root(3), 'root',
         TypeError),
    case('resolve_root', "must_exist='yes'",
         lambda: U.resolve_root('.', must_exist='yes'), 'must_exist',
         TypeError),
    case('DataRootError', 'is a FileNotFoundError',
         lambda: U.resolve_root(MISSING), 'missing_root',
         FileNotFoundError),
    case('progress', 'not iterable', lambda: U.progress(3), 'iterable',
         TypeError),
    case('setup_cli_logging', 'verbose=-1',
         lambda: U.setup_cli_logging(-1), 'verbose', ValueError),
    case('setup_cli_logging', "verbose='a'",
         lambda: U.setup_cli_logging('a'), 'verbose', TypeError),
    case('ogb_safe_load', 'an argument', lambda: U.ogb_safe_load(1),
         'ogb_safe_load|argument'),
    *[case(fn, *args)
      for fn in ('load_ogb_graphprop', 'load_ogb_nodeprop')
      for args in [
          ("name='foo'", lambda fn=fn: getattr(U, fn)(
              'foo', MISSING), 'name|foo'),
          ('name=None', lambda fn=fn: getattr(U, fn)(
              None, MISSING), 'name'),
          ('missing root', lambda fn=fn: getattr(U, fn)(
              'ogbg-molbace' if 'graph' in fn else 'ogbn-arxiv',
              MISSING), 'root', DataRootError),
      ]],
    case('eigenpairs_of_graph', 'k=0',
         lambda: E.eigenpairs_of_graph(EI, N, 0), r'\bk\b'),
    case('eigenpairs_of_graph', 'num_nodes < max id',
         lambda: E.eigenpairs_of_graph(EI, 3, 2), 'num_nodes|edge_index'),
    case('eigenpairs_of_graph', '[E,2] edge_index',
         lambda: E.eigenpairs_of_graph(EI_T, N, 3), 'edge_index'),
    case('batched_eigenpairs', 'edge_graph of the wrong length',
         lambda: E.batched_eigenpairs(EI, torch.zeros(3, dtype=L),
                                      torch.tensor([N]), 3), 'edge_graph'),
    case('check_normalization', "'foo'",
         lambda: E.check_normalization('foo'), 'normalization'),
    case('dense_laplacian', 'non-square adj',
         lambda: E.dense_laplacian(torch.rand(3, 4), 'sym'), 'adj'),
    case('eigenspace_ids', 'NaN eigvals',
         lambda: E.eigenspace_ids(nanify(torch.rand(1, 4))), 'eigvals'),
    case('multiplicities', 'tol=-1',
         lambda: E.multiplicities(torch.rand(1, 4), tol=-1.0), 'tol'),
    case('canonicalize_signs', 'NaN vecs',
         lambda: E.canonicalize_signs(nanify(torch.randn(N, 3))), 'vecs'),
    case('walk_index', 'num_layers=0',
         lambda: W.walk_index(EI, torch.tensor([0, 1, 2]), 0, N),
         'num_layers'),
    case('walk_index', '[E,2] edge_index',
         lambda: W.walk_index(EI_T, torch.tensor([0, 1, 2]), 2, N),
         'edge_index'),
    case('walk_index_scores', 'num_layers=-1',
         lambda: W.walk_index_scores(EI, -1, N), 'num_layers'),
    case('walk_index_sparsify', 'ratio=1.5',
         lambda: W.walk_index_sparsify(EI, ratio=1.5, num_nodes=N), 'ratio'),
    case('walk_index_sparsify', "algorithm='foo'",
         lambda: W.walk_index_sparsify(EI, ratio=0.5, algorithm='foo',
                                       num_nodes=N), 'algorithm'),
    case('seed_all', "seed='a'", lambda: TS.seed_all('a'), 'seed'),
    case('copy_dataset', 'missing subdir',
         lambda: TS.copy_dataset(MISSING, 'tu', '/tmp'), 'tu',
         FileNotFoundError),
]


@pytest.mark.parametrize('fn,exc,match', CASES)
def test_bad_input(fn: Callable[[], Any], exc: Any, match: str) -> None:
    with pytest.raises(exc, match=match):
        fn()


def test_ok_edge_cases() -> None:
    # valid edge cases must keep working (the checks above are not
    # over-eager): k > n with padding, empty inputs, inferred sizes
    out = T.AddEigenPE(10, on_cut='ignore')(G)
    assert out.eigvecs.shape == (N, 10)
    assert int(out.eig_mask.sum()) == N
    assert O.scatter(SRC[:0], IDX[:0], dim_size=3).shape == (3, 4)
    assert O.spmm(torch.empty(2, 0, dtype=L), torch.randn(N, 4)).abs().sum(
    ) == 0
    assert 'MUTAG' in {s.name for s in D.list_datasets('tu')}
    assert str(U.resolve_root('.', must_exist=True)) == os.path.abspath('.')
    assert list(U.progress(iter([1, 2]))) == [1, 2]
    # ring 0-1-2-3-4-5-0 with labels 0 1 0 1 2 2: only edge 4-5 is intra-class
    assert math.isclose(M.edge_homophily(EI, Y), 1 / 6)
    # integral float labels mean the same labels
    assert math.isclose(M.edge_homophily(EI, Y.float()), 1 / 6)


def _npz(folder: Any, name: str, **over: Any) -> None:
    raw = folder / name / 'raw'
    raw.mkdir(parents=True)
    arrays = dict(node_features=np.ones((3, 2)), node_labels=np.zeros(3),
                  edges=np.array([[0, 1], [1, 2]]),
                  train_masks=np.ones((1, 3), bool),
                  val_masks=np.ones((1, 3), bool),
                  test_masks=np.ones((1, 3), bool))
    arrays.update(over)
    np.savez(raw / f'{name}.npz', **arrays)


@pytest.mark.parametrize('over,match', [
    (dict(node_features=np.array([[NAN, 1.], [1., 2.], [0., 0.]])),
     'node_features'),
    (dict(node_labels=np.array([0, -1, 1])), 'node_labels'),
    (dict(edges=np.array([[0, 1.5]])), 'edges'),
    (dict(edges=np.array([[0, 5]])), 'out of range'),
    (dict(node_labels=np.zeros(2)), 'labels'),
])
def test_platonov_npz_rejects_bad_files(tmp_path: Any, over: dict[str, Any],
                                        match: str) -> None:
    _npz(tmp_path, 'texas', **over)
    with pytest.raises(ValueError, match=match):
        D.PlatonovHeterophilyDataset(str(tmp_path), 'texas')


def test_platonov_npz_good_file_loads(tmp_path: Any) -> None:
    _npz(tmp_path, 'texas')
    data = D.PlatonovHeterophilyDataset(str(tmp_path), 'texas')[0]
    assert data.num_nodes == 3 and data.edge_index.size(1) == 4


def test_platonov_garbage_file(tmp_path: Any) -> None:
    raw = tmp_path / 'cornell' / 'raw'
    raw.mkdir(parents=True)
    (raw / 'cornell.npz').write_text('not a zip file')
    with pytest.raises(ValueError, match=r'cornell\.npz.*not a'):
        D.PlatonovHeterophilyDataset(str(tmp_path), 'cornell')


def test_platonov_failed_download(tmp_path: Any,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.error

    import pyg_ext.datasets.heterophily as het

    def offline(*args: Any, **kwargs: Any) -> None:
        raise urllib.error.URLError('offline')

    monkeypatch.setattr(het, 'download_url', offline)
    with pytest.raises(FileNotFoundError, match='wisconsin.npz.*missing'):
        D.PlatonovHeterophilyDataset(str(tmp_path), 'wisconsin')


def test_ogb_loaders_leave_a_missing_root_alone() -> None:
    for fn, name in ((U.load_ogb_graphprop, 'ogbg-molbace'),
                     (U.load_ogb_nodeprop, 'ogbn-arxiv')):
        with pytest.raises(DataRootError, match='root'):
            fn(name, MISSING)
    assert not os.path.exists(os.path.dirname(MISSING))


def test_ogb_missing_release_note(tmp_path: Any) -> None:
    (tmp_path / 'ogbg_molbace').mkdir()
    with pytest.raises(FileNotFoundError, match='RELEASE'):
        U.load_ogb_graphprop('ogbg-molbace', tmp_path)


def test_testing_helpers_validate(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match='seed'):
        TS.seed_all(-1)
    with pytest.raises(ValueError, match='seed'):
        TS.seed_all(2**40)
    with pytest.raises(ValueError, match='rtol'):
        TS.assert_close_rel(1.0, 1.0, rtol=-1.0)
    with pytest.raises(ValueError, match='atol'):
        TS.assert_close_rel(1.0, 1.0, atol=NAN)
    with pytest.raises(TypeError, match='actual'):
        TS.assert_close_rel('a', 1.0)
    with pytest.raises(AssertionError, match='not close'):
        TS.assert_close_rel(NAN, NAN)
    (tmp_path / 'src' / 'a').mkdir(parents=True)
    with pytest.raises(ValueError, match='subdir'):
        TS.copy_dataset(tmp_path / 'src' / 'a', '..', tmp_path / 'dst')
    with pytest.raises(TypeError, match='subdir'):
        TS.copy_dataset(tmp_path / 'src', None, tmp_path / 'dst')
    with pytest.raises(TypeError, match='src_root'):
        TS.copy_dataset(None, 'a', tmp_path / 'dst')
    assert TS.copy_dataset(tmp_path / 'src', 'a', tmp_path / 'dst') == (
        tmp_path / 'dst')


def test_progress_validates() -> None:
    with pytest.raises(TypeError, match='foo'):
        list(U.progress([1], enabled=True, foo=1))
    with pytest.raises(TypeError, match='iterable'):
        U.progress(None)


def test_csl_valid_sizes_still_work() -> None:
    from pyg_ext.datasets.csl import MIN_NUM_NODES, csl_edge_index
    ds = CSLDataset(num_nodes=MIN_NUM_NODES, graphs_per_class=3)
    split = ds.get_idx_split(fold=2, num_folds=3)
    assert sum(v.numel() for v in split.values()) == 30
    # every class is a distinct 4-regular graph at the smallest size
    degs = {int(torch.bincount(csl_edge_index(MIN_NUM_NODES, r)[0]).max())
            for r in (2, 16)}
    assert degs == {4}
    with pytest.raises(ValueError, match='skip'):
        csl_edge_index(10, 10)


# --------------------------------------------------------------------------
# Crash-prone: bad ids handed to Triton (CPU interpreter), sparse CSR and
# numba kernels. They run in one subprocess; a segfault or abort there fails
# the cases it did not reach instead of the whole session.

CRASH_PRONE: dict[str, tuple[str, str]] = {
    'scatter triton id 100000': (
        "O.scatter(src, bad(idx, 1, 100000), dim_size=3, backend='triton')",
        'index|dim_size'),
    'scatter triton negative id': (
        "O.scatter(src, bad(idx, 1, -1), backend='triton')", 'index'),
    'scatter triton dim_size too small': (
        "O.scatter(src, idx, dim_size=2, backend='triton')",
        'index|dim_size'),
    'segment triton ptr beyond src': (
        "O.segment(src, torch.tensor([0, 2, 4, 100]), backend='triton')",
        'ptr'),
    'segment triton non-monotone ptr': (
        "O.segment(src, torch.tensor([0, 4, 2, 6]), backend='triton')",
        'ptr'),
    'spmm triton id 100000': (
        "O.spmm(bad(ei, 15, 100000), x, backend='triton')", 'adj|edge_index'),
    'spmm triton num_nodes too small': (
        "O.spmm(ei, x, num_nodes=3, backend='triton')",
        'num_nodes|adj|edge_index'),
    'spmm_csr triton col 100000': (
        "O.spmm_csr(torch.tensor([0, 2, 4, 6]), bad(torch.arange(6), 1, "
        "100000), x, backend='triton')", 'col'),
    'spmm sparse CSR col 100000': (
        'O.spmm(torch.sparse_csr_tensor(torch.tensor([0, 1, 2]), '
        'torch.tensor([0, 100000]), torch.ones(2), size=(2, 6)), x)',
        'col|adj'),
    'FastSumAggregation triton id 100000': (
        "NN.FastSumAggregation(backend='triton')(src, bad(idx, 1, 100000), "
        'dim_size=3)', 'index|dim_size'),
    'UniFLConv sparse CSR col 100000': (
        'a = torch.sparse_csr_tensor(torch.arange(0, 13, 2), bad(torch.arange('
        '12) % 6, 3, 100000), torch.ones(12), size=(6, 6), '
        'check_invariants=False); NN.UniFLConv(4)(x, a, torch.ones(12), '
        'torch.ones(6), a)', 'edge_index|adj|col'),
    'walk_index_scores id 100000': (
        'W.walk_index_scores(bad(ei, 15, 100000), 2, 6)', 'edge_index'),
    'walk_index_sparsify negative id': (
        'W.walk_index_sparsify(bad(ei, 0, -1), ratio=0.5, num_nodes=6)',
        'edge_index'),
    'walk_index target 100000': (
        'W.walk_index(ei, torch.tensor([0, 1, 2]), 2, 6, target=100000)',
        'target'),
    'WalkIndexSparsification id == n': (
        'T.WalkIndexSparsification(ratio=0.5)(Data(edge_index=bad(ei, 2, 6), '
        'num_nodes=6))', 'edge_index'),
    'tree_movers_distance id 100000': (
        'M.tree_movers_distance(Data(x=torch.ones(6, 1), edge_index=bad(ei, '
        '15, 100000)), Data(x=torch.ones(6, 1), edge_index=ei), 2)',
        'edge_index'),
    'didm_movers_distance negative id': (
        'M.didm_movers_distance(Data(x=torch.ones(6, 1), edge_index=bad(ei, '
        '0, -1)), Data(x=torch.ones(6, 1), edge_index=ei), 2)', 'edge_index'),
    'pairwise id 100000': (
        'M.pairwise([Data(x=torch.ones(6, 1), edge_index=ei), Data(x='
        'torch.ones(6, 1), edge_index=bad(ei, 15, 100000))], depth=2)',
        'edge_index'),
    'neighbor_table id 100000': (
        'C.neighbor_table(bad(ei, 15, 100000), torch.rand(12), 6)',
        'edge_index'),
    'batched_eigenpairs edge_graph out of range': (
        'E.batched_eigenpairs(ei, bad(torch.zeros(12, dtype=torch.long), 0, '
        '5), torch.tensor([6]), 3)', 'edge_graph'),
}

_RUNNER = r'''
import json, re, sys
import torch
from torch_geometric.data import Data
import pyg_ext.combopt as C, pyg_ext.metrics as M, pyg_ext.nn as NN
import pyg_ext.ops as O, pyg_ext.transforms as T
import pyg_ext.utils.eigen as E, pyg_ext.utils.walk_index as W
from pyg_ext.typing import has_package

def bad(t, pos, val):
    t = t.clone()
    t.view(-1)[pos] = val
    return t

s = torch.arange(6)
ei = torch.cat([torch.stack([s, (s + 1) % 6]), torch.stack([(s + 1) % 6, s])],
               1)
x = torch.randn(6, 4)
src = torch.randn(6, 4)
idx = torch.tensor([0, 0, 1, 1, 2, 2])
for key, (code, match) in json.loads(sys.argv[1]).items():
    if 'triton' in code and not has_package('triton'):
        out = {'skip': 'triton is not installed'}
    else:
        try:
            exec(code)
            out = {'error': 'returned without an error'}
        except (ValueError, TypeError) as e:
            out = ({} if re.search(match, str(e), re.I) else
                   {'error': f'{type(e).__name__} does not name the '
                             f'argument: {e}'})
        except Exception as e:
            out = {'error': f'{type(e).__name__}: {e}'}
    print('@@' + json.dumps({key: out}), flush=True)
'''


@pytest.fixture(scope='module')
def crash_prone_results() -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS='1', TRITON_INTERPRET='1')
    proc = subprocess.run(
        [sys.executable, '-c', _RUNNER, json.dumps(CRASH_PRONE)],
        capture_output=True, text=True, env=env, timeout=600)
    results: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        if line.startswith('@@'):
            results.update(json.loads(line[2:]))
    results['__returncode__'] = proc.returncode
    results['__stderr__'] = proc.stderr[-2000:]
    return results


@pytest.mark.parametrize('key', sorted(CRASH_PRONE))
def test_crash_prone(key: str, crash_prone_results: dict[str, Any]) -> None:
    if key not in crash_prone_results:
        rc = crash_prone_results['__returncode__']
        pytest.fail(f'the subprocess died (exit code {rc}) before or while '
                    f'running this case:\n{crash_prone_results["__stderr__"]}')
    out = crash_prone_results[key]
    if 'skip' in out:
        pytest.skip(out['skip'])
    assert 'error' not in out, out['error']
