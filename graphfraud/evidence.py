"""Account–infrastructure evidence: who used which IP or device, and when.

This table is the boundary between a graph store and the ring scoring: the
NetworkX path builds it from the case, a Gremlin backend reads the same columns
back from the graph, and :func:`graphfraud.scoring.pair_evidence` takes it from there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._arrays import window_mask
from .case import Case
from .errors import InputError

__all__ = ["entity_activity", "detect_campaigns", "finish_activity", "ACTIVITY_COLUMNS", "CAMPAIGN_COLUMNS"]

ACTIVITY_COLUMNS = ["account_id", "entity", "entity_type", "bin"]
CAMPAIGN_COLUMNS = ["ip", "victims", "failures", "successes", "first_seen", "last_seen", "risk_score", "is_tor",
                    "asn", "accounts_with_success"]


def detect_campaigns(case: Case, since=None, until=None, min_victims: int = 10,
                     min_fail_share: float = 0.5) -> pd.DataFrame:
    """IPs failing logins against many accounts: credential-stuffing or spraying campaigns.

    An IP is a campaign when its FAIL logins hit at least ``min_victims`` distinct
    accounts and FAILs are at least ``min_fail_share`` of its logins (a carrier NAT
    has many accounts but mostly successes). Victims of a campaign are random
    targets, not a ring: the rings code never uses a campaign IP as evidence.

    Returns
    -------
    DataFrame
        ``ip, victims, failures, successes, first_seen, last_seen, risk_score, is_tor,
        asn, accounts_with_success`` (accounts that also logged in successfully from
        the IP: takeover candidates), most victims first.

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> lg = pd.DataFrame({"event_ts": ["2025-08-01 10:00"] * 12, "account_id": [f"V{i}" for i in range(12)],
    ...     "ip": ["6.6.6.6"] * 12, "country_iso": ["RU"] * 12, "result": ["FAIL"] * 12,
    ...     "mfa_used": [0] * 12, "device_id": [f"d{i}" for i in range(12)]})
    >>> detect_campaigns(graphfraud.case_from_frames(logins=lg))[["ip", "victims", "failures"]].values.tolist()
    [['6.6.6.6', 12, 12]]
    """
    if min_victims < 2:
        raise InputError(f"min_victims must be at least 2, got {min_victims}")
    lg = case.logins
    keep = window_mask(lg["event_ts"], since, until) & lg["ip"].notna().to_numpy()
    df = pd.DataFrame({
        "ip": lg["ip"].astype(object).to_numpy()[keep],
        "account_id": lg["account_id"].astype(object).to_numpy()[keep],
        "fail": (lg["result"].to_numpy() == "FAIL")[keep],
        "event_ts": lg["event_ts"].to_numpy()[keep],
    })
    fails = df[df["fail"]]
    per = fails.groupby("ip").agg(victims=("account_id", "nunique"), failures=("fail", "size"),
                                  first_seen=("event_ts", "min"), last_seen=("event_ts", "max"))
    per = per[per["victims"] >= min_victims]
    if per.empty:
        return _empty_campaigns()
    ok = df[~df["fail"] & df["ip"].isin(per.index)]
    per["successes"] = ok.groupby("ip").size().reindex(per.index, fill_value=0)
    per["accounts_with_success"] = ok.groupby("ip")["account_id"].nunique().reindex(per.index, fill_value=0)
    per = per[per["failures"] / (per["failures"] + per["successes"]) >= min_fail_share]
    rep = case.ip_reputation.set_index("ip")
    per = per.join(rep[["risk_score", "is_tor", "asn"]], how="left").reset_index()
    per = per.sort_values(["victims", "failures", "ip"], ascending=[False, False, True], kind="stable")
    return per[CAMPAIGN_COLUMNS].reset_index(drop=True)


def _empty_campaigns() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in CAMPAIGN_COLUMNS})


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
