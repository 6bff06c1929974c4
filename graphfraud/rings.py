"""Rings: groups of accounts driven by one actor, found in the scored account graph.

Pipeline: campaigns are set apart (:func:`~graphfraud.evidence.detect_campaigns`),
successful logins become account–entity activity, every pair sharing specific
infrastructure is scored against chance (:func:`~graphfraud.scoring.pair_evidence`),
pairs more co-active than chance form a weighted account graph, and a community
detector (python-louvain by default) splits it into rings. Each ring of 2+
accounts gets a pooled significance, an explainable score and a ``flagged`` verdict.
"""

from __future__ import annotations

import difflib
import hashlib
from functools import partial
from collections.abc import Callable
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd
from scipy import stats

from .bursts import detect_bursts
from .case import Case
from .errors import InputError
from .evidence import detect_campaigns, entity_activity
from .scoring import hub_entities, pair_evidence
from .signals import account_signals

__all__ = ["RingResult", "find_rings", "detect_communities", "COMMUNITY_METHODS", "ring_id_for",
           "SUMMARY_COLUMNS", "SCORE_WEIGHTS"]

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


# ------------------------------------------------------------------ community detection

def _louvain(graph: nx.Graph, resolution: float, seed: int) -> list[set]:
    import community as community_louvain  # python-louvain

    if graph.number_of_edges() == 0:
        return [{n} for n in graph.nodes]
    part = community_louvain.best_partition(graph, weight="weight", resolution=resolution, random_state=seed)
    groups: dict[int, set] = {}
    for node, c in part.items():
        groups.setdefault(c, set()).add(node)
    return list(groups.values())


def _components(graph: nx.Graph, resolution: float, seed: int) -> list[set]:
    return [set(c) for c in nx.connected_components(graph)]


COMMUNITY_METHODS: dict[str, Callable[[nx.Graph, float, int], list[set]]] = {
    "louvain": _louvain,
    "components": _components,
}


