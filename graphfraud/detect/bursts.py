"""The "risky failed login, then an EC2 RUN_INSTANCES burst across regions" detector."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..case.arrays import login_ip_reputation, sort_order, window_mask
from ..case import Case
from ..errors import InputError

__all__ = ["detect_bursts", "BURST_COLUMNS"]

BURST_COLUMNS = ["account_id", "trigger_ts", "ip", "run_count_24h", "region_count_24h", "regions"]


def detect_bursts(
    case: Case,
    risk_threshold: float = 80,
    min_runs: int = 4,
    min_regions: int = 2,
    window_hours: float = 24,
    since=None,
    until=None,
) -> pd.DataFrame:
    """Risky FAIL logins followed by a burst of ``RUN_INSTANCES`` across regions.

    A trigger is a FAIL login at ``t0`` from an IP with ``risk_score >=
    risk_threshold``, followed on the same account by at least ``min_runs``
    ``RUN_INSTANCES`` calls in at least ``min_regions`` distinct regions with
    ``t0 <= event_ts <= t0 + window_hours`` (both ends inclusive). One row per
    risky fail that meets this; IPs without a reputation row are never risky.

    Parameters
    ----------
    since, until
        only consider risky fails with ``since <= t0 <= until`` (EC2 calls after
        ``until`` still count towards a trigger's window).

    Returns
    -------
    DataFrame
        ``account_id, trigger_ts, ip, run_count_24h, region_count_24h, regions``
        (``regions``: the distinct regions, sorted, comma-separated), sorted by
        account and time. The ``_24h`` names stay whatever ``window_hours`` is.

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> logins = pd.DataFrame({"event_ts": ["2025-08-01 00:00"], "account_id": ["A1"],
    ...     "ip": ["6.6.6.6"], "country_iso": ["RU"], "result": ["FAIL"], "mfa_used": [0],
    ...     "device_id": ["d"]})
    >>> rep = pd.DataFrame({"ip": ["6.6.6.6"], "risk_score": [95], "asn": [1], "is_tor": [0]})
    >>> ec2 = pd.DataFrame({"event_ts": ["2025-08-01 01:00", "2025-08-01 02:00",
    ...     "2025-08-01 03:00", "2025-08-02 00:00"], "account_id": ["A1"] * 4,
    ...     "action": ["RUN_INSTANCES"] * 4, "instance_id": ["i1", "i2", "i3", "i4"],
    ...     "region": ["us-east-1", "eu-west-1", "us-east-1", "eu-west-1"]})
    >>> case = graphfraud.case_from_frames(logins=logins, ip_reputation=rep, ec2_activity=ec2)
    >>> graphfraud.detect_bursts(case)[["run_count_24h", "region_count_24h", "regions"]].values.tolist()
    [[4, 2, 'eu-west-1,us-east-1']]
    """
    if min_runs < 1 or min_regions < 1:
        raise InputError(f"min_runs and min_regions must be at least 1, got {min_runs} and {min_regions}")
    if not window_hours >= 0:
        raise InputError(f"window_hours must be >= 0, got {window_hours!r}")

    lg = case.logins
    risk, _ = login_ip_reputation(case)
    risky = (lg["result"].to_numpy() == "FAIL") & (risk >= risk_threshold)
    risky &= window_mask(lg["event_ts"], since, until)
    trig = lg.loc[risky, ["account_id", "event_ts", "ip"]]

    ec2 = case.ec2_activity
    runs = ec2.loc[ec2["action"] == "RUN_INSTANCES", ["account_id", "event_ts", "region"]]
    if not len(trig) or not len(runs):
        return _empty()

    # One shared code space for accounts in both tables.
    accounts = pd.Index(pd.unique(np.concatenate([
        trig["account_id"].astype(object).to_numpy(), runs["account_id"].astype(object).to_numpy()])))
    t_acct = accounts.get_indexer(trig["account_id"].astype(object))
    r_acct = accounts.get_indexer(runs["account_id"].astype(object))
    t0 = trig["event_ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    r_ts = runs["event_ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    order = sort_order(r_acct, r_ts)
    r_acct, r_ts = r_acct[order], r_ts[order]
    region_codes, region_names = pd.factorize(runs["region"].astype(object).to_numpy()[order], use_na_sentinel=True)

    width = np.int64(round(window_hours * 3600 * 1e9))
    lo = _rank(r_acct, r_ts, t_acct, t0, inclusive=False)
    hi = _rank(r_acct, r_ts, t_acct, t0 + width, inclusive=True)
    run_count = hi - lo

    # Expand (trigger, run-in-window) pairs to count distinct regions per trigger.
    lengths = run_count
    trig_idx = np.repeat(np.arange(len(t0)), lengths)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    run_pos = np.arange(lengths.sum()) + starts
    reg = region_codes[run_pos]
    known = reg >= 0
    pairs = np.unique(trig_idx[known] * np.int64(len(region_names) + 1) + reg[known])
    pair_trig = pairs // np.int64(len(region_names) + 1)
    pair_reg = pairs % np.int64(len(region_names) + 1)
    region_count = np.bincount(pair_trig, minlength=len(t0))

    hit = (run_count >= min_runs) & (region_count >= min_regions)
    if not hit.any():
        return _empty()
    names = np.asarray(region_names, dtype=object)
    per_trig = pd.Series(names[pair_reg]).groupby(pair_trig).agg(lambda s: ",".join(sorted(s)))
    hit_idx = np.flatnonzero(hit)
    out = pd.DataFrame(
        {
            "account_id": trig["account_id"].astype(object).to_numpy()[hit_idx],
            "trigger_ts": trig["event_ts"].to_numpy()[hit_idx],
            "ip": trig["ip"].astype(object).to_numpy()[hit_idx],
            "run_count_24h": run_count[hit_idx].astype(np.int64),
            "region_count_24h": region_count[hit_idx].astype(np.int64),
            "regions": per_trig.reindex(hit_idx).to_numpy(dtype=object),
        }
    )
    return out.sort_values(["account_id", "trigger_ts"], kind="stable").reset_index(drop=True)


def _rank(acct, ts, q_acct, q_ts, inclusive: bool) -> np.ndarray:
    """For each query, how many (acct, ts) rows sort before it (``<=`` if inclusive).

    Both arrays are merged in one lexicographic sort, so this is exact for any
    timestamps and any number of accounts (no packed integer keys to overflow).
    """
    n, m = len(acct), len(q_acct)
    all_acct = np.concatenate([acct, q_acct])
    all_ts = np.concatenate([ts, q_ts])
    is_query = np.concatenate([np.zeros(n, dtype=bool), np.ones(m, dtype=bool)])
    # at equal (acct, ts): rows first when inclusive (they count), queries first otherwise
    tie = is_query if inclusive else ~is_query
    order = np.lexsort((tie, all_ts, all_acct))
    rows_before = np.cumsum(~is_query[order])
    out = np.empty(m, dtype=np.int64)
    q_pos = np.flatnonzero(is_query[order])
    out[order[q_pos] - n] = rows_before[q_pos]
    return out


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": pd.Series(dtype=object),
            "trigger_ts": pd.Series(dtype="datetime64[ns]"),
            "ip": pd.Series(dtype=object),
            "run_count_24h": pd.Series(dtype="int64"),
            "region_count_24h": pd.Series(dtype="int64"),
            "regions": pd.Series(dtype=object),
        }
    )
