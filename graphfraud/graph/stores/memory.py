"""The in-memory store: the graph as a ``networkx.DiGraph`` (the default)."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from ...errors import InputError
from ..records import EVIDENCE_LABELS, RING_PROPERTIES
from .base import EVIDENCE_COLUMNS, GraphBackend

__all__ = ["NetworkXBackend"]


class NetworkXBackend(GraphBackend):
    """The graph in memory as a ``networkx.DiGraph`` keyed by ``gf_id`` (the default store).

    Nodes carry ``label`` and their properties; edges ``gf_id``, ``label`` and
    theirs. ``graph`` is the DiGraph itself, for NetworkX algorithms.

    Examples
    --------
    >>> import graphfraud
    >>> g = graphfraud.connect("networkx")
    >>> stats = g.load_case(graphfraud.load_case(graphfraud.sample_case_path()))
    >>> g.counts() == (stats["vertices"], stats["edges"])
    True
    """

    url = "networkx"

    def __init__(self, graph: nx.DiGraph | None = None):
        self.graph = graph if graph is not None else nx.DiGraph()
        self.batch_size = 10_000
        self.page_size = 10_000

    def _upsert_vertices(self, rows):
        for r in rows:
            attrs = {k: v for k, v in r.items() if k != "gf_id"}
            if r["gf_id"] in self.graph:
                self.graph.nodes[r["gf_id"]].update(attrs)
            else:
                self.graph.add_node(r["gf_id"], **attrs)

    def _upsert_edges(self, rows):
        for r in rows:
            src, dst = r["src"], r["dst"]
            for end in (src, dst):
                if end not in self.graph:
                    raise InputError(f"edge {r['gf_id']!r} refers to vertex {end!r}, which is not in the graph; "
                                     "load vertices before edges")
            attrs = {k: v for k, v in r.items() if k not in ("src", "dst")}
            if self.graph.has_edge(src, dst):
                self.graph.edges[src, dst].update(attrs)
            else:
                self.graph.add_edge(src, dst, **attrs)

    def _evidence_pages(self, page_size):
        accounts = sorted(n for n, lab in self.graph.nodes(data="label") if lab == "account")
        for start in range(0, len(accounts), page_size):
            rows = []
            for a in accounts[start:start + page_size]:
                for _, dst, d in self.graph.out_edges(a, data=True):
                    if d.get("label") in EVIDENCE_LABELS and d.get("success_us") is not None:
                        rows.append((a[len("account:"):], dst, EVIDENCE_LABELS[d["label"]], d["success_us"]))
            yield pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)

    def _clear_ring_properties(self):
        for _, attrs in self.graph.nodes(data=True):
            for k in RING_PROPERTIES:
                attrs.pop(k, None)

    def _set_account_properties(self, rows):
        for r in rows:
            if r["gf_id"] not in self.graph:
                raise InputError(f"account vertex {r['gf_id']!r} is not in the graph; load the case first")
            self.graph.nodes[r["gf_id"]].update({k: v for k, v in r.items() if k != "gf_id"})

    def _counts(self):
        return self.graph.number_of_nodes(), self.graph.number_of_edges()

    def _dump(self):
        vertices = [{"gf_id": n, **d} for n, d in self.graph.nodes(data=True)]
        edges = [{"src": u, "dst": v, **d} for u, v, d in self.graph.edges(data=True)]
        return vertices, edges
