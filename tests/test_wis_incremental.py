"""General (L-1)-WIS for L >= 4 with incremental walk counts (issue #25)
against a brute force written from Algorithm 1: for every candidate, remove
it, recount the closed walks of every vertex with an exact integer matrix
power, sort the tuple ascending, take the lexicographically largest (ties:
the candidate appearing last, as the reference code's reversed stable sort
does)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pyg_ext.utils.walk_index as W
from pyg_ext.utils.walk_index import walk_index_sparsify


def brute_force_order(edge_index: np.ndarray, n: int, L: int,
                      chunk: int = 1) -> list[int]:
    src, dst = edge_index
    # candidates: undirected pairs by their first column
    first: dict[tuple[int, int], int] = {}
    for i, (s, d) in enumerate(zip(src.tolist(), dst.tolist())):
        if s != d:
            first.setdefault((min(s, d), max(s, d)), i)
    alive = dict(first)
    out: list[int] = []

    def scores(pairs: list[tuple[int, int]]) -> tuple[int, ...]:
        adj = np.eye(n, dtype=np.int64)
        for a, b in pairs:
            adj[a, b] = adj[b, a] = 1
        walks = np.linalg.matrix_power(adj, L)
        has_nb = adj.sum(1) > 1
        return tuple(sorted((np.diag(walks) * has_nb).tolist()))

    while alive:
        pairs = list(alive)
        ranked = []
        for pair in pairs:
            rest = [p for p in pairs if p != pair]
            ranked.append((scores(rest), alive[pair], pair))
        # largest tuple first, ties: larger position first
        ranked.sort(key=lambda t: (t[0], t[1]), reverse=True)
        for _, pos, pair in ranked[:chunk]:
            out.append(pos)
            del alive[pair]
    return out


def random_graph(seed: int, n: int, p: float, extras: bool
                 ) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    a, b = np.triu_indices(n, 1)
    keep = rng.random(a.shape[0]) < p
    ei = np.concatenate([np.stack([a[keep], b[keep]]),
                         np.stack([b[keep], a[keep]])], 1)
    if extras:  # self loops, a duplicate column, an isolated vertex
        loops = rng.integers(0, n, 2)
        ei = np.concatenate([ei, np.stack([loops, loops])], 1)
        if ei.shape[1]:
            ei = np.concatenate([ei, ei[:, :1]], 1)
    ei = ei[:, rng.permutation(ei.shape[1])]
    return torch.from_numpy(ei)


@pytest.mark.parametrize('L', [4, 5, 6])
@pytest.mark.parametrize('chunk', [1, 3])
def test_matches_brute_force(L: int, chunk: int) -> None:
    for seed in range(6):
        n = 7 + seed % 4
        ei = random_graph(seed, n, 0.45, extras=seed % 2 == 1)
        res = walk_index_sparsify(ei, num_layers=L, num_nodes=n + 1,
                                  chunk_size=chunk)
        ref = brute_force_order(ei.numpy(), n + 1, L, chunk)
        assert res.order.tolist() == ref, (seed, L, chunk)


@pytest.mark.parametrize('L', [4, 5])
def test_dense_and_ball_paths_agree(monkeypatch, L: int) -> None:  # noqa: ANN001
    ei = random_graph(11, 40, 0.12, extras=True)
    dense = walk_index_sparsify(ei, num_layers=L, num_nodes=40)
    monkeypatch.setattr(W, 'DENSE_WIS_MAX_NODES', 0)  # the local-ball path
    ball = walk_index_sparsify(ei, num_layers=L, num_nodes=40)
    assert dense.order.tolist() == ball.order.tolist()
    assert torch.equal(dense.edge_rank, ball.edge_rank)


def test_incremental_counts_stay_exact() -> None:
    """After every removal the kept powers and closed-walk counts equal a
    recount from scratch."""
    ei = random_graph(3, 25, 0.2, extras=False).numpy()
    cand = W._candidates(ei, 25, True)
    state = W._DenseWalkWIS(cand, 5)
    rng = np.random.default_rng(0)
    for c in rng.permutation(len(state.a))[:30].tolist():
        state.alive[c] = True
        state.remove(c)
        hat = np.eye(25, dtype=np.int64)
        for x, nbs in enumerate(state.adj):
            hat[x, list(nbs)] = 1
        for b in range(5):
            assert np.array_equal(state.P[b],
                                  np.linalg.matrix_power(hat, b))
        closed = np.diag(np.linalg.matrix_power(hat, 5))
        assert np.array_equal(state.closed, closed)
        deg = hat.sum(1) - 1
        assert state.score == np.where(deg > 0, closed, 0).tolist()


def test_directed_graph_is_rejected() -> None:
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
    with pytest.raises(ValueError, match='undirected'):
        walk_index_sparsify(ei, num_layers=4)
