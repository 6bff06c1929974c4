"""Community detection on the weighted account graph: a registry of methods, order-independent results."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable

import networkx as nx

from ..errors import InputError

__all__ = ["detect_communities", "COMMUNITY_METHODS", "ring_id_for"]


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
