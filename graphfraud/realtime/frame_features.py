"""Every scoring feature for a whole frame of events at once: the vectorised twin of ``Scorer.score``.

Tested equal to scoring the same events one by one from a fresh scorer, so a
backtest of a million events (seconds) says what the live path would have done.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..detect.micro import METRICS, MicroParams, micro_features
from .context import GraphContext
from .profiles import _NAT, RISK_LEVELS, WINDOW_NS, Profiles, _to_cents
from .ruleset import FEATURES

__all__ = ["frame_features"]

_DAY_NS = 86_400 * 10**9


def frame_features(profiles: Profiles, ctx: GraphContext, analysis: dict, ev: pd.DataFrame,
                   micro: MicroParams) -> pd.DataFrame:
    """Features of ``ev`` (typed events in processing order, with ``amount_usd``), one row per event."""
    n = len(ev)
    acct = ev["account_id"].to_numpy(dtype=object)
    ts = ev["ts"].to_numpy().astype(np.int64)
    pay = ev["kind"].to_numpy(dtype=object) == "payment"
    usd = ev["amount_usd"].to_numpy(dtype=np.float64)
    row = pd.Index(profiles.account_ids).get_indexer(acct) if len(profiles) else np.full(n, -1)
    known = row >= 0
    key, _ = pd.factorize(acct)
    count, cents = _windows(profiles, row, key, ts, pay, usd)
    base_n = np.where(known, profiles.base_count[np.maximum(row, 0)] if len(profiles) else 0.0, 0.0)
    base_sum = np.where(known, profiles.base_sum[np.maximum(row, 0)] if len(profiles) else 0.0, 0.0)
    total = base_n + count
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 0, (base_sum + cents / 100) / np.where(total > 0, total, 1), np.nan)
        ratio = np.where((mean > 0) & ~np.isnan(mean), usd / np.where(mean > 0, mean, 1), np.nan)
    first_seen = pd.Series(ts).groupby(key).transform("min").to_numpy()
    signup = profiles.signup_ns[np.maximum(row, 0)] if len(profiles) else np.full(n, _NAT)
    age = np.where(known, np.where(signup == _NAT, np.nan, (ts - signup) / _DAY_NS), (ts - first_seen) / _DAY_NS)
    levels = np.asarray(RISK_LEVELS, dtype=object)
    risk = np.where(known, levels[profiles.risk[np.maximum(row, 0)]] if len(profiles) else "NEW", "NEW")
    last_dev = _previous(ev["device_id"], key, pay, profiles.last_device, row)
    last_cty = _previous(ev["country_iso"], key, pay, profiles.last_country, row)
    dev = ev["device_id"].to_numpy(dtype=object)
    cty = ev["country_iso"].to_numpy(dtype=object)
    ring = pd.Series(acct).map(ctx.ring_of).to_numpy(dtype=object)
    flagged_ring = pd.Series(ring).map(ctx.ring_flagged).fillna(False).to_numpy(dtype=bool)
    ips = ev["ip"]
    ip_info = ips.map(ctx.ip_risk)
    f = pd.DataFrame({
        "amount": ev["amount"].to_numpy(), "amount_usd": usd, "avg_amount_30d": mean, "payment_count_30d": total,
        "amount_to_avg_30d": ratio, "account_age_days": age, "new_customer": ~known,
        "device_changed": ~pd.isna(dev) & ~pd.isna(last_dev) & (dev != last_dev),
        "country_changed": ~pd.isna(cty) & ~pd.isna(last_cty) & (cty != last_cty),
        "risk_level": risk, "is_payment": pay, "in_flagged_ring": flagged_ring, "ring_member": ~pd.isna(ring),
        "ip_in_flagged_ring": ips.isin(list(ctx.flagged_ips)).to_numpy(),
        "device_in_flagged_ring": ev["device_id"].isin(list(ctx.flagged_devices)).to_numpy(),
        "campaign_ip": ips.isin(list(ctx.campaign_ips)).to_numpy(),
        "exposure": pd.Series(acct).map(ctx.exposure).fillna(0.0).to_numpy(dtype=np.float64),
        "ip_risk": np.asarray([np.nan if not isinstance(v, tuple) else v[0] for v in ip_info], dtype=np.float64),
        "ip_tor": np.asarray([isinstance(v, tuple) and bool(v[1]) for v in ip_info], dtype=bool),
        "ring_id": ring, "last_device_id": last_dev, "last_country": last_cty})
    f["device_changed"] = f["device_changed"].astype(bool)
    f["country_changed"] = f["country_changed"].astype(bool)
    m = micro_features(pd.DataFrame({"ts": ev["ts"], "account_id": acct, "kind": ev["kind"], "ip": ips,
                                     "device_id": ev["device_id"], "amount_usd": usd}), micro)
    for metric in METRICS:
        f[metric.name] = m[metric.name].to_numpy()
    for metric in METRICS:
        f[metric.name + "_spike"] = m[metric.name + "_spike"].to_numpy(dtype=bool)
    for entity in ("ip", "device", "account"):
        cols = [mm.name + "_spike" for mm in METRICS if mm.entity == entity]
        f[f"{entity}_spike_now"] = f[cols].any(axis=1).to_numpy()
    f["spike_now"] = f["ip_spike_now"] | f["device_spike_now"] | f["account_spike_now"]
    for c, arr in analysis.items():
        if c not in FEATURES:
            f[c] = np.where(known, arr[np.maximum(row, 0)], False if arr.dtype == bool else np.nan)
            if arr.dtype == bool:
                f[c] = f[c].astype(bool)
    return f


def _windows(profiles: Profiles, row: np.ndarray, key: np.ndarray, ts: np.ndarray, pay: np.ndarray,
             usd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(count, cents) of each event's account's payments in ``(ts - 30 d, ts]`` scored or known before it.

    Items (the snapshot's payments and the frame's payments) and two query
    points per event are sorted together by (account, time, sequence, type);
    a running count and sum then give each window as a difference.
    """
    n = len(ts)
    # the snapshot's history of the accounts in the frame, with their frame key
    uk, first = np.unique(key, return_index=True)
    urow = row[first]
    have = urow >= 0
    lo, hi = profiles.hist_ptr[urow[have]], profiles.hist_ptr[urow[have] + 1]
    lens = hi - lo
    idx = np.repeat(lo - np.cumsum(np.concatenate([[0], lens[:-1]])), lens) + np.arange(lens.sum())
    h_key = np.repeat(uk[have], lens)
    h_ts, h_c = profiles.hist_ts[idx], profiles.hist_cents[idx]
    p = np.flatnonzero(pay & ~np.isnan(usd))
    items_key = np.concatenate([h_key, key[p]])
    items_ts = np.concatenate([h_ts, ts[p]])
    items_seq = np.concatenate([np.full(len(h_key), -1), p])
    items_c = np.concatenate([h_c, _to_cents(usd[p])])
    m = len(items_key)
    q = np.arange(n)
    all_key = np.concatenate([items_key, key, key])
    all_ts = np.concatenate([items_ts, ts, ts - WINDOW_NS])
    # the upper query sorts before its own payment (type 0 < 1) and after earlier ones; the lower one after all
    all_seq = np.concatenate([items_seq, q, np.full(n, n + 1)])
    all_type = np.concatenate([np.ones(m, dtype=np.int8), np.zeros(n, dtype=np.int8), np.full(n, 2, dtype=np.int8)])
    order = np.lexsort((all_type, all_seq, all_ts, all_key))
    is_item = order < m
    cnt = np.cumsum(is_item)
    csum = np.cumsum(np.where(is_item, np.concatenate([items_c, np.zeros(2 * n, dtype=np.int64)])[order], 0))
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    up, down = pos[m:m + n], pos[m + n:]
    return (cnt[up] - cnt[down]).astype(np.float64), csum[up] - csum[down]


def _previous(values: pd.Series, key: np.ndarray, pay: np.ndarray, snapshot: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Per event, the value at the account's latest earlier payment with one, else the snapshot's."""
    v = values.to_numpy(dtype=object)
    at_pay = pd.Series(np.where(pay & ~pd.isna(v), v, None), dtype=object)
    # sorting by account keeps processing order within an account (stable)
    order = np.argsort(key, kind="stable")
    s = at_pay.iloc[order].reset_index(drop=True)
    k = pd.Series(key[order])
    prev = s.groupby(k.to_numpy()).ffill().groupby(k.to_numpy()).shift(1)
    out = np.empty(len(v), dtype=object)
    out[order] = prev.to_numpy(dtype=object)
    snap = np.where(row >= 0, snapshot[np.maximum(row, 0)] if len(snapshot) else None, None)
    return np.where(pd.isna(out), snap, out)
