"""The activity table: who used which IP or device, and when (successful logins, in time bins).

This table is the boundary between the graph and the ring stage: it is built
from the case's logins (:func:`entity_activity`) or read back from any graph
store's evidence edges (:func:`evidence_to_activity`), with the same result,
and :func:`graphfraud.rings.pairs.pair_evidence` scores it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..case import Case
from ..case.arrays import window_mask
from ..errors import InputError
from .records import decode_times

__all__ = ["entity_activity", "evidence_to_activity", "finish_activity", "ACTIVITY_COLUMNS"]

ACTIVITY_COLUMNS = ["account_id", "entity", "entity_type", "bin"]


def entity_activity(case: Case, since=None, until=None, coactivity_minutes: float = 30,
                    exclude_ips=()) -> pd.DataFrame:
    """Distinct (account, entity, time bin) of successful logins on IPs and devices.

    Entities are namespaced (``ip:1.2.3.4``, ``device:ABC``); ``bin`` is the login
    time divided into ``coactivity_minutes`` slots counted from the first such
    login in the window (an integer). Only SUCCESS logins count: failing against an account is not
    evidence of controlling it. IPs in ``exclude_ips`` (campaigns) are left out.

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> lg = pd.DataFrame({"event_ts": ["2025-08-01 10:00", "2025-08-01 10:10"], "account_id": ["A", "B"],
    ...     "ip": ["1.1.1.1", "1.1.1.1"], "country_iso": ["DE", "DE"], "result": ["SUCCESS", "SUCCESS"],
    ...     "mfa_used": [0, 0], "device_id": ["d1", None]})
    >>> entity_activity(graphfraud.case_from_frames(logins=lg))["entity"].tolist()
    ['device:d1', 'ip:1.1.1.1', 'ip:1.1.1.1']
    """
    if not coactivity_minutes > 0:
        raise InputError(f"coactivity_minutes must be positive, got {coactivity_minutes!r}")
    lg = case.logins
    # a login with neither IP nor device is evidence of nothing, and a graph store
    # never sees it: leaving it out of the origin keeps the bins store-independent
    keep = (window_mask(lg["event_ts"], since, until) & (lg["result"].to_numpy() == "SUCCESS")
            & (lg["ip"].notna().to_numpy() | lg["device_id"].notna().to_numpy()))
    ts = lg["event_ts"].to_numpy(dtype="datetime64[ns]")[keep].view(np.int64)
    origin = ts.min() if len(ts) else 0
    bins = (ts - origin) // np.int64(round(coactivity_minutes * 60e9))
    acct = lg["account_id"].astype(object).to_numpy()[keep]
    parts = []
    for col, kind in (("ip", "ip"), ("device_id", "device")):
        val = lg[col].astype(object).to_numpy()[keep]
        ok = pd.notna(val)
        if kind == "ip" and len(exclude_ips):
            ok &= ~pd.Index(val).isin(list(exclude_ips))
        parts.append(pd.DataFrame({"account_id": acct[ok], "entity": kind + ":" + val[ok].astype(str),
                                   "entity_type": kind, "bin": bins[ok]}))
    return finish_activity(pd.concat(parts, ignore_index=True), origin, coactivity_minutes)


def finish_activity(act: pd.DataFrame, origin: int, coactivity_minutes: float) -> pd.DataFrame:
    """Distinct rows, canonical order and dtypes, and the binning in ``attrs``: one form whatever the source."""
    act = act[ACTIVITY_COLUMNS].drop_duplicates()
    act = act.sort_values(["entity", "account_id", "bin"], kind="stable").reset_index(drop=True)
    act = act.astype({"account_id": "str", "entity": "str", "entity_type": "str", "bin": "int64"})
    act.attrs["origin"] = pd.Timestamp(origin)
    act.attrs["coactivity_minutes"] = coactivity_minutes
    return act


def evidence_to_activity(evidence: pd.DataFrame, since=None, until=None, coactivity_minutes: float = 30,
                         exclude_ips=()) -> pd.DataFrame:
    """The ring-scoring activity table from evidence edges read back from a graph store.

    ``evidence`` has ``account_id, entity, entity_type, success_us`` (arrays or
    the encoded text). The result equals
    :func:`entity_activity` on the same case and arguments.

    Examples
    --------
    >>> ev = pd.DataFrame({"account_id": ["A", "B"], "entity": ["ip:1.1.1.1"] * 2, "entity_type": ["ip"] * 2,
    ...                    "success_us": ["0 1800000000", "60000000"]})
    >>> evidence_to_activity(ev)["bin"].tolist()
    [0, 1, 0]
    """
    if not coactivity_minutes > 0:
        raise InputError(f"coactivity_minutes must be positive, got {coactivity_minutes!r}")
    arrays = [decode_times(t) for t in evidence["success_us"]]
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    us = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)
    act = pd.DataFrame({
        "account_id": np.repeat(evidence["account_id"].to_numpy(dtype=object), lengths),
        "entity": np.repeat(evidence["entity"].to_numpy(dtype=object), lengths),
        "entity_type": np.repeat(evidence["entity_type"].to_numpy(dtype=object), lengths),
        "ns": us * 1000,
    })
    keep = np.ones(len(act), dtype=bool)
    if since is not None:
        keep &= act["ns"].to_numpy() >= pd.Timestamp(since).value
    if until is not None:
        keep &= act["ns"].to_numpy() <= pd.Timestamp(until).value
    act = act[keep]
    origin = int(act["ns"].min()) if len(act) else 0
    if len(exclude_ips):
        act = act[~act["entity"].isin([f"ip:{ip}" for ip in exclude_ips])]
    act = act.assign(bin=(act["ns"].to_numpy() - origin) // np.int64(round(coactivity_minutes * 60e9)))
    return finish_activity(act, origin, coactivity_minutes)
