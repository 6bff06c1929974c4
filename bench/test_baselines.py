"""Checks of the bench baselines (not part of the package's suite): ``pytest bench/test_baselines.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baselines import Block, Incidence, _peel, components, fraudar, fraudar_blocks, incidence, louvain_projection, projection


def _naive_peel(n_rows, n_cols, rows, cols):
    """FRAUDAR's greedy peeling as the paper states it: recompute every node's loss at every step."""
    deg = np.bincount(cols, minlength=n_cols)
    w = 1.0 / np.log(deg + 5.0)
    live = {(0, i) for i in rows.tolist()} | {(1, j) for j in cols.tolist()}
    edges = list(zip(rows.tolist(), cols.tolist()))

    def f(nodes):
        return sum(w[j] for i, j in edges if (0, i) in nodes and (1, j) in nodes)

    best, best_set = f(live) / len(live), set(live)
    while any(k == 0 for k, _ in live) and any(k == 1 for k, _ in live):
        loss = {v: sum(w[j] for i, j in edges if (0, i) in live and (1, j) in live and v in ((0, i), (1, j)))
                for v in live}
        v = min(live, key=lambda v: (round(loss[v], 9), v))
        live = live - {v}
        if f(live) / len(live) > best + 1e-12:
            best, best_set = f(live) / len(live), set(live)
    return (sorted(i for k, i in best_set if k == 0), sorted(j for k, j in best_set if k == 1), best)


@pytest.mark.parametrize("seed", range(30))
def test_peel_matches_the_papers_definition(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols = int(rng.integers(3, 12)), int(rng.integers(3, 12))
    dense = rng.random((n_rows, n_cols)) < rng.uniform(0.1, 0.6)
    # a planted block so that the densest set is not trivial
    dense[: n_rows // 2, : n_cols // 2] |= rng.random((n_rows // 2, n_cols // 2)) < 0.9
    rows, cols = np.nonzero(dense)
    if not len(rows):
        return
    r, c, d = _peel(n_rows, n_cols, rows.astype(np.int64), cols.astype(np.int64))
    nr, nc, nd = _naive_peel(n_rows, n_cols, rows, cols)
    assert d == pytest.approx(nd, rel=1e-9)
    w = 1.0 / np.log(np.bincount(cols, minlength=n_cols) + 5.0)
    inside = np.isin(rows, r) & np.isin(cols, c)
    assert w[cols[inside]].sum() / (len(r) + len(c)) == pytest.approx(d, rel=1e-9)
    assert (r.tolist(), c.tolist()) == (nr, nc)


def test_fraudar_finds_two_planted_blocks_then_stops_reusing_their_edges():
    # accounts 0-3 share entities 0-2, accounts 4-6 share entities 3-4; 7-9 each have a private entity
    pairs = [(a, e) for a in range(4) for e in range(3)] + [(a, e) for a in range(4, 7) for e in (3, 4)]
    pairs += [(7, 5), (8, 6), (9, 7), (0, 8)]
    a, e = map(np.array, zip(*pairs))
    inc = Incidence(a, e, np.array([f"A{i}" for i in range(10)], object), 9)
    blocks = fraudar_blocks(inc, 2)
    assert [b.accounts.tolist() for b in blocks] == [[0, 1, 2, 3], [4, 5, 6]]
    assert [b.entities.tolist() for b in blocks] == [[0, 1, 2], [3, 4]]
    assert fraudar(inc, 2) == [{"A0", "A1", "A2", "A3"}, {"A4", "A5", "A6"}]


def test_projection_components_and_louvain_on_two_cliques():
    lg = pd.DataFrame({"account_id": list("AABBCCDDEE"), "ip": ["1", "9", "1", "9", "1", "8", "5", "6", "5", "6"],
                       "device_id": [None] * 10})
    inc = incidence(lg)
    p = projection(inc, "count").toarray()
    assert p[0, 1] == 2 and p[0, 2] == 1 and p[3, 4] == 2 and p[0, 3] == 0
    assert sorted(map(sorted, components(inc))) == [["A", "B", "C"], ["D", "E"]]
    assert sorted(map(sorted, louvain_projection(inc, "idf"))) == [["A", "B", "C"], ["D", "E"]]
    assert louvain_projection(inc, "idf", seed=3) == louvain_projection(inc, "idf", seed=3)


def test_fraudar_split_cuts_a_block_holding_two_unconnected_rings():
    # greedy peeling keeps equally dense parts together; a block of two unconnected 3x2 rings
    pairs = [(a, e) for a in range(3) for e in range(2)] + [(a, e) for a in range(3, 6) for e in range(2, 4)]
    a, e = map(np.array, zip(*pairs))
    inc = Incidence(a, e, np.array([f"A{i}" for i in range(6)], object), 4)
    block = Block(np.arange(6), np.arange(4), 1.0, a, e)
    assert fraudar(inc, 1, blocks=[block]) == [{f"A{i}" for i in range(6)}]
    assert sorted(map(sorted, fraudar(inc, 1, split=True, blocks=[block]))) == [["A0", "A1", "A2"], ["A3", "A4", "A5"]]
