"""Ring baselines for bench_rings.py: what an analyst gets without a null model.

Every baseline sees the same input, the one a naive analyst query gives: each
account's distinct IPs and devices over *every* login (SUCCESS and FAIL, no
campaign removal, no hub cap), as an integer-coded account x entity incidence
(:func:`incidence`). Each returns a list of account-id sets, the "rings" it flags.

- :func:`components`: connected components of the account projection (two accounts
  linked when they share any IP or device), every component of 2+.
- :func:`louvain_projection`: Louvain (igraph's ``community_multilevel``, Blondel et
  al. 2008, the same algorithm as python-louvain) on the account projection, every
  community of 2+. Edge weight of a pair ``a, b`` with ``S`` = the entities both used,
  and ``n_e`` = distinct accounts that used entity ``e``:

  * ``"count"``: ``|S|`` (entities shared);
  * ``"idf"``: ``sum over e in S of 1 / ln(1 + n_e)`` (an entity shared by two
    accounts weighs 0.91, by 100 accounts 0.22, by 2,500 accounts 0.13).

- :func:`fraudar`: FRAUDAR (Hooi et al., KDD 2016), greedy peeling of the
  account x entity bipartite graph with column weights ``1 / ln(n_e + 5)``: repeatedly
  delete the node (account or entity) whose deletion removes the least weight,
  keep the node set with the highest weight per node (``f(S) / |S|``); then delete
  that block's edges and repeat, ``k`` blocks in all (column weights recomputed on
  what is left, as in the authors' ``detectMultiple``). Each block's accounts, if 2+,
  are one flagged ring.

The projection is a sparse product, so a 50k-account case with hubs of 2,500
accounts (11M pairs) fits in memory; Louvain runs in igraph (``pip install igraph``)
because a networkx graph of that size would not.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["Incidence", "Block", "incidence", "projection", "components", "louvain_projection", "fraudar", "fraudar_blocks",
           "WEIGHTINGS"]


@dataclass(frozen=True, eq=False)
class Incidence:
    """Distinct ``(account, entity)`` pairs as integer codes, with the account dictionary."""

    account: np.ndarray
    entity: np.ndarray
    accounts: np.ndarray
    n_entities: int

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)

    def popularity(self) -> np.ndarray:
        """Accounts using each entity (indexed by entity code)."""
        return np.bincount(self.entity, minlength=self.n_entities)

    def names(self, codes) -> set:
        return set(self.accounts[np.asarray(sorted(codes), dtype=np.int64)].tolist())


def incidence(logins: pd.DataFrame) -> Incidence:
    """Every login's IP and device (any result), as distinct account x entity pairs.

    Examples
    --------
    >>> lg = pd.DataFrame({"account_id": ["B", "A", "A"], "ip": ["1", "1", "2"], "device_id": ["d", None, "d"]})
    >>> inc = incidence(lg)
    >>> inc.accounts.tolist(), inc.account.tolist(), inc.entity.tolist(), inc.n_entities
    (['A', 'B'], [0, 0, 0, 1, 1], [0, 1, 2, 0, 1], 3)
    """
    acct, accounts = pd.factorize(np.asarray(logins["account_id"], dtype=object), sort=True)
    ip = np.asarray(logins["ip"], dtype=object)
    dev = np.asarray(logins["device_id"], dtype=object)
    has_ip, has_dev = pd.notna(ip), pd.notna(dev)
    values = np.concatenate(["ip:" + ip[has_ip].astype(str), "device:" + dev[has_dev].astype(str)])
    ent, uniq = pd.factorize(values, sort=True)
    a = np.concatenate([acct[has_ip], acct[has_dev]]).astype(np.int64)
    key = np.unique(a * len(uniq) + ent)
    return Incidence(key // len(uniq), key % len(uniq), np.asarray(accounts, dtype=object), len(uniq))


#: entity weights of the projection: ``n`` = accounts using the entity
WEIGHTINGS = {"count": lambda n: np.ones(len(n)), "idf": lambda n: 1.0 / np.log1p(np.maximum(n, 1))}


def projection(inc: Incidence, weighting: str = "count") -> sparse.coo_matrix:
    """Account x account weights (upper triangle, ``a < b``): the sum over shared entities of the entity's weight.

    Examples
    --------
    >>> inc = Incidence(np.array([0, 1, 1, 2]), np.array([0, 0, 1, 1]), np.array(["A", "B", "C"], object), 2)
    >>> p = projection(inc, "idf")
    >>> p.row.tolist(), p.col.tolist(), [round(float(w), 3) for w in p.data]
    ([0, 1], [1, 2], [0.91, 0.91])
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; one of {sorted(WEIGHTINGS)}")
    w = WEIGHTINGS[weighting](inc.popularity())
    b = sparse.csr_matrix((np.ones(len(inc.account)), (inc.account, inc.entity)),
                          shape=(inc.n_accounts, inc.n_entities))
    p = sparse.triu(b @ sparse.diags(w) @ b.T, k=1).tocoo()
    return p


def components(inc: Incidence) -> list[set]:
    """Connected components of the accounts through shared entities, 2+ accounts each."""
    b = sparse.csr_matrix((np.ones(len(inc.account)), (inc.account, inc.entity + inc.n_accounts)),
                          shape=(inc.n_accounts + inc.n_entities,) * 2)
    _, label = csgraph.connected_components(b, directed=False)
    label = label[: inc.n_accounts]
    return _groups_of(inc, label)


def _groups_of(inc: Incidence, label: np.ndarray) -> list[set]:
    order = np.argsort(label, kind="stable")
    cuts = np.flatnonzero(np.diff(label[order])) + 1
    return [set(inc.accounts[g].tolist()) for g in np.split(order, cuts) if len(g) >= 2]


