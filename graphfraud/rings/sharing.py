"""Sharing evidence without timing: one piece of infrastructure that too many accounts depend on.

Two tests, one null model. Honest sharing is small: a family tablet is the main
device of two or three accounts, a couple on holiday share a hotel IP and a
tablet. So each test counts, per shared thing, the accounts that use it *in a
way only one hand explains*:

- ``device``: accounts whose **main device** (at least half of their logins that
  carry a device) it is. A device farm works fresh accounts one after another on
  one emulator: never co-active, but the emulator is the main device of dozens.
- ``away``: accounts that used one **device** on 2+ days through an IP that is
  **not their main IP**. A slow operator works accounts that keep a normal life
  elsewhere through his own proxies and laptop, a few a day, hours apart: the
  laptop is a second home to many accounts. A family tablet is excluded by
  construction (it is used at home, the members' main IP), and so are hotels,
  cafés and offices (each visitor brings their own device). A public computer
  with regular users would count (see ``docs/rings.md``, Limits).

Null (fitted on the case): the number ``K`` of such accounts per thing decays at
least geometrically, ``P(K >= k | K >= 1) = r ** (k - 1)``, with ``r`` the upper
99% Wilson bound of the share of things with ``K >= 2``; a thing's p-value is
``r ** (K - 1)``, one test per thing with ``K >= 2`` (the ring threshold counts those).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..graph.activity import Activity
from ..case.arrays import distinct_rows, run_starts

__all__ = ["SharingTest", "main_entity", "main_device_sharing", "away_device_sharing", "sharing_tests", "MAIN_SHARE"]

#: an account's main device (or IP) carries at least this share of its logins that have one
MAIN_SHARE = 0.5
#: a device away from home counts for an account that used it so on at least this many distinct days
AWAY_MIN_DAYS = 2


@dataclass(frozen=True)
class SharingTest:
    """``rows``: ``thing, account, k, pvalue`` (one row per qualifying account); ``r``; ``tested`` (things
    with 2+ accounts, the tests counted in the ring threshold); ``label``.

    ``thing`` is a device's entity code.
    """

    name: str
    label: str
    rows: pd.DataFrame
    r: float
    tested: int

    def describe(self, thing: int, activity: Activity) -> str:
        return str(activity.entities[int(thing)])


def _test(name: str, label: str, thing: np.ndarray, account: np.ndarray) -> SharingTest:
    thing, account = distinct_rows(np.asarray(thing, np.int64), np.asarray(account, np.int64))
    starts = run_starts(thing)
    k_per = np.diff(np.append(starts, len(thing)))
    # r is fitted over every thing; only a thing with 2+ accounts is a test (one account is never evidence)
    seen, tested = len(starts), int((k_per >= 2).sum())
    r = _wilson_upper(tested, seen)
    k = np.repeat(k_per, k_per)
    rows = pd.DataFrame({"thing": thing, "account": account, "k": k,
                         "pvalue": np.where(k >= 2, r ** (k - 1.0), 1.0)})
    return SharingTest(name, label, rows, r, tested)


def main_entity(entity: np.ndarray, account: np.ndarray, n_accounts: int, share: float) -> np.ndarray:
    """Per account, the entity carrying at least ``share`` of its rows (``-1`` when none does)."""
    step_e, step_a = np.diff(entity.astype(np.int64)), np.diff(account.astype(np.int64))
    if len(entity) and bool(((step_e > 0) | ((step_e == 0) & (step_a >= 0))).all()):
        # rows sorted by entity, then account (the Activity's order): the runs are already there
        st = run_starts(entity, account)
        n = np.diff(np.append(st, len(entity)))
        a, e = account[st].astype(np.int64), entity[st].astype(np.int64)
    else:
        base = np.int64(entity.max()) + 1 if len(entity) else np.int64(1)
        key = np.sort(account.astype(np.int64) * base + entity)
        st = run_starts(key)
        n = np.diff(np.append(st, len(key)))
        a, e = key[st] // base, key[st] % base
    total = np.bincount(account, minlength=n_accounts)
    main = np.full(n_accounts, -1, dtype=np.int64)
    ok = n >= share * total[a]
    main[a[ok]] = e[ok]
    return main


def main_device_sharing(activity: Activity, share: float = MAIN_SHARE) -> SharingTest:
    """Accounts per device whose main device it is.

    Examples
    --------
    >>> from graphfraud.graph.activity import activity_from_rows
    >>> act = activity_from_rows([f"A{i}" for i in range(12)] + ["B", "C"], ["device"] * 14,
    ...                          ["emu"] * 12 + ["b1", "c1"], range(14))
    >>> t = main_device_sharing(act)
    >>> int(t.rows["k"].max()), t.tested
    (12, 1)
    """
    dev = activity.is_device[activity.entity]
    main = main_entity(activity.entity[dev], activity.account[dev], activity.n_accounts, share)
    has = np.flatnonzero(main >= 0)
    return _test("device", "shared main device", main[has], has)


def away_device_sharing(activity: Activity, share: float = MAIN_SHARE, min_days: int = AWAY_MIN_DAYS) -> SharingTest:
    """Accounts per device that used it on ``min_days``+ days through an IP that is not their main IP.

    Examples
    --------
    >>> from graphfraud.graph.activity import activity_from_rows
    >>> rows = [(a, "ip", f"home-{a}", t) for a in "ABCD" for t in range(0, 10 * 86400, 86400)]
    >>> rows += [(a, k, v, t) for a in "ABCD" for t in (86400 * 2 + 7, 86400 * 5 + 7)
    ...          for k, v in (("ip", "proxy"), ("device", "laptop"))]
    >>> t = away_device_sharing(activity_from_rows(*zip(*rows)))
    >>> int(t.rows["k"].max())
    4
    """
    dev_row = activity.is_device[activity.entity]
    ip_acct, ip_ent, ip_ts = activity.account[~dev_row], activity.entity[~dev_row], activity.ts[~dev_row]
    main_ip = main_entity(ip_ent, ip_acct, activity.n_accounts, share)
    # the IP and the device of the same login: same account, same second
    ip_key = ip_acct.astype(np.int64) * (1 << 34) + (ip_ts - activity.ts.min() if len(ip_ts) else ip_ts)
    order = np.argsort(ip_key, kind="stable")
    ip_key, ip_ent_sorted = ip_key[order], ip_ent[order]
    d_acct, d_ent, d_ts = activity.account[dev_row], activity.entity[dev_row], activity.ts[dev_row]
    d_key = d_acct.astype(np.int64) * (1 << 34) + (d_ts - activity.ts.min() if len(d_ts) else d_ts)
    pos = np.minimum(np.searchsorted(ip_key, d_key), max(len(ip_key) - 1, 0))
    hit = (ip_key[pos] == d_key) if len(ip_key) else np.zeros(len(d_key), dtype=bool)
    ip = ip_ent_sorted[pos[hit]].astype(np.int64)
    acct = d_acct[hit].astype(np.int64)
    # the device is the thing: an operator's laptop seen through two proxies is still one laptop
    away = ip != main_ip[acct]
    device, acct, day = d_ent[hit][away].astype(np.int64), acct[away], d_ts[hit][away] // 86400
    c, a, _ = distinct_rows(device, acct, day)
    st = run_starts(c, a)
    days = np.diff(np.append(st, len(c)))
    keep = days >= min_days
    return _test("away", "shared device away from home", c[st][keep], a[st][keep])


def sharing_tests(activity: Activity) -> list[SharingTest]:
    """Both sharing tests on one activity table."""
    return [main_device_sharing(activity), away_device_sharing(activity)]


def _wilson_upper(k: int, n: int, z: float = 2.326) -> float:
    if n == 0:
        return 1.0
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(min(1.0, (centre + half) / (1 + z * z / n)))
