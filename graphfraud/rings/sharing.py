"""Device evidence without timing: one device fingerprint that is the main device of many accounts.

A device farm works fresh accounts one after another on one emulator or phone:
each account lives a few days, so no two are ever co-active, yet the device is
the main (or only) device of dozens of accounts. Honest sharing is small:
a family tablet is the main device of two or three accounts, not thirty.

The null model is fitted on the case itself. Let ``K`` be the number of
accounts whose main device is a given device. Honest sharing is taken to
decay at least geometrically, ``P(K >= k | K >= 1) = r ** (k - 1)``, with ``r``
the share of devices that are the main device of two or more accounts (its
upper 99% Wilson bound, so a case with few devices, or with many rings, gets a
larger, more cautious ``r``). A device's p-value is ``r ** (K - 1)``; it is one
test per device, so the ring threshold counts the devices tested.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..graph.activity import Activity
from .cooccur import run_starts

__all__ = ["main_device_sharing", "MAIN_DEVICE_SHARE"]

#: an account's main device carries at least this share of its logins that have a device
MAIN_DEVICE_SHARE = 0.5


def main_device_sharing(activity: Activity, min_share: float = MAIN_DEVICE_SHARE) -> tuple[pd.DataFrame, dict]:
    """Per device: the accounts whose main device it is, and how surprising that many are.

    Returns
    -------
    (DataFrame, dict)
        rows ``device`` (entity code), ``account`` (code) for every account with a
        main device, and per-device ``main_accounts`` and ``pvalue``;
        the dict holds ``r`` (fitted decay), ``devices_tested``.

    Examples
    --------
    >>> from graphfraud.graph.activity import activity_from_rows
    >>> act = activity_from_rows([f"A{i}" for i in range(12)] + ["B", "C"], ["device"] * 14,
    ...                          ["emu"] * 12 + ["b1", "c1"], range(14))
    >>> rows, fit = main_device_sharing(act)
    >>> int(rows.loc[rows["main_accounts"] == 12, "account"].nunique()), fit["devices_tested"]
    (12, 3)
    """
    dev = activity.is_device[activity.entity]
    ent, acct = activity.entity[dev].astype(np.int64), activity.account[dev].astype(np.int64)
    starts = run_starts(ent, acct)
    n_logins = np.diff(np.append(starts, len(ent)))
    d, a = ent[starts], acct[starts]
    per_account = np.bincount(a, weights=n_logins, minlength=activity.n_accounts)
    main = n_logins >= min_share * per_account[a]
    d, a = d[main], a[main]
    k = np.bincount(d, minlength=activity.n_entities)
    tested = int((k >= 1).sum())
    shared = int((k >= 2).sum())
    r = _wilson_upper(shared, tested)
    kd = k[d]
    pvalue = np.where(kd >= 2, r ** (kd - 1.0), 1.0)
    rows = pd.DataFrame({"device": d, "account": a, "main_accounts": kd, "pvalue": pvalue})
    return rows, {"r": r, "devices_tested": tested}


def _wilson_upper(k: int, n: int, z: float = 2.326) -> float:
    if n == 0:
        return 1.0
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(min(1.0, (centre + half) / (1 + z * z / n)))
