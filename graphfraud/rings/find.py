"""Find rings: from the activity table to scored, flagged communities.

Campaigns are set apart (:func:`~graphfraud.detect.campaigns.detect_campaigns`),
successful logins become account–entity activity, every pair sharing specific
infrastructure is scored against chance (:func:`~graphfraud.rings.pairs.pair_evidence`),
pairs more co-active than chance form a weighted account graph, and a community
detector (python-louvain by default) splits it into rings. Each ring of 2+
accounts gets a pooled significance, an explainable score and a ``flagged`` verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import networkx as nx
import numpy as np
import pandas as pd
from scipy import stats

from ..case import Case
from ..case.period import parse_time
from ..detect.bursts import detect_bursts
from ..detect.campaigns import detect_campaigns
from ..detect.signals import account_signals
from ..case.arrays import distinct_rows, run_starts
from ..errors import BackendError, InputError
from ..graph.activity import Activity, entity_activity
from .communities import detect_communities, ring_id_for
from .hubs import hub_spike_evidence
from .pairs import TIME_SCALES, hub_entities, pair_evidence
from .sharing import sharing_tests
from .summary import ring_summaries

__all__ = ["RingResult", "find_rings", "rings_from_activity", "pair_table", "KINDS"]

#: the kinds of pair evidence; a pair's p-value is its best kind's times their number
KINDS = ("time", "hub", "device", "away")


@dataclass(frozen=True, eq=False)
class RingResult:
    """Rings and everything that explains them.

    ``rings``: ``ring_id, account_id`` (one row per member, every ring of 2+
    accounts, flagged or not); ``summary``: one row per ring (``SUMMARY_COLUMNS``
    then the score components ``c_*``); ``pairs``: the scored candidate pairs;
    ``campaigns``; ``hubs``; ``activity`` (the coded evidence); ``params``:
    everything needed to reproduce the run. ``summary["verdict"]`` is one of
    :data:`VERDICTS`; ``flagged`` is ``verdict == "fraud ring"``.
    """

    rings: pd.DataFrame
    summary: pd.DataFrame
    pairs: pd.DataFrame
    campaigns: pd.DataFrame
    hubs: pd.DataFrame
    activity: Activity
    params: dict = field(default_factory=dict)
    sharing: tuple = ()  # the SharingTest results (see graphfraud.rings.sharing)

    @property
    def flagged(self) -> pd.DataFrame:
        # .to_numpy(bool): an empty summary's object column would otherwise be read as column labels
        return self.summary[self.summary["flagged"].to_numpy(dtype=bool)]

    def members(self, ring_id: str) -> list[str]:
        return self.rings.loc[self.rings["ring_id"] == ring_id, "account_id"].tolist()


def find_rings(
    case: Case,
    since=None,
    until=None,
    method: str = "louvain",
    resolution: float = 1.0,
    seed: int = 0,
    max_entity_accounts: int = 100,
    alpha: float = 0.05,
    edge_pvalue: float = 0.01,
    min_evidence_days: int = 3,
    campaign_min_victims: int = 10,
    hub_spike_pvalue: float = 1e-4,
    member_pvalue: float = 1e-3,
    signals: pd.DataFrame | None = None,
    bursts: pd.DataFrame | None = None,
    graph=None,
    payments: bool = True,
) -> RingResult:
    """Find groups of accounts under common control: rings, and honest groups run by one hand.

    Three kinds of evidence link two accounts (``docs/rings.md`` gives each null model):
    co-activity on a shared IP or device at four time scales (minutes to days),
    shared spike hours on a hub such as a carrier NAT, and a shared main device.
    Linked pairs form a weighted account graph, a community detector splits it,
    and each community is tested as a whole and given a verdict: ``fraud ring``,
    ``common control, likely benign`` or ``not significant``.

    Parameters
    ----------
    since, until
        time window of the logins used (default: all).
    method, resolution, seed
        community detection (``"louvain"`` or ``"components"``); recorded in ``params``.
    max_entity_accounts
        IPs/devices used by more accounts are hubs: only their spike hours are evidence.
    alpha
        family-wise error rate: a ring must pass at ``alpha / tests`` (Bonferroni over
        every pair and device tested).
    edge_pvalue
        pairs with a p-value below this join the account graph (a loose screen; the
        ring-level tests decide).
    min_evidence_days
        a ring must show its evidence on at least this many distinct days.
    hub_spike_pvalue
        how surprising an hour on a hub must be to count as a spike.
    member_pvalue
        a member of a group of 3+ must carry evidence with the rest of the group at this level
        (Fisher over its pairs with the other members), or it is dropped from the group.
    signals, bursts
        reuse already computed results (default: computed here over the same window).
    graph
        a :class:`~graphfraud.graph.stores.GraphBackend` the case was loaded into: the
        evidence is read back from it (same answer, any store). Default: computed
        from the case's logins directly.
    payments
        payments made from an IP or device count as evidence like successful logins
        (when the case's payments carry ``ip``/``device_id``); False leaves them out.

    Examples
    --------
    >>> import graphfraud
    >>> res = graphfraud.find_rings(graphfraud.load_case(graphfraud.sample_case_path()))
    >>> int(res.summary["flagged"].sum()) >= 1
    True
    """
    if not 0 < alpha < 1 or not 0 < edge_pvalue <= 1:
        raise InputError(f"alpha and edge_pvalue must be in (0, 1), got {alpha!r} and {edge_pvalue!r}")
    if not isinstance(case, Case):
        raise InputError(f"find_rings needs a Case (graphfraud.load_case(path)), got {type(case).__name__}")
    since, until = parse_time(since, "since"), parse_time(until, "until")
    if since is not None and until is not None and since > until:
        raise InputError(f"since ({since}) is later than until ({until}): the period is empty")
    if not 0 < hub_spike_pvalue < 1:
        raise InputError(f"hub_spike_pvalue must be in (0, 1), got {hub_spike_pvalue!r}")
    params = dict(since=None if since is None else str(pd.Timestamp(since)),
                  until=None if until is None else str(pd.Timestamp(until)), method=method, resolution=resolution,
                  seed=seed, max_entity_accounts=max_entity_accounts, alpha=alpha, edge_pvalue=edge_pvalue,
                  min_evidence_days=min_evidence_days, campaign_min_victims=campaign_min_victims,
                  hub_spike_pvalue=hub_spike_pvalue, member_pvalue=member_pvalue, time_scales={k: list(v) for k, v in TIME_SCALES.items()},
                  payment_evidence=bool(payments) and ("ip" in case.payments or "device_id" in case.payments))
    campaigns = detect_campaigns(case, since, until, min_victims=campaign_min_victims)
    source = graph.activity if graph is not None else partial(entity_activity, case, payments=payments)
    activity = source(since, until, exclude_ips=campaigns["ip"].tolist())
    if graph is not None:
        _check_store_holds_this_case(graph.url, activity, entity_activity(case, since, until,
                                                                         exclude_ips=campaigns["ip"].tolist(),
                                                                         payments=payments))
    params["graph"] = graph.url if graph is not None else None
    return rings_from_activity(case, activity, campaigns, params, signals=signals, bursts=bursts)


def _check_store_holds_this_case(url: str, stored: Activity, expected: Activity) -> None:
    """Stop when a store holds account–IP/device evidence that is not in the case: it holds another case too.

    Ids of two cases can collide (A100000 in both), so their evidence would silently merge into
    rings neither case has.
    """
    def pairs(act: Activity) -> pd.MultiIndex:
        a, e = distinct_rows(act.account.astype(np.int64), act.entity.astype(np.int64))
        return pd.MultiIndex.from_arrays([act.accounts[a], act.entities[e]])

    extra = pairs(stored).difference(pairs(expected))
    if len(extra):
        example = " used ".join(map(str, extra[0]))
        raise BackendError(f"the graph store {url} holds {len(extra):,} account-IP/device link(s) that are not in "
                           f"this case (e.g. {example}): it also holds another case, and rings would mix them. "
                           "Use a fresh store (a new gremlite file, an empty Neptune cluster) for each case")


def pair_table(activity: Activity, params: dict, all_pairs: bool = False) -> tuple[pd.DataFrame, tuple, dict]:
    """Linked pairs with their evidence of each kind, the sharing tests, and the test counts.

    Every candidate pair is scored and counted in the tests (``info["candidate_pairs"]``),
    but only the pairs that can matter are kept (``all_pairs=False``): those below the
    edge screen (``params["edge_pvalue"]``), and every pair of two accounts that each have
    such an edge. Groups are cut from the edges and tested over the pairs among their
    members, so no other pair is ever read; at 1M accounts the rest is most of the table.
    """
    pairs = pair_evidence(activity, params["max_entity_accounts"])
    hub, hub_info = hub_spike_evidence(activity, params["max_entity_accounts"], params["hub_spike_pvalue"])
    sharing = sharing_tests(activity)
    n = np.int64(max(activity.n_accounts, 1))
    sources = [(pairs.drop(columns=["account_a", "account_b"]), pairs["a"].to_numpy() * n + pairs["b"].to_numpy()),
               (hub, hub["a"].to_numpy() * n + hub["b"].to_numpy())]
    for test in sharing:
        share = _share_pairs(test, params["max_entity_accounts"])
        sources.append((share, share["a"].to_numpy() * n + share["b"].to_numpy()))
    keys = np.concatenate([k for _, k in sources])
    keys = np.sort(keys)
    keys = keys[run_starts(keys)] if len(keys) else keys.astype(np.int64)
    kind_cols = [f"pvalue_{k}" for k in KINDS]
    screen_cols = ["pvalue_time_raw"] + kind_cols[1:]
    columns = {}
    for frame, k in sources:
        at = np.searchsorted(keys, k)
        for col in frame.columns.drop(["a", "b"]):
            values = frame[col].to_numpy()
            if col.startswith("pvalue"):
                fill, dtype = 1.0, float
            elif col.startswith(("coactive", "shared_", "min_entity")):
                fill, dtype = 0, np.int64
            elif col.startswith("expected"):
                fill, dtype = 0.0, float
            elif len(at) == len(keys):  # first/last times, known for every pair
                fill, dtype = 0, values.dtype
            else:  # first/last times: unknown for a pair with no time evidence
                fill, dtype = np.nan, float
            out = np.full(len(keys), fill, dtype=dtype)
            out[at] = values
            columns[col] = out
    for col in kind_cols + ["pvalue_time_raw"]:
        columns.setdefault(col, np.ones(len(keys)))
    best = np.minimum.reduce([columns[c] for c in kind_cols]) if len(keys) else np.ones(0)
    screen = np.minimum.reduce([columns[c] for c in screen_cols]) if len(keys) else np.ones(0)
    a, b = keys // n, keys % n
    keep = slice(None) if all_pairs else _can_matter(a, b, screen, params["edge_pvalue"], activity.n_accounts)
    table = pd.DataFrame({"a": a[keep], "b": b[keep],
                          "account_a": activity.accounts[a[keep]], "account_b": activity.accounts[b[keep]],
                          **{c: v[keep] for c, v in columns.items()},
                          # the edge screen: the best single p-value, before any correction (the group tests correct)
                          "pvalue": np.minimum(1.0, best[keep] * len(KINDS)), "pvalue_screen": screen[keep]})
    tests = {"time_pairs": len(pairs), "hub_pairs": hub_info["pairs"],
             **{f"{t.name}_tested": t.tested for t in sharing}}
    info = {**tests, "tests": max(1, sum(tests.values())), "q": pairs.attrs["q"], "row_pairs": pairs.attrs["row_pairs"],
            "passes": pairs.attrs["passes"], **{f"{t.name}_share_r": t.r for t in sharing},
            "hub_spike_cells": hub_info["spike_cells"], "hub_skipped_cells": hub_info["skipped_cells"],
            "candidate_pairs": len(keys), "pairs_kept": len(table)}
    return table, sharing, info


def _share_pairs(test, max_entity_accounts: int) -> pd.DataFrame:
    """``a, b, pvalue_<test>``: pairs of accounts on one tested device (the best device's p-value)."""
    rows = test.rows[(test.rows["k"] >= 2) & (test.rows["k"] <= max_entity_accounts)]
    both = rows.merge(rows[["thing", "account"]], on="thing", suffixes=("_a", "_b"))
    both = both[both["account_a"] < both["account_b"]]
    return (both.groupby(["account_a", "account_b"], sort=True)["pvalue"].min()
            .rename(f"pvalue_{test.name}").reset_index().rename(columns={"account_a": "a", "account_b": "b"}))


def _can_matter(a: np.ndarray, b: np.ndarray, screen: np.ndarray, edge_pvalue: float, n_accounts: int) -> np.ndarray:
    """Pairs that are edges, or join two accounts that both have an edge (they may end in one group)."""
    edge = screen < edge_pvalue
    linked = np.zeros(max(n_accounts, 1), dtype=bool)
    linked[a[edge]] = linked[b[edge]] = True
    return edge | (linked[a] & linked[b])


#: a connected group of linked accounts at least this dense, each member linked to at least this share of
#: the others, is one group, never split
DENSE_COMPONENT = 0.5
MIN_DEGREE_SHARE = 1 / 3


def _groups(graph: nx.Graph, params: dict) -> list[set]:
    """Communities of the linked-pair graph: dense components whole, the rest split by the chosen method.

    Modularity splits a small isolated clique whose edge weights differ (a lone 4-account
    ring becomes two pairs) and keeps it whole only when the graph is large. A component
    in which most member pairs are linked, and every member to a third of the others, is
    one group however the weights fall.
    """
    if params["method"] == "components":
        return detect_communities(graph, "components")
    whole, rest = [], set()
    for comp in nx.connected_components(graph):
        k = len(comp)
        sub = graph.subgraph(comp)
        # every member linked to a good share of the others: a household hanging off a ring by one
        # edge (its home IP used once as the ring's proxy exit) does not make the pair of them dense
        dense = (sub.number_of_edges() >= DENSE_COMPONENT * k * (k - 1) / 2
                 and min(d for _, d in sub.degree()) >= MIN_DEGREE_SHARE * (k - 1))
        (whole.append(set(comp)) if dense else rest.update(comp))
    split = detect_communities(graph.subgraph(rest), params["method"], params["resolution"], params["seed"])
    return whole + list(split)


def _prune(groups: list[set], pairs: pd.DataFrame, member_pvalue: float) -> list[list[int]]:
    """Drop members whose own evidence with the rest of their group is weak, weakest first.

    A community detector attaches an account to a ring on the strength of one chance edge
    (one coincidence on a shared IP). A member's test combines its p-values with every
    other member (Fisher; a pair with no evidence is p = 1): a real member carries evidence
    with most of the others, an attached outsider with one.
    """
    big = [sorted(g) for g in groups if len(g) >= 3]
    out = [sorted(g) for g in groups if len(g) < 3]
    if not big:
        return out
    members = np.concatenate([np.asarray(g, dtype=np.int64) for g in big])
    group_of = pd.Series(np.repeat(np.arange(len(big)), [len(g) for g in big]), index=members)
    ga = group_of.reindex(pairs["a"].to_numpy()).to_numpy()
    gb = group_of.reindex(pairs["b"].to_numpy()).to_numpy()
    inside = pairs[(ga == gb) & ~np.isnan(ga)]
    w = -2 * np.log(np.clip(inside["pvalue_screen"].to_numpy(dtype=float), 1e-300, 1.0))
    by_group = dict(tuple(pd.DataFrame({"g": group_of.reindex(inside["a"].to_numpy()).to_numpy(),
                                        "a": inside["a"].to_numpy(), "b": inside["b"].to_numpy(), "w": w})
                          .groupby("g")))
    for gi, g in enumerate(big):
        sub = by_group.get(gi)
        idx = {a: i for i, a in enumerate(g)}
        m = np.zeros((len(g), len(g)))
        if sub is not None:
            ia, ib = sub["a"].map(idx).to_numpy(), sub["b"].map(idx).to_numpy()
            m[ia, ib] = m[ib, ia] = sub["w"].to_numpy()
        alive = np.ones(len(g), dtype=bool)
        while alive.sum() >= 3:
            stat = m[:, alive].sum(axis=1)
            pv = stats.chi2.sf(stat, 2 * (alive.sum() - 1))
            pv[~alive] = -1
            worst = int(np.argmax(pv))
            if pv[worst] < member_pvalue:
                break
            alive[worst] = False
        out.append([a for a, keep in zip(g, alive) if keep])
    return out


def rings_from_activity(case: Case, activity: Activity, campaigns: pd.DataFrame, params: dict,
                        signals: pd.DataFrame | None = None, bursts: pd.DataFrame | None = None) -> RingResult:
    """The backend-independent half of :func:`find_rings`: from coded activity to tested, judged groups."""
    pairs, sharing, info = pair_table(activity, params)
    threshold = params["alpha"] / info["tests"]
    params = {**params, **info, "pair_threshold": threshold}

    edges = pairs[pairs["pvalue_screen"] < params["edge_pvalue"]]
    graph = nx.Graph()
    weights = -np.log10(np.clip(edges["pvalue_screen"].to_numpy(dtype=float), 1e-300, 1.0))
    graph.add_weighted_edges_from(zip(edges["a"].tolist(), edges["b"].tolist(), weights))
    communities = [c for c in _prune(_groups(graph, params), pairs, params["member_pvalue"]) if len(c) >= 2]
    names = [activity.accounts[c] for c in communities]
    rings = pd.DataFrame({"ring_id": np.repeat([ring_id_for(n) for n in names], [len(c) for c in communities]),
                          "account_id": np.concatenate(names) if names else np.empty(0, object)})
    rings = rings.sort_values(["ring_id", "account_id"], kind="stable").reset_index(drop=True)

    if signals is None:
        signals = account_signals(case, as_of=params["until"]) if len(case.logins) else None
    if bursts is None:
        bursts = detect_bursts(case, since=params["since"], until=params["until"])
    summary = ring_summaries(case, rings, pairs, activity, sharing, threshold, params, signals, bursts)
    hubs = hub_entities(activity, params["max_entity_accounts"])
    return RingResult(rings, summary, pairs, campaigns, hubs, activity, params, tuple(sharing))
