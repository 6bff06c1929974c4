"""Straightforward per-account pandas implementations of the signals and the burst detector, and per-ring case folders.

They follow the data contract's sentences line by line, one account (or one risky
login, or one ring) at a time. The tests use them as an independent oracle for the
vectorised code, and bench/bench_foundation.py and bench/bench_cases.py time them
for the speed-up figures.
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


def naive_ring_cases(case, rings, out_dir, signals, bursts, periods, graph):
    """Every flagged ring's case folder, one ring at a time, with each page carrying vis-network inside it.

    The simplest way to write the files ``open_ring_cases`` writes: each ring
    filters the whole tables for its members, counts its shared infrastructure
    from every successful login of the period, and formats its own rows; the
    folder's text (case.json, summary.md, the page's data) comes from the same
    formatting helpers. Only ``graph.html`` differs from ``open_ring_cases``'s
    by design (vis-network inlined rather than in ``_assets/``).
    """
    from pathlib import Path

    import numpy as np

    from graphfraud.act import cases as C
    from graphfraud.case import BAD_PAYMENT_STATUSES

    out_dir = Path(out_dir)
    summary = rings.summary.set_index("ring_id")
    lg = case.logins
    ok = lg[periods.analysis.mask(lg["event_ts"]) & (lg["result"].astype(object) == "SUCCESS").to_numpy()]
    rep = case.ip_reputation.set_index("ip")
    campaign = set(rings.campaigns["ip"].astype(object)) if len(rings.campaigns) else set()
    users = C._plain(case.users).drop_duplicates("account_id").set_index("account_id")
    sig = None
    if signals is not None:
        sig = C._plain(signals).rename(columns={"logins": "window_logins"})
        sig = sig.astype({c: "Int64" for c in sig.columns if pd.api.types.is_integer_dtype(sig[c].dtype)})
    for ring_id in rings.flagged["ring_id"]:
        members = sorted(rings.members(ring_id))
        raw = {}
        for name, (table, ts) in C._EVIDENCE.items():
            df = getattr(case, table)
            df = C._plain(df[df["account_id"].astype(object).isin(members).to_numpy() & periods.analysis.mask(df[ts])])
            raw[name] = C._sorted(df, [ts, "account_id"]) if len(df) else df.reset_index(drop=True)

        rows = []
        mine = ok[ok["account_id"].astype(object).isin(members).to_numpy()]
        for col, kind in (("ip", "ip"), ("device_id", "device")):
            for value, g in mine.groupby(mine[col].astype(object)):
                per = g["account_id"].astype(object).value_counts()
                if len(per) < 2:
                    continue
                is_ip = kind == "ip" and value in rep.index
                rows.append({"entity_type": kind, "value": value, "members_with_success": len(per),
                             "accounts_with_success": ok.loc[(ok[col] == value).to_numpy(), "account_id"].nunique(),
                             "member_success_logins": int(per.sum()),
                             "risk_score": rep.at[value, "risk_score"] if is_ip else None,
                             "is_tor": bool(rep.at[value, "is_tor"]) if is_ip and pd.notna(rep.at[value, "is_tor"])
                             else None,
                             "campaign_ip": kind == "ip" and value in campaign,
                             "member_ids": ";".join(sorted(per.index))})
        infra = pd.DataFrame(rows, columns=C.INFRASTRUCTURE_COLUMNS)
        infra["risk_score"] = pd.array(infra["risk_score"].tolist(), dtype="Int64")
        infra = infra.sort_values(["members_with_success", "accounts_with_success", "entity_type", "value"],
                                  ascending=[False, True, True, True], kind="stable").reset_index(drop=True)

        mem = pd.DataFrame({"account_id": members}).join(
            users[["country", "signup_ts", "email_domain", "is_enterprise"]], on="account_id")

        def count(df):
            return df["account_id"].astype(object).value_counts().reindex(members, fill_value=0).to_numpy()

        pay, found = raw["payments"], raw["security_findings"]
        mem["success_logins"] = count(raw["logins"][raw["logins"]["result"] == "SUCCESS"])
        mem["failed_logins"] = count(raw["logins"][raw["logins"]["result"] == "FAIL"])
        mine_bursts = None
        if bursts is not None and len(bursts):
            mine_bursts = bursts[bursts["account_id"].astype(object).isin(members).to_numpy()]
        mem["burst_triggers"] = count(mine_bursts) if mine_bursts is not None else np.zeros(len(members), int)
        mem["findings"] = count(found)
        mem["bad_payments"] = count(pay[pay["status"].isin(list(BAD_PAYMENT_STATUSES))])
        if sig is not None:
            mem = mem.merge(sig, on="account_id", how="left")
        raw["shared_infrastructure"], raw["members"] = infra, mem
        csv = {name: C._csv_text(C.formula_safe(df)) for name, df in raw.items()}
        C._write_folder(out_dir / ring_id, ring_id, summary.loc[ring_id], members, rings, periods, raw, csv,
                        mine_bursts, case, graph, None)
