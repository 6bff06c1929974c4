"""Time evidence per pair of accounts: co-activity on shared IPs and devices at several time scales.

Sharing alone is weak evidence (households share an IP, carriers put hundreds of
honest accounts behind one NAT). What one actor running several accounts leaves
behind is *co-activity*: the accounts are used through the same infrastructure
at nearly the same time, again and again. How near depends on the operator: a
script logs in within a minute or two, a person working a list within the hour,
a patient operator on the same days over weeks. So co-activity is counted at
several time scales (SynchroTrap's loosely synchronised actions), each against
its own null: how much co-activity two accounts would show by chance given how
often each used the infrastructure they share and when people log in at all.
See ``docs/rings.md`` for the derivation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError
from ..graph.activity import Activity
from ..case.arrays import distinct_rows, run_starts, sort_order
from .cooccur import DEFAULT_BUDGET, chance_coactivity, cooccurrences

__all__ = ["pair_evidence", "hub_entities", "TIME_SCALES", "scale_columns"]

#: name -> (bin width in seconds, tolerance in bins): co-active when the bins are at most `tolerance` apart
TIME_SCALES = {"2min": (120, 1), "10min": (600, 1), "1h": (3600, 1), "1d": (86400, 0)}


def scale_columns(scales=TIME_SCALES) -> list[str]:
    return [f"{c}_{s}" for s in scales for c in ("coactive", "expected", "pvalue")]


def _time_bins(activity: Activity, keep: np.ndarray, width: int):
    """Distinct ``(entity, account, bin)`` of the kept rows (sorted so), and the row index of each run start."""
    ent, acct, b = activity.entity[keep], activity.account[keep], activity.ts[keep] // width
    first = run_starts(ent, acct, b)  # activity is sorted by entity, account, ts: bins are sorted within runs
    # codes stay int32 (the four scales' bins are held together): widened where products are formed
    return ent[first], acct[first], b[first]


def _per_pair(co, n_accounts: int, width: int):
    """Co-activity count, distinct days, first and last time per pair of one scale's co-occurrences."""
    key = co.a * np.int64(n_accounts) + co.b
    lo_bin = np.minimum(co.bin_a, co.bin_b)
    order = np.lexsort((lo_bin, key))
    key, lo_bin, hi_bin = key[order], lo_bin[order], np.maximum(co.bin_a, co.bin_b)[order]
    starts = run_starts(key)
    count = np.diff(np.append(starts, len(key)))
    day = lo_bin * width // 86400
    day_first = run_starts(key, day)
    days = np.bincount(np.searchsorted(starts, day_first, side="right") - 1, minlength=len(starts))
    first = lo_bin[starts] * width
    last = np.maximum.reduceat(hi_bin, starts) * width + width - 1 if len(starts) else np.empty(0, np.int64)
    # how many of each side's own bins met the other side: what the binomial test counts
    keys = co.a * np.int64(n_accounts) + co.b
    side = {}
    for name, b in (("hits_a", co.bin_a), ("hits_b", co.bin_b)):
        k, _ = distinct_rows(keys, b)
        side[name] = np.diff(np.append(run_starts(k), len(k)))
    return pd.DataFrame({"key": key[starts], "coactive": count, "days": days, "first": first, "last": last,
                         **side})


def _pair_pvalue(d, at, n_a, n_b, q, n_pairs) -> np.ndarray:
    """The pair's p-value at one scale: the better of the two one-sided binomials, times 2.

    Per side: of the ``n_b`` bins of *b*, how many met a bin of *a*, each with chance
    ``1 - (1 - q) ** n_a`` under the null. Unlike a Poisson count of bin pairs (kept for the
    pooled ring test, ``expected``), the binomial knows that an account with 6 logins cannot meet
    the other more than 6 times: a mule that only ever logs in minutes after its owner is caught
    even when the owner logs in every day.
    """
    hits_a = np.zeros(n_pairs, dtype=np.int64)
    hits_b = np.zeros(n_pairs, dtype=np.int64)
    hits_a[at], hits_b[at] = d["hits_a"].to_numpy(), d["hits_b"].to_numpy()
    p_b = np.where(hits_b > 0, stats.binom.sf(hits_b - 1, n_b, -np.expm1(n_a * np.log1p(-q))), 1.0)
    p_a = np.where(hits_a > 0, stats.binom.sf(hits_a - 1, n_a, -np.expm1(n_b * np.log1p(-q))), 1.0)
    return np.minimum(1.0, 2 * np.minimum(p_a, p_b))


