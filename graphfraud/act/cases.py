"""Ring-level case folders: everything an analyst needs to open one case on a whole ring."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from ..case import Case
from ..errors import InputError
from ..graph.view import annotate_rings, explore
from ..graph.build import build_graph
from .report import markdown_table
from ..rings import RingResult, find_rings

__all__ = ["open_case", "recommended_actions", "CASE_FILES"]

CASE_FILES = ("case.json", "members.csv", "shared_infrastructure.csv", "logins.csv", "ec2_activity.csv",
              "payments.csv", "security_findings.csv", "graph.html", "summary.md")


def recommended_actions(row: pd.Series) -> list[str]:
    """Containment steps for a ring, least friction first (MFA step-up before suspension)."""
    actions = ["Step up to MFA on every member's next login and revoke their sessions."]
    if row.get("shared_ips"):
        actions.append("Challenge or rate-limit logins from the shared IPs; block those with risk >= 80 or TOR "
                       "only if no account outside the ring uses them.")
    if row.get("members_with_bursts", 0):
        actions.append("Throttle EC2 provisioning (RunInstances quota) on members with a burst trigger and "
                       "review the instances they launched.")
    if row.get("members_with_bad_payments", 0):
        actions.append("Hold new payment methods and review chargebacks/declines across all members together.")
    if row.get("members_with_findings", 0):
        actions.append("Suspend only the members with a confirmed security finding; keep the others under "
                       "step-up until the case is closed.")
    actions.append("Check for further accounts on the shared devices and IPs before closing (the ring may be larger).")
    return actions


def _jsonable(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if hasattr(v, "item"):
        return _jsonable(v.item())
    return v


def open_case(case: Case, ring_id: str, out_dir: str | Path, rings: RingResult | None = None,
              signals: pd.DataFrame | None = None, bursts: pd.DataFrame | None = None, graph=None,
              **ring_params) -> Path:
    """Write ``<out_dir>/<ring_id>/``: case.json, members, shared infrastructure, evidence CSVs, graph and summary.

    ``rings`` is the result the ring came from; without it the rings are found
    again with ``ring_params`` (same parameters and seed give the same ring id).
    Re-running overwrites the same files with the same content.

    Examples
    --------
    >>> import graphfraud, tempfile
    >>> case = graphfraud.load_case(graphfraud.sample_case_path())
    >>> rings = graphfraud.find_rings(case)
    >>> folder = open_case(case, rings.flagged["ring_id"].iloc[0], tempfile.mkdtemp(), rings=rings)
    >>> sorted(p.name for p in folder.iterdir())[:3]
    ['case.json', 'ec2_activity.csv', 'graph.html']
    """
    rings = rings if rings is not None else find_rings(case, signals=signals, bursts=bursts, **ring_params)
    summary = rings.summary.set_index("ring_id") if len(rings.summary) else pd.DataFrame()
    if ring_id not in summary.index:
        known = ", ".join(rings.flagged["ring_id"].head(5)) or "none"
        raise InputError(f"no ring {ring_id!r} in this case with these parameters; flagged rings: {known}")
    row = summary.loc[ring_id]
    members = rings.members(ring_id)
    folder = Path(out_dir) / ring_id
    folder.mkdir(parents=True, exist_ok=True)

    def pick(df: pd.DataFrame) -> pd.DataFrame:
        out = df[df["account_id"].astype(object).isin(members)].copy()
        for c in out.columns:
            if isinstance(out[c].dtype, pd.CategoricalDtype):
                out[c] = out[c].astype(object)
        return out

    logins = pick(case.logins).sort_values(["event_ts", "account_id"], kind="stable")
    ec2 = pick(case.ec2_activity).sort_values(["event_ts", "account_id"], kind="stable")
    pay = pick(case.payments).sort_values(["payment_ts", "account_id"], kind="stable")
    found = pick(case.security_findings).sort_values(["finding_ts", "account_id"], kind="stable")
    for name, df in (("logins", logins), ("ec2_activity", ec2), ("payments", pay), ("security_findings", found)):
        df.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")

    source_act = rings.member_activity if rings.member_activity is not None else rings.activity
    act = source_act[source_act["account_id"].isin(members)]
    used = act.drop_duplicates(["entity", "account_id"]).groupby("entity")["account_id"].agg(
        members="size", member_ids=lambda s: ";".join(sorted(s)))
    used = used[used["members"] >= 2]
    popularity = rings.popularity
    infra = used.reset_index()
    infra["type"] = infra["entity"].str.split(":", n=1).str[0]
    infra["value"] = infra["entity"].str.split(":", n=1).str[1]
    infra["accounts_in_all"] = popularity.reindex(infra["entity"]).to_numpy()
    rep = case.ip_reputation.set_index("ip")
    is_ip = infra["type"] == "ip"
    infra["risk_score"] = rep["risk_score"].reindex(infra["value"]).where(is_ip.to_numpy()).to_numpy()
    infra["is_tor"] = rep["is_tor"].reindex(infra["value"]).where(is_ip.to_numpy()).to_numpy()
    infra = infra[["type", "value", "members", "accounts_in_all", "risk_score", "is_tor", "member_ids"]]
    infra = infra.sort_values(["members", "accounts_in_all", "value"], ascending=[False, True, True], kind="stable")
    infra.to_csv(folder / "shared_infrastructure.csv", index=False)

    sig = signals if signals is not None else None
    users = case.users.set_index("account_id")
    mem = pd.DataFrame({"account_id": members})
    mem = mem.join(users[["country", "signup_ts", "email_domain", "is_enterprise"]], on="account_id")
    if sig is not None:
        mem = mem.merge(sig, on="account_id", how="left")
    trig = bursts.groupby("account_id").size() if bursts is not None and len(bursts) else pd.Series(dtype=int)
    mem["burst_triggers"] = trig.reindex(members, fill_value=0).to_numpy()
    mem["findings"] = found.groupby("account_id").size().reindex(members, fill_value=0).to_numpy()
    bad = pay[pay.index.isin(case.bad_payments().index)]
    mem["bad_payments"] = bad.groupby("account_id").size().reindex(members, fill_value=0).to_numpy()
    mem["logins"] = logins.groupby("account_id").size().reindex(members, fill_value=0).to_numpy()
    mem.to_csv(folder / "members.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")

    timeline = _timeline(logins, ec2, bad, found, bursts, members, set(infra["value"]), mem)
    components = {k[2:]: _jsonable(v) for k, v in row.items() if k.startswith("c_")}
    doc = {
        "ring_id": ring_id,
        "members": members,
        "size": int(row["size"]),
        "score": _jsonable(row["score"]),
        "pvalue": _jsonable(row["pvalue"]),
        "flagged": bool(row["flagged"]),
        "score_components": components,
        "top_evidence": row["top_evidence"],
        "shared_infrastructure": [{k: _jsonable(v) for k, v in r.items()} for r in infra.to_dict("records")],
        "timeline": timeline,
        "evidence_counts": {"logins": len(logins), "ec2_activity": len(ec2), "payments": len(pay),
                            "bad_payments": len(bad), "security_findings": len(found),
                            "burst_triggers": int(mem["burst_triggers"].sum())},
        "recommended_actions": recommended_actions(row),
        "parameters": {k: _jsonable(v) for k, v in rings.params.items()},
        "source": case.source,
    }
    (folder / "case.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")

    g = graph if graph is not None else annotate_rings(build_graph(case, signals=signals, bursts=bursts), rings)
    explore(g, ring=ring_id, hops=1, path=folder / "graph.html", title=f"Ring {ring_id}")
    (folder / "summary.md").write_text(_summary_md(doc, mem, infra), encoding="utf-8")
    return folder


def _timeline(logins, ec2, bad, found, bursts, members, shared_values, mem) -> list[dict]:
    events = []
    for r in mem.itertuples():
        if pd.notna(getattr(r, "signup_ts", None)):
            events.append((r.signup_ts, "signup", r.account_id, f"signed up ({r.email_domain})"))
    shared_logins = logins[logins["ip"].isin(shared_values) | logins["device_id"].isin(shared_values)]
    if len(shared_logins):
        first, last = shared_logins.iloc[0], shared_logins.iloc[-1]
        events.append((first["event_ts"], "first shared login", first["account_id"], f"via {first['ip']}"))
        events.append((last["event_ts"], "last shared login", last["account_id"], f"via {last['ip']}"))
        per_day = shared_logins.groupby(shared_logins["event_ts"].dt.normalize())["account_id"].nunique()
        for day, n in per_day[per_day >= 2].items():
            events.append((day, "coordinated session", None, f"{n} members logged in on shared infrastructure"))
    if bursts is not None and len(bursts):
        for r in bursts[bursts["account_id"].isin(members)].itertuples():
            events.append((r.trigger_ts, "burst trigger", r.account_id,
                           f"risky fail from {r.ip}, then {r.run_count_24h} launches in {r.region_count_24h} regions"))
    for r in bad.itertuples():
        events.append((r.payment_ts, "bad payment", r.account_id, f"{r.status} {r.amount_usd:.2f} USD"))
    for r in found.itertuples():
        events.append((r.finding_ts, "security finding", r.account_id, f"{r.type} ({r.severity})"))
    events.sort(key=lambda e: (pd.Timestamp(e[0]), e[1], e[2] or ""))
    return [{"ts": _jsonable(pd.Timestamp(t)), "event": e, "account_id": a, "detail": d} for t, e, a, d in events]


def _summary_md(doc, mem, infra) -> str:
    comp = ", ".join(f"{k} {v:.2f}" for k, v in doc["score_components"].items())
    lines = [
        f"# Case: ring {doc['ring_id']}",
        "",
        f"**{doc['size']} accounts**, score {doc['score']:.2f} (p = {doc['pvalue']:.2g}, "
        f"{'flagged' if doc['flagged'] else 'not flagged'}).",
        "",
        f"Why: {doc['top_evidence']}.",
        "",
        f"Score components (each 0-1): {comp}.",
        "",
        "## Recommended actions",
        "",
        *[f"{i}. {a}" for i, a in enumerate(doc["recommended_actions"], 1)],
        "",
        "## Members",
        "",
        markdown_table(mem[[c for c in ["account_id", "country", "signup_ts", "email_domain", "logins",
                                        "composite", "burst_triggers", "findings", "bad_payments"] if c in mem]]),
        "",
        "## Shared infrastructure",
        "",
        markdown_table(infra.drop(columns=["member_ids"])),
        "",
        "## Timeline (first 40 events; all in case.json)",
        "",
        markdown_table(pd.DataFrame(doc["timeline"][:40])),
        "",
        "Evidence: logins.csv, ec2_activity.csv, payments.csv, security_findings.csv; graph.html opens offline.",
        "",
    ]
    return "\n".join(lines)