def detect_communities(graph: nx.Graph, method: str = "louvain", resolution: float = 1.0, seed: int = 0) -> list[set]:
    """Communities of a weighted account graph, independent of node and edge insertion order.

    python-louvain's ``random_state`` alone does not make its output reproducible:
    it shuffles the nodes in their insertion order, so the same graph built in a
    different order gives different communities. The graph is therefore rebuilt
    with nodes and edges in sorted order before any detector sees it.

    Examples
    --------
    >>> g = nx.Graph([("b", "a"), ("c", "d")])
    >>> sorted(sorted(c) for c in detect_communities(g, "components"))
    [['a', 'b'], ['c', 'd']]
    """
    if method not in COMMUNITY_METHODS:
        close = difflib.get_close_matches(method, COMMUNITY_METHODS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown community method {method!r}.{hint} Available: {', '.join(COMMUNITY_METHODS)}")
    if not resolution > 0:
        raise InputError(f"resolution must be a positive float, got {resolution!r}")
    canonical = nx.Graph()
    canonical.add_nodes_from(sorted(graph.nodes))
    edges = sorted((min(u, v), max(u, v), d.get("weight", 1.0)) for u, v, d in graph.edges(data=True))
    canonical.add_weighted_edges_from(edges)
    return COMMUNITY_METHODS[method](canonical, resolution, seed)


def ring_id_for(members) -> str:
    """A ring id derived from its members, so it is the same in every run that finds the same ring.

    Examples
    --------
    >>> ring_id_for(["A2", "A1"]) == ring_id_for(["A1", "A2"])
    True
    """
    digest = hashlib.sha1("\n".join(sorted(members)).encode()).hexdigest()
    return f"ring-{digest[:10]}"


# ------------------------------------------------------------------ the pipeline

@dataclass(frozen=True, eq=False)
class RingResult:
    """Rings and everything that explains them.

    ``rings``: ``ring_id, account_id`` (one row per member, every ring of 2+
    accounts, flagged or not); ``summary``: one row per ring (``SUMMARY_COLUMNS``
    then the score components ``c_*``); ``pairs``: the scored candidate pairs;
    ``campaigns``; ``hubs``; ``params``: everything needed to reproduce the run.
    """

    rings: pd.DataFrame
    summary: pd.DataFrame
    pairs: pd.DataFrame
    campaigns: pd.DataFrame
    hubs: pd.DataFrame
    activity: pd.DataFrame
    params: dict = field(default_factory=dict)
    popularity: pd.Series = field(default_factory=lambda: pd.Series(dtype=int))  # entity -> accounts using it
    member_activity: pd.DataFrame | None = None  # activity rows of ring members only

    @property
    def flagged(self) -> pd.DataFrame:
        return self.summary[self.summary["flagged"]]

    def members(self, ring_id: str) -> list[str]:
        return self.rings.loc[self.rings["ring_id"] == ring_id, "account_id"].tolist()


def find_rings(
    case: Case,
    since=None,
    until=None,
    method: str = "louvain",
    resolution: float = 1.0,
    seed: int = 0,
    coactivity_minutes: float = 30,
    max_entity_accounts: int = 100,
    alpha: float = 0.01,
    edge_pvalue: float = 0.01,
    min_coactive_days: int = 2,
    campaign_min_victims: int = 10,
    signals: pd.DataFrame | None = None,
    bursts: pd.DataFrame | None = None,
    graph=None,
) -> RingResult:
    """Find rings of accounts that use the same specific infrastructure together, more than chance allows.

    Parameters
    ----------
    since, until
        time window of the logins used (default: all).
    method, resolution, seed
        community detection (``"louvain"`` or ``"components"``); recorded in ``params``.
    coactivity_minutes
        bin width: logins in the same or adjacent bins are co-active.
    max_entity_accounts
        IPs/devices used by more accounts are hubs and never evidence.
    alpha
        family-wise error rate: a ring is flagged when its pooled p-value is below
        ``alpha / candidate pairs`` (Bonferroni over every pair that was scored).
    edge_pvalue
        pairs with a p-value below this join the account graph (a loose screen; the
        ring-level test decides).
    min_coactive_days
        a flagged ring must be co-active on at least this many distinct days.
    signals, bursts
        reuse already computed results (default: computed here over the same window).
    graph
        a :class:`~graphfraud.backend.GraphBackend` the case was loaded into: the
        evidence is read back from it (same answer, any store). Default: computed
        from the case's logins directly. ``graph.find_rings`` also writes the
        results back onto the account vertices.

    Examples
    --------
    >>> import graphfraud
    >>> res = graphfraud.find_rings(graphfraud.load_case(graphfraud.sample_case_path()))
    >>> int(res.summary["flagged"].sum()) >= 1
    True
    """
    if not 0 < alpha < 1 or not 0 < edge_pvalue <= 1:
        raise InputError(f"alpha and edge_pvalue must be in (0, 1), got {alpha!r} and {edge_pvalue!r}")
    params = dict(since=None if since is None else str(pd.Timestamp(since)),
                  until=None if until is None else str(pd.Timestamp(until)), method=method, resolution=resolution,
                  seed=seed, coactivity_minutes=coactivity_minutes, max_entity_accounts=max_entity_accounts,
                  alpha=alpha, edge_pvalue=edge_pvalue, min_coactive_days=min_coactive_days,
                  campaign_min_victims=campaign_min_victims)
    campaigns = detect_campaigns(case, since, until, min_victims=campaign_min_victims)
    source = graph.activity if graph is not None else partial(entity_activity, case)
    activity = source(since, until, coactivity_minutes, exclude_ips=campaigns["ip"].tolist())
    params["graph"] = graph.url if graph is not None else None
    return rings_from_activity(case, activity, campaigns, params, signals=signals, bursts=bursts)


def rings_from_activity(case: Case, activity: pd.DataFrame, campaigns: pd.DataFrame, params: dict,
                        signals: pd.DataFrame | None = None, bursts: pd.DataFrame | None = None) -> RingResult:
    """The backend-independent half of :func:`find_rings`: from activity to scored rings."""
    pairs = pair_evidence(activity, params["max_entity_accounts"])
    n_tests = max(1, len(pairs))
    threshold = params["alpha"] / n_tests
    params = {**params, "candidate_pairs": len(pairs), "pair_threshold": threshold, "q": pairs.attrs["q"]}

    edges = pairs[pairs["pvalue"] < params["edge_pvalue"]]
    graph = nx.Graph()
    weights = -np.log10(np.clip(edges["pvalue"].to_numpy(dtype=float), 1e-300, 1.0))
    graph.add_weighted_edges_from(zip(edges["account_a"], edges["account_b"], weights))
    communities = [sorted(c) for c in detect_communities(graph, params["method"], params["resolution"],
                                                          params["seed"]) if len(c) >= 2]
    rings = pd.DataFrame([(ring_id_for(c), a) for c in communities for a in c], columns=["ring_id", "account_id"])
    rings = rings.sort_values(["ring_id", "account_id"], kind="stable").reset_index(drop=True)

    if signals is None:
        signals = account_signals(case, as_of=params["until"]) if len(case.logins) else None
    if bursts is None:
        bursts = detect_bursts(case, since=params["since"], until=params["until"])
    popularity = activity.drop_duplicates(["entity", "account_id"]).groupby("entity").size()
    member_activity = activity[activity["account_id"].isin(rings["account_id"])]
    summary = _summaries(case, rings, pairs, member_activity, popularity, activity.attrs, threshold, params, signals,
                         bursts)
    hubs = hub_entities(activity, params["max_entity_accounts"])
    return RingResult(rings, summary, pairs, campaigns, hubs, activity, params, popularity, member_activity)


def _summaries(case, rings, pairs, activity, popularity, attrs, threshold, params, signals, bursts) -> pd.DataFrame:
    if rings.empty:
        cols = SUMMARY_COLUMNS + ["significant_pairs", "coactive_days"] + [f"c_{k}" for k in SCORE_WEIGHTS]
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    ring_of = rings.set_index("account_id")["ring_id"]
    p = pairs.assign(ra=ring_of.reindex(pairs["account_a"]).to_numpy(), rb=ring_of.reindex(pairs["account_b"]).to_numpy())
    inside = p[p["ra"].notna() & (p["ra"] == p["rb"])]
    pooled = inside.groupby("ra").agg(coactive=("coactive", "sum"), expected=("expected", "sum"))
    pvalue = stats.poisson.sf(pooled["coactive"] - 1, pooled["expected"])
    pooled["pvalue"] = np.where(pooled["coactive"] > 0, pvalue, 1.0)

    origin = attrs.get("origin", pd.Timestamp(0))
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
        co_bins = ins.loc[ins["coactive"] > 0, ["first_bin", "last_bin"]]
        ring_pv = float(pooled["pvalue"].get(ring_id, 1.0))
        days = int(ins["coactive_days"].max()) if len(ins) else 0
        first = origin + pd.Timedelta(minutes=float(co_bins["first_bin"].min()) * minutes) if len(co_bins) else pd.NaT
        last = origin + pd.Timedelta(minutes=(float(co_bins["last_bin"].max()) + 1) * minutes) if len(co_bins) else pd.NaT
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
            f"accounts in all{risk}{tor}); {co} co-active logins within {minutes:g}-{2 * minutes:g} min on up to "
            f"{days} day(s) vs {exp:.2f} expected by chance (p={pv:.2g}); {len(sh)} shared entities")
