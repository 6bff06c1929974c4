"""The account–infrastructure graph: accounts, IPs, devices, countries and ASNs, with what happened on each edge."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from ..case import Case
from ..case.arrays import window_logins, window_mask
from ..case.schema import TIME_FORMAT

__all__ = ["build_graph", "node_id", "NODE_TYPES"]

NODE_TYPES = ("account", "ip", "device", "country", "asn")


def node_id(kind: str, value) -> str:
    """Namespaced node id, so an IP and a device with the same text never collide.

    Examples
    --------
    >>> node_id("ip", "1.2.3.4")
    'ip:1.2.3.4'
    """
    if kind not in NODE_TYPES:
        raise ValueError(f"unknown node type {kind!r}; expected one of {NODE_TYPES}")
    return f"{kind}:{value}"


def _iso_list(ts: pd.Series) -> list:
    """Timestamps as ``TIME_FORMAT`` text (None for missing), formatted in one vectorised pass."""
    return ts.dt.strftime(TIME_FORMAT).astype(object).where(ts.notna().to_numpy(), None).tolist()


def _levels(index: pd.MultiIndex) -> list[list]:
    """Each level of ``index`` as a Python list: zipping these is far quicker than iterating the tuples."""
    return [index.get_level_values(i).tolist() for i in range(index.nlevels)]


def build_graph(case: Case, since=None, until=None, signals: pd.DataFrame | None = None,
                bursts: pd.DataFrame | None = None) -> nx.Graph:
    """Build the typed account–infrastructure graph from the logins in ``[since, until]``.

    Every count is over ``[since, until]`` (the analysis period) and names what it
    counts, the same way the case folders do. Nodes carry ``type`` (``account``,
    ``ip``, ``device``, ``country``, ``asn``) and ``label``; IP nodes
    ``risk_score``, ``is_tor``, ``asn``; account nodes ``success_logins``,
    ``failed_logins``, ``burst_triggers`` (rows of ``bursts``), ``findings`` and
    ``bad_payments`` (in the period) and the signals given (or none; their
    ``logins`` column, counted over the signal window, becomes ``window_logins``).
    Account–IP and account–device edges carry ``success_logins``,
    ``failed_logins``, ``first_seen``, ``last_seen`` (any login) and ``mfa_share``;
    account–country edges ``success_logins`` and ``failed_logins``; IP–ASN edges
    link an IP to its autonomous system.

    Examples
    --------
    >>> import graphfraud
    >>> case = graphfraud.load_case(graphfraud.sample_case_path())
    >>> g = graphfraud.build_graph(case)
    >>> g.nodes["ip:" + next(iter(case.ip_reputation["ip"]))]["type"]
    'ip'
    >>> on_countries = sum(d["success_logins"] for _, _, d in g.edges(data=True) if d["type"] == "account-country")
    >>> on_countries == int((case.logins["result"] == "SUCCESS").sum())
    True
    """
    df = window_logins(case, since, until)
    g = nx.Graph(since=None if since is None else str(since), until=None if until is None else str(until))

    accounts = sorted(set(df["account"].tolist()))  # a list iterates far faster than a str column
    sig = {}
    if signals is not None:
        sig = signals[signals["account_id"].isin(accounts).to_numpy()].rename(columns={"logins": "window_logins"})
        sig = sig.set_index("account_id").to_dict("index")
    # every per-account lookup is a dict built once: a pandas lookup per account costs ~10 us, 38k times
    trig = bursts.groupby("account_id").size().to_dict() if bursts is not None and len(bursts) else {}
    found = case.security_findings
    findings = found[window_mask(found["finding_ts"], since, until)].groupby("account_id", observed=True).size()
    bad = case.bad_payments()
    bad = bad[window_mask(bad["payment_ts"], since, until)].groupby("account_id", observed=True).size()
    findings, bad = findings.to_dict(), bad.to_dict()
    per_account = df.groupby("account").agg(success_logins=("success", "sum"), failed_logins=("fail", "sum"))
    logins = dict(zip(per_account.index, zip(per_account["success_logins"].tolist(),
                                             per_account["failed_logins"].tolist())))
    for a in accounts:
        ok, failed = logins[a]
        attrs = {"type": "account", "label": a, "success_logins": int(ok), "failed_logins": int(failed),
                 "burst_triggers": int(trig.get(a, 0)), "findings": int(findings.get(a, 0)),
                 "bad_payments": int(bad.get(a, 0))}
        attrs.update({k: (v.item() if hasattr(v, "item") else v) for k, v in sig.get(a, {}).items()})
        g.add_node(node_id("account", a), **attrs)

    rep = case.ip_reputation.set_index("ip")
    for kind in ("ip", "device"):
        sub = df[df[kind].notna()]
        agg = sub.groupby(["account", kind], sort=True).agg(
            success_logins=("success", "sum"), failed_logins=("fail", "sum"), mfa=("mfa", "mean"),
            first_seen=("ts", "min"), last_seen=("ts", "max"))
        values = sorted(set(sub[kind].tolist()))
        if kind == "ip":
            known = pd.Index(values).isin(rep.index)
            r = rep.reindex(values)
            for v, k, risk, tor, asn in zip(values, known, r["risk_score"].tolist(), r["is_tor"].tolist(),
                                            r["asn"].tolist()):
                attrs = ({"risk_score": int(risk), "is_tor": bool(tor), "asn": None if pd.isna(asn) else int(asn)}
                         if k else {"risk_score": None, "is_tor": None, "asn": None})
                g.add_node(node_id(kind, v), type=kind, label=v, **attrs)
        else:
            g.add_nodes_from((node_id(kind, v), {"type": kind, "label": v}) for v in values)
        g.add_edges_from(
            (node_id("account", a), node_id(kind, v),
             {"type": f"account-{kind}", "success_logins": int(ok), "failed_logins": int(failed),
              "mfa_share": float(mfa), "first_seen": first, "last_seen": last})
            for a, v, ok, failed, mfa, first, last in zip(
                *_levels(agg.index), agg["success_logins"].tolist(), agg["failed_logins"].tolist(), agg["mfa"].tolist(),
                _iso_list(agg["first_seen"]), _iso_list(agg["last_seen"]))
        )
        if kind == "ip":
            asns = rep["asn"].reindex(values).dropna()
            for ip, asn in asns.items():
                g.add_node(node_id("asn", int(asn)), type="asn", label=str(int(asn)))
                g.add_edge(node_id("ip", ip), node_id("asn", int(asn)), type="ip-asn")
    sub = df[df["country"].notna()]
    agg = sub.groupby(["account", "country"], sort=True).agg(success_logins=("success", "sum"),
                                                             failed_logins=("fail", "sum"))
    for c in sorted(set(sub["country"].tolist())):
        g.add_node(node_id("country", c), type="country", label=c)
    g.add_edges_from((node_id("account", a), node_id("country", c),
                      {"type": "account-country", "success_logins": int(ok), "failed_logins": int(failed)})
                     for a, c, ok, failed in zip(*_levels(agg.index), agg["success_logins"].tolist(),
                                                 agg["failed_logins"].tolist()))
    return g
