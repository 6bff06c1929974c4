"""Interactive exploration: a pyvis (vis-network) page that opens offline in a browser.

pyvis builds the network model; the page is written here rather than by pyvis's
own template because that template loads CSS (and, for some options, JavaScript)
from a CDN even in ``cdn_resources="in_line"`` mode. Here vis-network's JavaScript
and CSS, shipped inside the pyvis package, are inlined: the page fetches nothing.

Every value that came from data (ids, labels, tooltips) reaches the page either
as JSON inside a ``<script>`` block with ``<``, ``>`` and ``&`` escaped as
``\\u003c`` etc., or through :func:`html.escape`; vis-network draws labels on a
canvas and shows string tooltips as text, so an id like
``</script><img src=x onerror=alert(1)>`` is displayed, never run.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import networkx as nx

from ..errors import InputError

__all__ = ["explore", "select_subgraph", "annotate_rings"]

_STYLE = {  # colour, shape
    "account": ("#2563eb", "dot"),
    "ip": ("#ea580c", "diamond"),
    "device": ("#059669", "square"),
    "country": ("#6b7280", "triangle"),
    "asn": ("#a855f7", "triangleDown"),
}
_RING_COLOUR = "#dc2626"


def annotate_rings(graph: nx.Graph, rings) -> nx.Graph:
    """Write ``ring_id``, ``ring_score`` and ``ring_flagged`` onto the account nodes of ``graph`` (in place)."""
    summary = rings.summary.set_index("ring_id") if len(rings.summary) else None
    for ring_id, account in zip(rings.rings["ring_id"], rings.rings["account_id"]):
        node = f"account:{account}"
        if node in graph and summary is not None:
            graph.nodes[node].update(ring_id=ring_id, ring_score=float(summary.at[ring_id, "score"]),
                                     ring_flagged=bool(summary.at[ring_id, "flagged"]))
    return graph


def _relevance(data: dict) -> float:
    risk = data.get("risk_score") or 0
    return (3 * bool(data.get("ring_flagged")) + 2 * min(1, data.get("burst_triggers", 0) or 0)
            + (data.get("composite") or 0) + risk / 100 + bool(data.get("is_tor")))


def _neighbourhood(graph: nx.Graph, seeds, hops: int, hub_degree: int) -> dict:
    """Breadth-first distances that never pass *through* a country, an ASN or a hub.

    A country node links thousands of unrelated accounts; going through it would
    fill the page with noise. Such nodes are shown, not expanded.
    """
    dist = {s: 0 for s in seeds}
    frontier = list(dict.fromkeys(seeds))
    for d in range(1, hops + 1):
        nxt = []
        for n in frontier:
            data = graph.nodes[n]
            if d > 1 and (data.get("type") in ("country", "asn") or graph.degree(n) > hub_degree):
                continue
            for m in graph.neighbors(n):
                if m not in dist:
                    dist[m] = d
                    nxt.append(m)
        frontier = nxt
    return dist


def select_subgraph(graph: nx.Graph, accounts=None, ring: str | None = None, hops: int = 1,
                    max_nodes: int = 2000, hub_degree: int = 100) -> tuple[nx.Graph, dict]:
    """The part of ``graph`` to draw, and a note of what was left out.

    Seeds are the given accounts and/or the members of ``ring`` (needs
    :func:`annotate_rings`); with neither, the whole graph. The neighbourhood is
    grown ``hops`` steps, never through countries, ASNs or nodes with more than
    ``hub_degree`` neighbours; past ``max_nodes`` the nodes nearest the seeds and
    then the most relevant (ring, bursts, composite, IP risk) are kept.
    """
    if hops < 0:
        raise InputError(f"hops must be >= 0, got {hops}")
    seeds = [f"account:{a}" if not str(a).startswith("account:") else str(a) for a in (accounts or [])]
    if ring is not None:
        members = [n for n, d in graph.nodes(data=True) if d.get("ring_id") == ring]
        if not members:
            raise InputError(f"no account in the graph belongs to ring {ring!r} (did you call annotate_rings?)")
        seeds += members
    missing = [s for s in seeds if s not in graph]
    if missing:
        raise InputError(f"{len(missing)} account(s) not in the graph, e.g. {missing[0][8:]!r}")
    if not seeds and graph.number_of_nodes() > max_nodes:
        # whole graph over budget: start from the most relevant accounts, keep their neighbourhoods whole
        accounts_ranked = sorted((n for n, d in graph.nodes(data=True) if d.get("type") == "account"),
                                 key=lambda n: (-_relevance(graph.nodes[n]), n))
        seeds = accounts_ranked[: max(1, max_nodes // 5)]
        hops = max(hops, 1)
    if seeds:
        dist = _neighbourhood(graph, seeds, hops, hub_degree)
    else:
        dist = {n: 0 for n in graph.nodes}
    ranked = sorted(dist, key=lambda n: (dist[n], -_relevance(graph.nodes[n]), n))
    keep = ranked[:max_nodes]
    left = ranked[max_nodes:]
    outside = graph.number_of_nodes() - len(ranked)
    note = {"shown": len(keep), "in_neighbourhood": len(ranked), "left_out": len(left), "outside": outside,
            "left_out_by_type": {}}
    for n in left:
        t = graph.nodes[n].get("type", "?")
        note["left_out_by_type"][t] = note["left_out_by_type"].get(t, 0) + 1
    return graph.subgraph(keep).copy(), note


def _tooltip(node: str, data: dict) -> str:
    lines = [node]
    for k, v in sorted(data.items()):
        if k in ("label",) or v is None:
            continue
        if isinstance(v, float):
            v = f"{v:.3g}"
        lines.append(f"{k}: {v}")
    return "\n".join(lines)


def explore(graph: nx.Graph, accounts=None, ring: str | None = None, hops: int = 1, path: str | Path = "graph.html",
            max_nodes: int = 2000, title: str = "graphfraud") -> Path:
    """Write an interactive HTML view of (part of) the account graph; it works offline.

    Colours and shapes by node type (accounts in flagged rings red), size by risk,
    edge width by number of logins, tooltips with the numbers. Physics stops once
    the layout has stabilised, so a 2,000-node page stays usable.

    Examples
    --------
    >>> import graphfraud, tempfile, os
    >>> case = graphfraud.load_case(graphfraud.sample_case_path())
    >>> g = graphfraud.build_graph(case)
    >>> out = explore(g, accounts=["A100000"], path=os.path.join(tempfile.mkdtemp(), "g.html"))
    >>> page = out.read_text()
    >>> any(tag in page for tag in ('<script src=', '<link ', 'src="http', "src='http"))
    False
    """
    from pyvis.network import Network

    sub, note = select_subgraph(graph, accounts, ring, hops, max_nodes)
    net = Network(height="100%", width="100%", directed=False, cdn_resources="remote")
    for n, d in sorted(sub.nodes(data=True)):
        kind = d.get("type", "account")
        colour, shape = _STYLE.get(kind, ("#999999", "dot"))
        if d.get("ring_flagged"):
            colour = _RING_COLOUR
        risk = _relevance(d)
        net.add_node(n, label=str(d.get("label", n))[:40], title=_tooltip(n, d), color=colour, shape=shape,
                     size=8 + 6 * min(risk, 4))
    for u, v, d in sorted(sub.edges(data=True), key=lambda e: (e[0], e[1])):
        logins = d.get("logins", 1) or 1
        net.add_edge(u, v, width=1 + math.log1p(logins), title=_tooltip(f"{u} - {v}", d), color="#94a3b8")
    options = {
        "physics": {"solver": "forceAtlas2Based", "stabilization": {"enabled": True, "iterations": 300,
                                                                     "updateInterval": 50}},
        "interaction": {"hover": True, "tooltipDelay": 120, "hideEdgesOnDrag": True},
        "nodes": {"font": {"size": 11}},
    }
    return _write_page(Path(path), net.nodes, net.edges, options, note, title)


def _lib(name: str) -> str:
    import pyvis

    base = Path(pyvis.__file__).parent / "lib" / "vis-9.1.2"
    return (base / name).read_text(encoding="utf-8")


def _js_json(value) -> str:
    """JSON safe inside a <script> element: no '</script>', no '<!--', no HTML entities."""
    return (json.dumps(value, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _write_page(path: Path, nodes, edges, options, note, title) -> Path:
    left = ", ".join(f"{v} {k}" for k, v in sorted(note["left_out_by_type"].items()))
    note_text = (f"Showing {note['shown']:,} of {note['in_neighbourhood']:,} nodes in the neighbourhood"
                 + (f"; left out {note['left_out']:,} less relevant node(s): {left}" if note["left_out"] else "")
                 + (f"; {note['outside']:,} node(s) of the graph are outside it." if note["outside"] else "."))
    legend = " ".join(f'<span class="k" style="background:{c}"></span>{html.escape(k)}'
                      for k, (c, _) in _STYLE.items())
    legend += f' <span class="k" style="background:{_RING_COLOUR}"></span>account in a flagged ring'
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>{html.escape(title)}</title>
<style>{_lib("vis-network.css")}</style>
<style>
html, body {{ margin: 0; height: 100%; font: 13px system-ui, sans-serif; }}
#bar {{ padding: 6px 10px; background: #f1f5f9; border-bottom: 1px solid #cbd5e1; }}
#net {{ position: absolute; top: 58px; bottom: 0; left: 0; right: 0; }}
.k {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; border-radius: 2px; }}
div.vis-tooltip {{ white-space: pre; font: 12px monospace; }}
</style></head>
<body>
<div id="bar"><b>{html.escape(title)}</b> &mdash; <span id="note">{html.escape(note_text)}</span>
<span id="status"></span><br>{legend}</div>
<div id="net"></div>
<script>{_lib("vis-network.min.js")}</script>
<script>
var nodes = new vis.DataSet({_js_json(nodes)});
var edges = new vis.DataSet({_js_json(edges)});
var network = new vis.Network(document.getElementById("net"), {{nodes: nodes, edges: edges}}, {_js_json(options)});
var status = document.getElementById("status");
network.on("stabilizationProgress", function (p) {{ status.textContent = " laying out " + Math.round(100 * p.iterations / p.total) + "%"; }});
network.once("stabilizationIterationsDone", function () {{
  network.setOptions({{physics: false}});
  status.textContent = " layout done";
  document.body.setAttribute("data-stabilized", "1");
}});
</script>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
