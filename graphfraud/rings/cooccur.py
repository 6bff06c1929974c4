"""Co-occurrence counting on integer codes: which pairs of accounts were on the same entity at nearly the same time.

The primitives every kind of time evidence is built from. Rows are
``(group, account, bin)`` integer arrays; two rows co-occur when they share the
group (an IP, a device, a hub's spike cell) and their bins are at most
``tolerance`` apart. The number of co-occurring row pairs is counted exactly
before any is made (one ``searchsorted``), and when it exceeds ``budget`` the
pairs are produced in passes over slices of the account range, so memory stays
bounded whatever the input: each pass holds at most ``budget`` pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..case.arrays import distinct_rows, run_starts

__all__ = ["CoOccurrence", "cooccurrences", "chance_coactivity"]

DEFAULT_BUDGET = 20_000_000


@dataclass(frozen=True)
class CoOccurrence:
    """Distinct co-occurrences ``(a, b, bin_a, bin_b)`` with ``a < b`` (account codes), and the pass count."""

    a: np.ndarray
    b: np.ndarray
    bin_a: np.ndarray
    bin_b: np.ndarray
    total_row_pairs: int
    passes: int


def cooccurrences(group: np.ndarray, account: np.ndarray, bins: np.ndarray, tolerance: int,
                  n_accounts: int, budget: int = DEFAULT_BUDGET) -> CoOccurrence:
    """Every distinct ``(a, b, bin_a, bin_b)`` where ``a`` and ``b`` had rows in one group within ``tolerance`` bins.

    A pair seen on two groups at the same bins (an IP and a device of the same
    login) counts once.

    Examples
    --------
    >>> co = cooccurrences(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 2, 0, 1]), np.array([5, 6, 9, 5, 5]),
    ...                    tolerance=1, n_accounts=3)
    >>> co.a.tolist(), co.b.tolist(), co.bin_a.tolist(), co.bin_b.tolist()
    ([0, 0], [1, 1], [5, 5], [5, 6])
    """
    empty = np.empty(0, dtype=np.int64)
    if len(group) == 0:
        return CoOccurrence(empty, empty, empty, empty, 0, 0)
    bins = np.asarray(bins, dtype=np.int64)
    g, acct, b = _sorted_by_group_bin_account(np.asarray(group, dtype=np.int64), np.asarray(account, dtype=np.int64),
                                              bins, n_accounts)
    bmin = int(b.min())
    span = int(b.max()) - bmin + tolerance + 2
    key = g * span + (b - bmin)
    end = np.searchsorted(key, key + tolerance, side="right")
    counts = end - np.arange(len(key)) - 1
    total = int(counts.sum())
    passes = max(1, -(-total // budget))
    # account ranges per pass: a pair belongs to the pass holding its smaller code
    edges = np.linspace(0, n_accounts, passes + 1).astype(np.int64)
    cum = np.cumsum(counts)
    out = []
    for p in range(passes):
        lo_acct, hi_acct = edges[p], edges[p + 1]
        kept = []
        start = 0
        while start < len(counts):
            # rows start..stop-1 produce at most `budget` row pairs
            stop = int(np.searchsorted(cum, (cum[start - 1] if start else 0) + budget, side="right"))
            stop = max(stop, start + 1)
            c = counts[start:stop]
            i = np.repeat(np.arange(start, stop), c)
            j = i + 1 + (np.arange(len(i)) - np.repeat(np.cumsum(c) - c, c))
            ai, aj = acct[i], acct[j]
            lo = np.minimum(ai, aj)
            keep = (ai != aj) & (lo >= lo_acct) & (lo < hi_acct)
            i, j, ai, aj = i[keep], j[keep], ai[keep], aj[keep]
            swap = ai > aj
            kept.append((np.where(swap, aj, ai), np.where(swap, ai, aj),
                         np.where(swap, b[j], b[i]), np.where(swap, b[i], b[j])))
            start = stop
        if kept:
            pa, pb, ba, bb = (np.concatenate([k[n] for k in kept]) for n in range(4))
            pair = pa * np.int64(n_accounts) + pb
            pair, bpack = distinct_rows(pair, (ba - bmin) * span + (bb - bmin))
            out.append((pair // n_accounts, pair % n_accounts, bpack // span + bmin, bpack % span + bmin))
    if not out:
        return CoOccurrence(empty, empty, empty, empty, total, passes)
    a, bb_, ba, bbin = (np.concatenate([o[n] for o in out]) for n in range(4))
    return CoOccurrence(a, bb_, ba, bbin, total, passes)


def _sorted_by_group_bin_account(group, account, bins, n_accounts):
    """The rows sorted by group, then bin, then account."""
    bmin, span = int(bins.min()), int(bins.max()) - int(bins.min()) + 1
    if (int(group.max()) + 1) * span * max(n_accounts, 1) < 2**62:
        # one int64 sort and a divmod: several times faster than lexsort and a gather of three columns
        key = np.sort((group * span + (bins - bmin)) * max(n_accounts, 1) + account)
        gb, acct = np.divmod(key, max(n_accounts, 1))
        g, b = np.divmod(gb, span)
        return g, acct, b + bmin
    order = np.lexsort((account, bins, group))
    return group[order], account[order], bins[order]


def chance_coactivity(account: np.ndarray, bins: np.ndarray, tolerance: int, presorted: bool = False) -> float:
    """Probability that two logins drawn independently from the case's own timing fall within ``tolerance`` bins.

    Using the empirical distribution of login bins (not a uniform one) makes the
    null model expect the extra coincidences that office hours and evenings create.
    ``presorted``: rows already sorted by account, then bin (skips the sort).

    Examples
    --------
    >>> chance_coactivity(np.array([0, 1]), np.array([0, 10]), tolerance=0)
    0.5
    """
    if len(bins) == 0:
        return 0.0
    if presorted:  # sorted by account then time: bins are sorted within each account
        account, bins = np.asarray(account), np.asarray(bins, dtype=np.int64)
        b = bins[run_starts(account, bins)]
    else:
        _, b = distinct_rows(np.asarray(account, dtype=np.int64), np.asarray(bins, dtype=np.int64))
    lo = int(b.min())
    per_bin = np.bincount(b - lo).astype(float)
    p = np.concatenate([np.zeros(tolerance), per_bin / per_bin.sum(), np.zeros(tolerance)])
    near = np.convolve(p, np.ones(2 * tolerance + 1), mode="same")
    return float(min(1.0, (p * near).sum()))
