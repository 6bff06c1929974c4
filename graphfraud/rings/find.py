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

from ..case import Case
from ..detect.bursts import detect_bursts
from ..detect.campaigns import detect_campaigns
from ..detect.signals import account_signals
from ..errors import InputError
from ..graph.activity import entity_activity
from .communities import detect_communities, ring_id_for
from .pairs import hub_entities, pair_evidence
from .summary import ring_summaries

__all__ = ["RingResult", "find_rings", "rings_from_activity"]


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
        a :class:`~graphfraud.graph.stores.GraphBackend` the case was loaded into: the
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
    summary = ring_summaries(case, rings, pairs, member_activity, popularity, activity.attrs, threshold, params, signals,
                         bursts)
    hubs = hub_entities(activity, params["max_entity_accounts"])
    return RingResult(rings, summary, pairs, campaigns, hubs, activity, params, popularity, member_activity)
