"""Ring summaries: pooled significance, the explainable score, the verdict and the evidence in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["ring_summaries", "SUMMARY_COLUMNS", "SCORE_WEIGHTS"]

SUMMARY_COLUMNS = ["ring_id", "size", "score", "pvalue", "flagged", "shared_ips", "shared_devices", "countries",
                   "members_with_bursts", "members_with_findings", "members_with_bad_payments", "first_seen",
                   "last_seen", "top_evidence"]

SCORE_WEIGHTS = {
    "coordination": 0.35,   # co-activity on shared infrastructure beyond chance
    "specificity": 0.15,    # shared entities used by (almost) nobody outside the ring
    "infrastructure_risk": 0.15,  # risk score / TOR of the shared IPs
    "member_signals": 0.10,  # mean composite of the members
    "bursts": 0.10,         # share of members with a risky-fail -> EC2 burst
    "findings": 0.05,       # share of members with a security finding
    "bad_payments": 0.10,   # share of members with a chargeback or decline
}


def ring_summaries(case, rings, pairs, activity, popularity, attrs, threshold, params, signals, bursts) -> pd.DataFrame:
    if rings.empty:
        cols = SUMMARY_COLUMNS + ["significant_pairs", "coactive_days"] + [f"c_{k}" for k in SCORE_WEIGHTS]
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    ring_of = rings.set_index("account_id")["ring_id"]
    p = pairs.assign(ra=ring_of.reindex(pairs["account_a"]).to_numpy(), rb=ring_of.reindex(pairs["account_b"]).to_numpy())
    inside = p[p["ra"].notna() & (p["ra"] == p["rb"])]
    pooled = inside.groupby("ra").agg(coactive=("coactive", "sum"), expected=("expected", "sum"))
    pvalue = stats.poisson.sf(pooled["coactive"] - 1, pooled["expected"])
    pooled["pvalue"] = np.where(pooled["coactive"] > 0, pvalue, 1.0)

    minutes = attrs.get("coactivity_minutes", 30)
    act = activity.assign(ring_id=ring_of.reindex(activity["account_id"]).to_numpy())
    act = act[act["ring_id"].notna()]
    # entities used by 2+ members of the same ring
    used = act.drop_duplicates(["ring_id", "entity", "account_id"])
    per_entity = used.groupby(["ring_id", "entity"]).size()
    shared = per_entity[per_entity >= 2].reset_index(name="members")
    shared["entity_accounts"] = popularity.reindex(shared["entity"]).to_numpy()
    shared["type"] = shared["entity"].str.split(":", n=1).str[0]
    shared["value"] = shared["entity"].str.split(":", n=1).str[1]
    rep = case.ip_reputation.set_index("ip")
    shared["risk"] = np.where(shared["type"] == "ip", rep["risk_score"].reindex(shared["value"]).to_numpy(dtype=float),
                              np.nan)
    shared["tor"] = np.where(shared["type"] == "ip",
                             rep["is_tor"].reindex(shared["value"]).fillna(False).to_numpy(dtype=bool), False)

    # countries seen on the ring's shared IPs
    lg = case.logins
    login_ip = "ip:" + lg["ip"].astype(object).astype(str)
    shared_ip_entities = set(shared.loc[shared["type"] == "ip", "entity"])
    on_shared = login_ip.isin(shared_ip_entities).to_numpy()
    countries = pd.DataFrame({"entity": login_ip.to_numpy()[on_shared],
                              "account_id": lg["account_id"].astype(object).to_numpy()[on_shared],
                              "country": lg["country_iso"].astype(object).to_numpy()[on_shared]})
    countries["ring_id"] = ring_of.reindex(countries["account_id"]).to_numpy()

    seen = _shared_login_times(case, ring_of, shared, params)
    findings = set(case.security_findings["account_id"])
    bad_pay = set(case.bad_payments()["account_id"])
    with_bursts = set(bursts["account_id"]) if bursts is not None else set()
    composite = signals.set_index("account_id")["composite"] if signals is not None else pd.Series(dtype=float)

    # split once: filtering whole frames per ring is quadratic with thousands of small communities
    shared_by = dict(tuple(shared.groupby("ring_id")))
    inside_by = dict(tuple(inside.groupby("ra")))
    country_by = dict(tuple(countries.dropna(subset=["ring_id"]).groupby("ring_id")["country"]))
    empty_shared, empty_inside = shared.iloc[:0], inside.iloc[:0]
    rows = []
    for ring_id, members in rings.groupby("ring_id")["account_id"]:
        mem = members.tolist()
        sh = shared_by.get(ring_id, empty_shared)
        ins = inside_by.get(ring_id, empty_inside)
        ring_pv = float(pooled["pvalue"].get(ring_id, 1.0))
        days = int(ins["coactive_days"].max()) if len(ins) else 0
        first, last = seen.get(ring_id, (pd.NaT, pd.NaT))
        ips = sh[sh["type"] == "ip"]
        devs = sh[sh["type"] == "device"]
        n = len(mem)
        surprise = -np.log10(max(ring_pv, 1e-300))
        exclusive = (sh["entity_accounts"] <= sh["members"]).mean() if len(sh) else 0.0
        risk_known = ips["risk"].dropna()
        comp = {
            "coordination": float(1 - np.exp(-surprise / 20)),
            "specificity": float(exclusive),
            "infrastructure_risk": float(max(risk_known.mean() / 100 if len(risk_known) else 0.0,
                                             ips["tor"].mean() if len(ips) else 0.0)),
            "member_signals": float(composite.reindex(mem).fillna(0).mean()) if len(composite) else 0.0,
            "bursts": sum(a in with_bursts for a in mem) / n,
            "findings": sum(a in findings for a in mem) / n,
            "bad_payments": sum(a in bad_pay for a in mem) / n,
        }
        score = float(sum(SCORE_WEIGHTS[k] * comp[k] for k in SCORE_WEIGHTS))
        # The pooled p-value is of a group Louvain *chose* for its strong edges: on a
        # busy IP some pairs are co-active by chance and grouping them makes the pool
        # look surprising. So at least one pair must pass the pair-level test alone.
        strong_pairs = int((ins["pvalue"] < threshold).sum())
        flagged = bool(ring_pv < threshold and strong_pairs >= 1 and days >= params["min_coactive_days"])
        ctry = country_by.get(ring_id, pd.Series(dtype=object)).dropna()
        rows.append({
            "ring_id": ring_id,
            "size": n,
            "score": round(score, 4),
            "pvalue": ring_pv,
            "flagged": flagged,
            "shared_ips": ";".join(ips.sort_values("members", ascending=False)["value"]),
            "shared_devices": ";".join(devs.sort_values("members", ascending=False)["value"]),
            "countries": ";".join(ctry.value_counts().index[:5]),
            "members_with_bursts": sum(a in with_bursts for a in mem),
            "members_with_findings": sum(a in findings for a in mem),
            "members_with_bad_payments": sum(a in bad_pay for a in mem),
            "first_seen": first,
            "last_seen": last,
            "top_evidence": _evidence_text(n, ins, sh, days, minutes, ring_pv),
            "significant_pairs": strong_pairs,
            "coactive_days": days,
            **{f"c_{k}": round(v, 4) for k, v in comp.items()},
        })
    out = pd.DataFrame(rows)
    return out.sort_values(["flagged", "score", "ring_id"], ascending=[False, False, True],
                           kind="stable").reset_index(drop=True)


def _evidence_text(n, ins, sh, days, minutes, pv) -> str:
    if sh.empty:
        return "no infrastructure shared by 2+ members"
    top = sh.sort_values(["members", "entity_accounts"], ascending=[False, True]).iloc[0]
    kind = "IP" if top["type"] == "ip" else "device"
    risk = f", risk {int(top['risk'])}" if top["type"] == "ip" and not np.isnan(top["risk"]) else ""
    tor = ", TOR" if bool(top["tor"]) else ""
    co, exp = int(ins["coactive"].sum()), float(ins["expected"].sum())
    return (f"{int(top['members'])} of {n} accounts used {kind} {top['value']} ({int(top['entity_accounts'])} "
            f"accounts in all{risk}{tor}); members co-active {co:,} times (two members on the same shared IP or "
            f"device within {minutes:g}-{2 * minutes:g} min: member pairs x time slots) on up to {days} day(s), vs "
            f"{exp:.2f} expected by chance (p={_pv(pv)}); {len(sh)} shared entities")


def _pv(p: float) -> str:
    return "<1e-300" if p < 1e-300 else f"{p:.2g}"


def _shared_login_times(case, ring_of: pd.Series, shared: pd.DataFrame, params: dict) -> dict:
    """Per ring: the first and last successful login (real event times) of a member on the ring's shared entities."""
    lg = case.logins
    acct = lg["account_id"].astype(object)
    keep = acct.isin(ring_of.index).to_numpy() & (lg["result"].to_numpy() == "SUCCESS")
    ts = lg["event_ts"].to_numpy(dtype="datetime64[ns]")
    if params.get("since") is not None:
        keep &= ts >= pd.Timestamp(params["since"]).to_datetime64()
    if params.get("until") is not None:
        keep &= ts <= pd.Timestamp(params["until"]).to_datetime64()
    ring = ring_of.reindex(acct.to_numpy()[keep]).to_numpy()
    parts = [pd.DataFrame({"ring_id": ring, "entity": kind + ":" + lg[col].astype(object).to_numpy()[keep].astype(str),
                           "ts": ts[keep], "ok": lg[col].notna().to_numpy()[keep]})
             for col, kind in (("ip", "ip"), ("device_id", "device"))]
    on = pd.concat(parts, ignore_index=True)
    on = on[on["ok"]].merge(shared[["ring_id", "entity"]], on=["ring_id", "entity"])
    g = on.groupby("ring_id")["ts"]
    return {r: (pd.Timestamp(lo), pd.Timestamp(hi)) for r, lo, hi in zip(g.min().index, g.min(), g.max())}