def _shared_entities(activity: Activity, keep: np.ndarray, pair_key: np.ndarray, budget: int = DEFAULT_BUDGET):
    """For each candidate pair, the kept entities both accounts used: rows ``(pair index, entity)``."""
    n_acc, n_ent = np.int64(activity.n_accounts), np.int64(activity.n_entities)
    acct, ent = distinct_rows(activity.account[keep].astype(np.int64), activity.entity[keep].astype(np.int64))
    ae_key = acct * n_ent + ent
    starts = np.searchsorted(acct, np.arange(n_acc + 1))
    deg = np.diff(starts)
    a, b = pair_key // n_acc, pair_key % n_acc
    # walk the entities of whichever account has fewer
    swap = deg[b] < deg[a]
    x, y = np.where(swap, b, a), np.where(swap, a, b)
    reps = deg[x]
    out_idx, out_ent = [], []
    cum = np.cumsum(reps)
    lo = 0
    while lo < len(pair_key):  # in slices of at most `budget` (pair, entity) rows: memory stays bounded
        hi = max(lo + 1, int(np.searchsorted(cum, (cum[lo - 1] if lo else 0) + budget, side="right")))
        r = reps[lo:hi]
        idx = np.repeat(np.arange(lo, hi), r)
        pos = np.repeat(starts[x[lo:hi]], r) + (np.arange(len(idx)) - np.repeat(np.cumsum(r) - r, r))
        e = ent[pos]
        want = y[idx] * n_ent + e
        hit = np.searchsorted(ae_key, want)
        ok = (hit < len(ae_key)) & (ae_key[np.minimum(hit, len(ae_key) - 1)] == want)
        out_idx.append(idx[ok])
        out_ent.append(e[ok])
        lo = hi
    if not out_idx:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_idx), np.concatenate(out_ent)


def _bins_on_shared(rows_ent, rows_acct, rows_bin, n_acc, pair_idx, pair_ent, side_acct, n_pairs):
    """Distinct bins each pair's ``side_acct`` account was active on the pair's shared entities."""
    key = rows_ent * np.int64(n_acc) + rows_acct
    starts = run_starts(key)
    run_key = key[starts]
    run_len = np.diff(np.append(starts, len(key)))
    want = pair_ent * np.int64(n_acc) + side_acct[pair_idx]
    r = np.searchsorted(run_key, want)
    found = (r < len(run_key)) & (run_key[np.minimum(r, len(run_key) - 1)] == want)
    r, p = r[found], pair_idx[found]
    n_shared = np.bincount(p, minlength=n_pairs)
    out = np.bincount(p, weights=run_len[r], minlength=n_pairs)
    multi = n_shared[p] > 1  # the union of bins over 2+ entities: a login on an IP and a device is one bin
    if multi.any():
        rm, pm = r[multi], p[multi]
        lens = run_len[rm]
        pos = np.repeat(starts[rm], lens) + (np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens))
        pp, _ = distinct_rows(np.repeat(pm, lens), rows_bin[pos])
        out[np.unique(pm)] = 0
        out += np.bincount(pp, minlength=n_pairs)
    return out.astype(np.int64)