def louvain_projection(inc: Incidence, weighting: str = "count", seed: int = 0) -> list[set]:
    """Louvain communities (igraph multilevel, resolution 1) of the weighted projection, 2+ accounts each."""
    try:
        import igraph as ig
    except ImportError as exc:  # pragma: no cover - bench-only dependency
        raise ImportError("the Louvain baselines need igraph: pip install igraph") from exc
    p = projection(inc, weighting)
    g = ig.Graph(n=inc.n_accounts, edges=np.column_stack([p.row, p.col]).astype(np.int64), directed=False)
    # igraph draws from Python's random module: seed it here so every run gives the same partition
    ig.set_random_number_generator(random)
    random.seed(seed)
    part = g.community_multilevel(weights=p.data, return_levels=False)
    return _groups_of(inc, np.asarray(part.membership))


def _peel(n_rows: int, n_cols: int, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """One FRAUDAR block: greedy peeling of the column-weighted bipartite graph given by its edges.

    Returns the rows and columns of the densest set met (weight per node) and that density.
    Ties go to rows, then to the lower code, as in the authors' MinTree code.
    """
    deg = np.bincount(cols, minlength=n_cols)
    weight = 1.0 / np.log(deg + 5.0)
    row_delta = np.bincount(rows, weights=weight[cols], minlength=n_rows)
    col_delta = deg * weight
    live_rows = np.flatnonzero(np.bincount(rows, minlength=n_rows))
    live_cols = np.flatnonzero(deg)
    ro = np.argsort(rows, kind="stable")
    r_ptr = np.searchsorted(rows[ro], np.arange(n_rows + 1)).tolist()
    r_adj = cols[ro].tolist()
    co = np.argsort(cols, kind="stable")
    c_ptr = np.searchsorted(cols[co], np.arange(n_cols + 1)).tolist()
    c_adj = rows[co].tolist()
    w = weight.tolist()
    rd, cd = row_delta.tolist(), col_delta.tolist()
    alive = [np.zeros(n_rows, bool).tolist(), np.zeros(n_cols, bool).tolist()]
    for i in live_rows.tolist():
        alive[0][i] = True
    for j in live_cols.tolist():
        alive[1][j] = True
    heap = [(rd[i], 0, i) for i in live_rows.tolist()] + [(cd[j], 1, j) for j in live_cols.tolist()]
    heapq.heapify(heap)
    score = float(weight[cols].sum())
    left = [len(live_rows), len(live_cols)]
    best, best_at, deleted = score / max(1, sum(left)), 0, []
    pop, push = heapq.heappop, heapq.heappush
    while left[0] and left[1]:
        d, kind, i = pop(heap)
        if not alive[kind][i] or d != (rd[i] if kind == 0 else cd[i]):
            continue  # a stale entry: the node is gone, or its delta dropped since
        alive[kind][i] = False
        left[kind] -= 1
        score -= d
        deleted.append((kind, i))
        if kind == 0:
            for j in r_adj[r_ptr[i]:r_ptr[i + 1]]:
                if alive[1][j]:
                    cd[j] -= w[j]
                    push(heap, (cd[j], 1, j))
        else:
            wj = w[i]
            for r in c_adj[c_ptr[i]:c_ptr[i + 1]]:
                if alive[0][r]:
                    rd[r] -= wj
                    push(heap, (rd[r], 0, r))
        avg = score / max(1, left[0] + left[1])
        if avg > best:
            best, best_at = avg, len(deleted)
    in_row = np.zeros(n_rows, bool)
    in_row[live_rows] = True
    in_col = np.zeros(n_cols, bool)
    in_col[live_cols] = True
    for kind, i in deleted[:best_at]:
        (in_row if kind == 0 else in_col)[i] = False
    return np.flatnonzero(in_row), np.flatnonzero(in_col), best


@dataclass(frozen=True, eq=False)
class Block:
    """One FRAUDAR block: account and entity codes, its density (weight per node) and its edges when found."""

    accounts: np.ndarray
    entities: np.ndarray
    density: float
    edge_accounts: np.ndarray
    edge_entities: np.ndarray


def fraudar_blocks(inc: Incidence, k: int) -> list[Block]:
    """``k`` FRAUDAR blocks, each found after deleting the edges of the ones before (column weights recomputed)."""
    rows, cols = inc.account.astype(np.int64), inc.entity.astype(np.int64)
    blocks = []
    for _ in range(k):
        if not len(rows):
            break
        r, c, density = _peel(inc.n_accounts, inc.n_entities, rows, cols)
        in_r = np.zeros(inc.n_accounts, bool)
        in_r[r] = True
        in_c = np.zeros(inc.n_entities, bool)
        in_c[c] = True
        inside = in_r[rows] & in_c[cols]
        blocks.append(Block(r, c, density, rows[inside], cols[inside]))
        rows, cols = rows[~inside], cols[~inside]
    return blocks


def fraudar(inc: Incidence, k: int, split: bool = False, blocks: list[Block] | None = None) -> list[set]:
    """The accounts of each of ``k`` FRAUDAR blocks (2+ accounts).

    With ``split``, each block is first cut into the connected components of its own edges: greedy
    peeling keeps the union of every part at least as dense as the rest, so one block can hold many
    unconnected rings, which no analyst would call one ring.
    """
    blocks = fraudar_blocks(inc, k) if blocks is None else blocks
    if not split:
        return [inc.names(b.accounts) for b in blocks if len(b.accounts) >= 2]
    out = []
    for b in blocks:
        sub = Incidence(b.edge_accounts, b.edge_entities, inc.accounts, inc.n_entities)
        out += [g for g in components(sub)]
    return out
