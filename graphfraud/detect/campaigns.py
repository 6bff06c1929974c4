"""Credential-stuffing and spraying campaigns: IPs failing logins against many unrelated accounts.

Their victims are random targets, not a ring, so the ring stage never uses a
campaign IP as evidence.
"""

from __future__ import annotations

import pandas as pd

from ..case import Case
from ..case.arrays import window_mask
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