def pair_evidence(activity: Activity, max_entity_accounts: int = 100, scales=None,
                  budget: int = DEFAULT_BUDGET) -> pd.DataFrame:
    """Score every pair of accounts co-active on an IP or device used by at most ``max_entity_accounts`` accounts.

    Parameters
    ----------
    activity
        the coded :class:`~graphfraud.graph.activity.Activity`.
    max_entity_accounts
        entities used by more accounts are hubs (carrier NAT, popular VPN exits):
        never co-activity evidence here (see :mod:`graphfraud.rings.hubs`).
    scales
        ``{name: (bin seconds, tolerance bins)}``; default :data:`TIME_SCALES`.
    budget
        most co-occurring row pairs held at once (memory bound; more means more passes).

    Returns
    -------
    DataFrame
        one row per pair co-active at least once at some scale (``a < b`` codes,
        ``account_a``, ``account_b``): ``shared_ips``, ``shared_devices``,
        ``min_entity_accounts`` (accounts on the most specific entity they share), then
        per scale ``coactive_<s>`` (distinct pairs of their bins within the
        tolerance), ``expected_<s>`` (the same under the null),
        ``pvalue_<s>`` (Poisson, at least that many); ``coactive_days``,
        ``first_ts``, ``last_ts`` (seconds), ``pvalue_time``: the best scale's
        p-value times the number of scales, and ``pvalue_time_raw``: the best scale's alone. ``attrs``: ``q`` per scale, ``row_pairs``, ``passes``.
    """
    if max_entity_accounts < 2:
        raise InputError(f"max_entity_accounts must be at least 2, got {max_entity_accounts}")
    scales = TIME_SCALES if scales is None else scales
    n_acc = activity.n_accounts
    pop = activity.popularity()
    # an entity one account alone used makes no pair: leaving it out changes nothing and halves the rows
    keep = (pop[activity.entity] <= max_entity_accounts) & (pop[activity.entity] >= 2)
    per_scale, q, row_pairs, passes, bins_by_scale = {}, {}, 0, 0, {}
    by_account = sort_order(activity.account, activity.ts)  # one sort serves every scale's rhythm
    acct_sorted, ts_sorted = activity.account[by_account], activity.ts[by_account]
    for name, (width, tol) in scales.items():
        ent, acct, b = _time_bins(activity, keep, width)
        bins_by_scale[name] = (ent, acct, b)
        q[name] = chance_coactivity(acct_sorted, ts_sorted // width, tol, presorted=True)
        co = cooccurrences(ent, acct, b, tol, n_acc, budget)
        row_pairs += co.total_row_pairs
        passes = max(passes, co.passes)
        per_scale[name] = _per_pair(co, n_acc, width)
    keys = (np.unique(np.concatenate([d["key"].to_numpy() for d in per_scale.values()]))
            if per_scale else np.empty(0, np.int64))
    out = pd.DataFrame({"a": keys // max(n_acc, 1), "b": keys % max(n_acc, 1)})
    pidx, pent = _shared_entities(activity, keep, keys, budget)
    is_dev = activity.is_device[pent] if len(pent) else np.zeros(0, bool)
    out["shared_devices"] = np.bincount(pidx, weights=is_dev, minlength=len(keys)).astype(np.int64)
    out["shared_ips"] = np.bincount(pidx, minlength=len(keys)) - out["shared_devices"]
    # the most specific entity the pair shares: how many pairs of accounts could have met there by chance
    min_pop = np.full(len(keys), np.iinfo(np.int64).max)
    np.minimum.at(min_pop, pidx, pop[pent])
    out["min_entity_accounts"] = np.where(min_pop == np.iinfo(np.int64).max, 0, min_pop)
    a, b = out["a"].to_numpy(), out["b"].to_numpy()
    best = np.ones(len(keys))
    days = np.zeros(len(keys), dtype=np.int64)
    first = np.full(len(keys), np.iinfo(np.int64).max)
    last = np.full(len(keys), np.iinfo(np.int64).min)
    for name in scales:
        d = per_scale[name]
        at = np.searchsorted(keys, d["key"].to_numpy())
        c = np.zeros(len(keys), dtype=np.int64)
        c[at] = d["coactive"].to_numpy()
        ent, acct, bins = bins_by_scale[name]
        n_a = _bins_on_shared(ent, acct, bins, n_acc, pidx, pent, a, len(keys))
        n_b = _bins_on_shared(ent, acct, bins, n_acc, pidx, pent, b, len(keys))
        mu = n_a * n_b * q[name]
        p = _pair_pvalue(d, at, n_a, n_b, q[name], len(keys))
        out[f"coactive_{name}"], out[f"expected_{name}"], out[f"pvalue_{name}"] = c, mu, p
        best = np.minimum(best, p)
        days[at] = np.maximum(days[at], d["days"].to_numpy())
        first[at] = np.minimum(first[at], d["first"].to_numpy())
        last[at] = np.maximum(last[at], d["last"].to_numpy())
    out["coactive_days"] = days
    out["first_ts"], out["last_ts"] = first, last
    out["pvalue_time"] = np.minimum(1.0, best * max(1, len(scales)))
    out["pvalue_time_raw"] = best
    out.insert(2, "account_a", activity.accounts[a] if len(a) else np.empty(0, object))
    out.insert(3, "account_b", activity.accounts[b] if len(b) else np.empty(0, object))
    out.attrs.update(q=q, row_pairs=row_pairs, passes=passes, scales=dict(scales))
    return out


def hub_entities(activity: Activity, max_entity_accounts: int = 100) -> pd.DataFrame:
    """IPs and devices used by more than ``max_entity_accounts`` accounts (``entity, accounts, entity_type``)."""
    pop = activity.popularity()
    hub = np.flatnonzero(pop > max_entity_accounts)
    df = pd.DataFrame({"entity": activity.entities[hub], "accounts": pop[hub],
                       "entity_type": activity.entity_type()[hub]})
    return df.sort_values(["accounts", "entity"], ascending=[False, True], kind="stable").reset_index(drop=True)
