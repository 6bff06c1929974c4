"""Timing on hubs: accounts that arrive together on a carrier NAT far beyond the hub's own rate at that hour.

A carrier-NAT IP is used by hundreds of honest accounts, so sharing it means
nothing and co-activity on it is common. But a ring logging in 30 accounts
through it within the hour makes that hour a *spike*: far more distinct
accounts than the hub usually sees at that hour of the day. Only spike cells
produce candidate pairs (so a hub never yields all its n² pairs), and a pair's
evidence is how many spike cells it shares, against the chance that two of the
hub's users land in the same spikes given how active each is on the hub:
``mu = n_a * n_b * sum(n_c ** 2) / T ** 2`` (``n_c`` accounts in spike cell
``c``, ``T`` account-hours on the hub). The pair was generated because it shared
one spike, so its p-value is conditional on that: ``P(X >= c) / P(X >= 1)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..graph.activity import Activity
from ..case.arrays import run_starts, sort_order
from .cooccur import DEFAULT_BUDGET, cooccurrences

__all__ = ["hub_spike_evidence", "HUB_CELL_SECONDS"]

HUB_CELL_SECONDS = 3600


def hub_spike_evidence(activity: Activity, max_entity_accounts: int = 100, spike_pvalue: float = 1e-4,
                       max_cell_accounts: int = 1000, budget: int = DEFAULT_BUDGET) -> tuple[pd.DataFrame, dict]:
    """Pairs of accounts that share spike hours on a hub, with a conditional Poisson p-value.

    Parameters
    ----------
    spike_pvalue
        an hour on a hub is a spike when this many distinct accounts would arrive by
        chance with probability below this, given the hub's mean at that hour of day.
    max_cell_accounts
        spike cells with more accounts give no pairs (bounded cost); counted in the stats.

    Returns
    -------
    (DataFrame, dict)
        ``a, b`` (codes), ``coactive_hub`` (spike hours shared), ``expected_hub``,
        ``pvalue_hub``; the dict holds ``spike_cells``, ``skipped_cells``, ``pairs``.
    """
    cols = ["a", "b", "coactive_hub", "expected_hub", "pvalue_hub"]
    pop = activity.popularity()
    on_hub = pop[activity.entity] > max_entity_accounts
    info = {"hubs": int((pop > max_entity_accounts).sum()), "spike_cells": 0, "skipped_cells": 0, "pairs": 0}
    if not on_hub.any():
        return pd.DataFrame({c: np.empty(0, np.int64 if c in "ab" else float) for c in cols}), info
    ent = activity.entity[on_hub].astype(np.int64)
    acct = activity.account[on_hub].astype(np.int64)
    cell = activity.ts[on_hub] // HUB_CELL_SECONDS
    first = run_starts(ent, acct, cell)
    ent, acct, cell = ent[first], acct[first], cell[first]
    order = sort_order(ent, cell, acct)
    ent, acct, cell = ent[order], acct[order], cell[order]
    cs = run_starts(ent, cell)
    n_c = np.diff(np.append(cs, len(ent)))
    c_ent, c_cell = ent[cs], cell[cs]
    # the hub's own rate at each hour of day, over the days the case covers
    n_days = max(1, int((cell.max() - cell.min()) // 24) + 1)
    hub_codes, c_hub = np.unique(c_ent, return_inverse=True)
    hour = c_cell % 24
    rate = np.bincount(c_hub * 24 + hour, weights=n_c, minlength=len(hub_codes) * 24) / n_days
    lam = rate[c_hub * 24 + hour]
    spike = (n_c >= 3) & (stats.poisson.sf(n_c - 1, lam) < spike_pvalue)
    usable = spike & (n_c <= max_cell_accounts)
    info["spike_cells"], info["skipped_cells"] = int(spike.sum()), int((spike & ~usable).sum())
    total = np.bincount(c_hub, weights=n_c, minlength=len(hub_codes))
    s2 = np.bincount(c_hub[usable], weights=n_c[usable].astype(float) ** 2, minlength=len(hub_codes))
    row_cell = np.repeat(np.arange(len(cs)), n_c)
    in_spike = usable[row_cell]
    # bins = the cell itself: one co-occurrence per (pair, shared spike cell)
    co = cooccurrences(row_cell[in_spike], acct[in_spike], row_cell[in_spike], 0, activity.n_accounts, budget)
    if not len(co.a):
        return pd.DataFrame({c: np.empty(0, np.int64 if c in "ab" else float) for c in cols}), info
    n_acc = np.int64(activity.n_accounts)
    n_hub = np.int64(len(hub_codes))
    pair_hub = (co.a * n_acc + co.b) * n_hub + c_hub[co.bin_a]
    pair_hub.sort()
    runs = run_starts(pair_hub)
    count = np.diff(np.append(runs, len(pair_hub)))
    k, h = pair_hub[runs] // n_hub, pair_hub[runs] % n_hub
    # hours each account was active on each hub
    ah = np.sort(acct * n_hub + c_hub[row_cell])
    ah_runs = run_starts(ah)
    ah_key, ah_n = ah[ah_runs], np.diff(np.append(ah_runs, len(ah)))

    def hours(x):
        i = np.minimum(np.searchsorted(ah_key, x * n_hub + h), len(ah_key) - 1)
        return np.where(ah_key[i] == x * n_hub + h, ah_n[i], 0).astype(float)

    a, b = k // n_acc, k % n_acc
    mu = hours(a) * hours(b) * s2[h] / np.maximum(total[h], 1) ** 2
    pk = run_starts(k)
    kk = k[pk]
    c = np.add.reduceat(count, pk) if len(pk) else count
    mu = np.add.reduceat(mu, pk) if len(pk) else mu
    p = np.minimum(1.0, stats.poisson.sf(c - 1, mu) / np.maximum(-np.expm1(-mu), 1e-300))
    info["pairs"] = len(kk)
    return pd.DataFrame({"a": kk // n_acc, "b": kk % n_acc, "coactive_hub": c, "expected_hub": mu,
                         "pvalue_hub": p}), info
