"""Straightforward per-account pandas implementations of the signals and the burst detector.

They follow the data contract's sentences line by line, one account (or one risky
login) at a time. The tests use them as an independent oracle for the vectorised
code, and bench/bench_foundation.py times them for the speed-up figure.
"""

from __future__ import annotations

import pandas as pd


def naive_signals(case, window_days=14, as_of=None, high_risk=80):
    lg = case.logins.copy()
    for c in ("account_id", "ip", "country_iso", "device_id", "result"):
        lg[c] = lg[c].astype(object)
    rep = case.ip_reputation.set_index("ip")
    as_of = lg["event_ts"].max() if as_of is None else pd.Timestamp(as_of)
    start = as_of - pd.Timedelta(days=window_days)
    rows = []
    for acct, g in lg.groupby("account_id", sort=True):
        w = g[(g["event_ts"] >= start) & (g["event_ts"] <= as_of)]
        h = g[g["event_ts"] < start]
        if w.empty:
            continue
        n = len(w)
        risk = w["ip"].map(rep["risk_score"])
        tor = w["ip"].map(rep["is_tor"]).fillna(False).astype(bool)
        wc = set(w["country_iso"].dropna())
        hc = set(h["country_iso"].dropna())
        wd = set(w["device_id"].dropna())
        hd = set(h["device_id"].dropna())
        if h.empty:
            ncr, churn = 1.0, 1.0
        else:
            ncr = len(wc - hc) / len(wc) if wc else 0.0
            churn = len(wd - hd) / len(wd) if wd else 0.0
        row = {
            "account_id": acct,
            "logins": n,
            "failed_login_rate": (w["result"] == "FAIL").sum() / n,
            "new_country_rate": ncr,
            "mfa_rate": w["mfa_used"].sum() / n,
            "tor_login_count": int(tor.sum()),
            "device_count": len(wd),
            "device_churn": churn,
            "high_risk_ip_share": (risk >= high_risk).sum() / n,
        }
        row["composite"] = (0.4 * row["failed_login_rate"] + 0.3 * ncr + 0.2 * (row["tor_login_count"] > 0)
                            + 0.1 * row["high_risk_ip_share"])
        rows.append(row)
    return pd.DataFrame(rows)


def naive_bursts(case, risk_threshold=80, min_runs=4, min_regions=2, window_hours=24):
    lg = case.logins
    rep = case.ip_reputation.set_index("ip")["risk_score"]
    ec2 = case.ec2_activity
    runs = ec2[ec2["action"].astype(object) == "RUN_INSTANCES"]
    out = []
    for _, r in lg.iterrows():
        if r["result"] != "FAIL" or r["ip"] not in rep.index or rep[r["ip"]] < risk_threshold:
            continue
        t0 = r["event_ts"]
        mine = runs[(runs["account_id"].astype(object) == r["account_id"])
                    & (runs["event_ts"] >= t0) & (runs["event_ts"] <= t0 + pd.Timedelta(hours=window_hours))]
        regions = sorted(set(mine["region"].dropna().astype(object)))
        if len(mine) >= min_runs and len(regions) >= min_regions:
            out.append({"account_id": r["account_id"], "trigger_ts": t0, "ip": r["ip"],
                        "run_count_24h": len(mine), "region_count_24h": len(regions), "regions": ",".join(regions)})
    cols = ["account_id", "trigger_ts", "ip", "run_count_24h", "region_count_24h", "regions"]
    df = pd.DataFrame(out, columns=cols)
    return df.sort_values(["account_id", "trigger_ts"], kind="stable").reset_index(drop=True)
