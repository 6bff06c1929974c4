"""Per-account signals over a time window, as defined in the data contract."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..case.arrays import codes, login_ip_reputation, resolve_as_of
from ..case import Case
from ..errors import InputError

__all__ = ["account_signals", "DEFAULT_WEIGHTS", "SIGNAL_COLUMNS"]

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "failed_login_rate": 0.4,
    "new_country_rate": 0.3,
    "tor": 0.2,
    "high_risk_ip_share": 0.1,
}

SIGNAL_COLUMNS = [
    "account_id",
    "logins",
    "failed_login_rate",
    "new_country_rate",
    "mfa_rate",
    "tor_login_count",
    "device_count",
    "device_churn",
    "high_risk_ip_share",
    "composite",
]


def account_signals(
    case: Case,
    window_days: float = 14,
    as_of=None,
    weights: Mapping[str, float] | None = None,
    high_risk_threshold: float = 80,
) -> pd.DataFrame:
    """Signals per account over ``[as_of - window_days, as_of]`` (both ends inclusive).

    One row per account with at least one login in the window. "History" is every
    login before the window; logins after ``as_of`` are ignored.

    Parameters
    ----------
    case
        the loaded case.
    window_days
        length of the window in days (default 14).
    as_of
        end of the window; default the latest login ``event_ts`` in the case.
    weights
        composite weights for ``failed_login_rate``, ``new_country_rate``, ``tor``
        (the indicator ``tor_login_count > 0``) and ``high_risk_ip_share``;
        default 0.4, 0.3, 0.2, 0.1. Keys left out keep their default.
    high_risk_threshold
        ``risk_score`` at or above which an IP is high risk (default 80).

    Returns
    -------
    DataFrame
        ``account_id, logins, failed_login_rate, new_country_rate, mfa_rate,
        tor_login_count, device_count, device_churn, high_risk_ip_share, composite``
        sorted by ``account_id``; ``attrs`` holds ``as_of``, ``window_start`` and the weights.

    Notes
    -----
    ``new_country_rate`` and ``device_churn`` are 1.0 for an account with no
    history; with history but no known country (or device) in the window they are
    0.0. Logins whose IP has no reputation row count in the denominators but never
    as TOR or high risk.

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> logins = pd.DataFrame({
    ...     "event_ts": ["2025-07-01 09:00", "2025-08-10 09:00", "2025-08-14 09:00"],
    ...     "account_id": ["A1", "A1", "A1"], "ip": ["1.1.1.1", "2.2.2.2", "2.2.2.2"],
    ...     "country_iso": ["DE", "DE", "FR"], "result": ["SUCCESS", "FAIL", "SUCCESS"],
    ...     "mfa_used": [1, 0, 1], "device_id": ["d1", "d2", "d2"]})
    >>> s = graphfraud.account_signals(graphfraud.case_from_frames(logins=logins))
    >>> s[["logins", "failed_login_rate", "new_country_rate", "device_churn"]].to_dict("records")
    [{'logins': 2, 'failed_login_rate': 0.5, 'new_country_rate': 0.5, 'device_churn': 1.0}]
    """
    w = _weights(weights)
    if not window_days > 0:
        raise InputError(f"window_days must be positive, got {window_days!r}")
    as_of = resolve_as_of(case, as_of)
    start = as_of - pd.Timedelta(days=window_days)

    lg = case.logins
    ts = lg["event_ts"].to_numpy(dtype="datetime64[ns]")
    in_w = (ts >= start.to_datetime64()) & (ts <= as_of.to_datetime64())
    hist = ts < start.to_datetime64()

    acct, acct_cats = codes(lg["account_id"])
    n = len(acct_cats)
    wa = acct[in_w]
    risk, tor = login_ip_reputation(case)

    logins = np.bincount(wa, minlength=n)
    fails = np.bincount(wa, weights=(lg["result"].to_numpy() == "FAIL")[in_w], minlength=n)
    mfa = np.bincount(wa, weights=lg["mfa_used"].to_numpy(dtype=bool)[in_w], minlength=n)
    tor_count = np.bincount(wa, weights=tor[in_w], minlength=n).astype(np.int64)
    high = np.bincount(wa, weights=(risk >= high_risk_threshold)[in_w], minlength=n)
    has_history = np.bincount(acct[hist], minlength=n) > 0

    country_new, country_total = _new_share(acct, codes(lg["country_iso"])[0], in_w, hist, n)
    device_new, device_total = _new_share(acct, codes(lg["device_id"])[0], in_w, hist, n)

    active = logins > 0
    denom = np.maximum(logins, 1)
    out = pd.DataFrame(
        {
            "account_id": np.asarray(acct_cats, dtype=object),
            "logins": logins,
            "failed_login_rate": fails / denom,
            "new_country_rate": _rate(country_new, country_total, has_history),
            "mfa_rate": mfa / denom,
            "tor_login_count": tor_count,
            "device_count": device_total,
            "device_churn": _rate(device_new, device_total, has_history),
            "high_risk_ip_share": high / denom,
        }
    )[active]
    out["composite"] = (
        w["failed_login_rate"] * out["failed_login_rate"]
        + w["new_country_rate"] * out["new_country_rate"]
        + w["tor"] * (out["tor_login_count"] > 0)
        + w["high_risk_ip_share"] * out["high_risk_ip_share"]
    )
    out = out.sort_values("account_id", kind="stable").reset_index(drop=True)
    out.attrs.update(as_of=as_of, window_start=start, window_days=window_days, weights=dict(w),
                     high_risk_threshold=high_risk_threshold)
    return out[SIGNAL_COLUMNS]


def _weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    w = dict(DEFAULT_WEIGHTS)
    if weights:
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise InputError(
                f"unknown composite weight(s) {sorted(unknown)}; expected keys {sorted(DEFAULT_WEIGHTS)}"
            )
        w.update({k: float(v) for k, v in weights.items()})
    return w


def _new_share(acct, value, in_w, hist, n):
    """Per account: distinct window values unseen in history, and distinct window values."""
    width = np.int64(max(int(value.max(initial=-1)) + 1, 1))
    known = value >= 0
    wkeys = np.unique(acct[in_w & known] * width + value[in_w & known])
    hkeys = np.unique(acct[hist & known] * width + value[hist & known])
    new = ~np.isin(wkeys, hkeys, assume_unique=True)
    owner = wkeys // width
    return np.bincount(owner[new], minlength=n), np.bincount(owner, minlength=n)


def _rate(new, total, has_history):
    rate = np.divide(new, total, out=np.zeros(len(total), dtype=float), where=total > 0)
    return np.where(has_history, rate, 1.0)
