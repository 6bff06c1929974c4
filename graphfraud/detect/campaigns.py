"""Credential-stuffing and spraying campaigns: IPs failing logins against many unrelated accounts.

Their victims are random targets, not a ring, so the ring stage never uses a
campaign IP as evidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..case import Case
from ..case.arrays import codes, distinct_rows, window_mask
from ..errors import InputError

__all__ = ["detect_campaigns", "CAMPAIGN_COLUMNS"]

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
    # on codes: one login table of 30M rows never becomes Python strings here
    ip, ips = codes(lg["ip"])
    acct, _ = codes(lg["account_id"])
    keep = window_mask(lg["event_ts"], since, until) & (ip >= 0)
    fail = lg["result"].to_numpy() == "FAIL"
    f = keep & fail
    n = len(ips)
    victims = np.bincount(distinct_rows(ip[f], acct[f])[0], minlength=n)
    cand = victims >= min_victims
    if not cand.any():
        return _empty_campaigns()
    ts = lg["event_ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    on = keep & cand[np.maximum(ip, 0)]
    f, ok = on & fail, on & ~fail
    first, last = np.full(n, np.iinfo(np.int64).max), np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, ip[f], ts[f])
    np.maximum.at(last, ip[f], ts[f])
    idx = np.flatnonzero(cand)
    per = pd.DataFrame({
        "victims": victims[idx].astype(np.int64),
        "failures": np.bincount(ip[f], minlength=n)[idx].astype(np.int64),
        "first_seen": first[idx].view("datetime64[ns]"), "last_seen": last[idx].view("datetime64[ns]"),
        "successes": np.bincount(ip[ok], minlength=n)[idx].astype(np.int64),
        "accounts_with_success": np.bincount(distinct_rows(ip[ok], acct[ok])[0], minlength=n)[idx].astype(np.int64),
    }, index=pd.Index(np.asarray(ips, dtype=object)[idx], name="ip"))
    per = per[per["failures"] / (per["failures"] + per["successes"]) >= min_fail_share]
    rep = case.ip_reputation.set_index("ip")
    per = per.join(rep[["risk_score", "is_tor", "asn"]], how="left").reset_index()
    per = per.sort_values(["victims", "failures", "ip"], ascending=[False, False, True], kind="stable")
    return per[CAMPAIGN_COLUMNS].reset_index(drop=True)


def _empty_campaigns() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in CAMPAIGN_COLUMNS})
