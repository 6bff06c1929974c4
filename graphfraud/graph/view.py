"""Interactive exploration: a vis-network page that opens offline in a browser.

The page is written here rather than by pyvis's own template because that
template loads CSS (and, for some options, JavaScript) from a CDN even in
``cdn_resources="in_line"`` mode. vis-network's JavaScript and CSS, shipped
inside the pyvis package, are either inlined (a page written alone) or written
once into an assets folder that many pages share and refer to by a relative
path (the case folders: ``cases/_assets/``). Either way the page fetches
nothing from the network, and its Content-Security-Policy allows no script but
vis-network and the page's own (pinned by its sha256). Nodes and edges are plain
dicts in canonical (sorted) order, so the same graph always gives the same bytes.

Every value that came from data (ids, labels, tooltips, the ring's evidence)
reaches the page either as JSON inside a ``<script>`` block with ``<``, ``>``
and ``&`` escaped as ``\\u003c`` etc., or through :func:`html.escape`;
vis-network draws labels on a canvas and shows string tooltips as text, so an
id like ``</script><img src=x onerror=alert(1)>`` is displayed, never run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import os
import urllib.parse
from pathlib import Path

import networkx as nx

from ..errors import InputError

__all__ = ["explore", "select_subgraph", "annotate_rings", "write_assets", "ASSET_FILES"]

#: vis-network's files, as :func:`write_assets` writes them (script, stylesheet)
ASSET_FILES = ("vis-network.min.js", "vis-network.css")

_STYLE = {  # colour, vis-network shape, legend name
    "account": ("#2563eb", "dot", "account"),
    "ip": ("#ea580c", "diamond", "IP"),
    "device": ("#059669", "square", "device"),
    "country": ("#6b7280", "triangle", "country"),
    "asn": ("#a855f7", "triangleDown", "ASN (autonomous system)"),
}
_RING_COLOUR = "#dc2626"
_EVIDENCE_EDGE = "#334155"
_FADED_EDGE = "rgba(148,163,184,0.35)"
_HIDEABLE = ("country", "asn")


def annotate_rings(graph: nx.Graph, rings) -> nx.Graph:
    """Write ``ring_id``, ``ring_score`` and ``ring_flagged`` onto the account nodes of ``graph`` (in place).

    The ring summaries (members, size, score, p-value, flag, top evidence) go into
    ``graph.graph["rings"]``, which :func:`explore` shows in a ring's page header.
    """
    if not len(rings.summary):
        return graph
    summary = rings.summary.set_index("ring_id")
    index = {}
    for ring_id, members in rings.rings.groupby("ring_id", sort=True)["account_id"]:
        row = summary.loc[ring_id]
        index[ring_id] = {"members": sorted(members), "size": int(row["size"]), "score": float(row["score"]),
                          "pvalue": float(row["pvalue"]), "flagged": bool(row["flagged"]),
                          "top_evidence": str(row.get("top_evidence", ""))}
        for account in members:
            node = f"account:{account}"
            if node in graph:
                graph.nodes[node].update(ring_id=ring_id, ring_score=index[ring_id]["score"],
                                         ring_flagged=index[ring_id]["flagged"])
    graph.graph["rings"] = index
    return graph


def annotate_spikes(graph: nx.Graph, counts) -> nx.Graph:
    """Write ``spikes``, ``first_spike``, ``last_spike`` and ``max_spike_score`` onto IP, device and account nodes.

    ``counts`` is :func:`graphfraud.detect.micro.spike_counts` of the micro-window
    alerts; the page's tooltips then show them (in place, returns ``graph``).

    Examples
    --------
    >>> import pandas as pd
    >>> g = nx.Graph([("account:A", "ip:9.9.9.9")])
    >>> c = pd.DataFrame({"entity_type": ["ip"], "entity": ["9.9.9.9"], "spikes": [2],
    ...     "first_spike": pd.to_datetime(["2025-08-01 10:00"]), "last_spike": pd.to_datetime(["2025-08-02 11:00"]),
    ...     "max_score": [12.5]})
    >>> annotate_spikes(g, c).nodes["ip:9.9.9.9"]["spikes"]
    2
    """
    for kind, entity, n, first, last, score in zip(counts["entity_type"], counts["entity"], counts["spikes"],
                                                    counts["first_spike"], counts["last_spike"], counts["max_score"]):
        node = f"{kind}:{entity}"
        if node in graph:
            graph.nodes[node].update(spikes=int(n), first_spike=str(first), last_spike=str(last),
                                     max_spike_score=float(score))
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
    frontier = sorted(dict.fromkeys(seeds))
    for d in range(1, hops + 1):
        nxt = []
        for n in frontier:
            data = graph.nodes[n]
            if d > 1 and (data.get("type") in ("country", "asn") or graph.degree(n) > hub_degree):
                continue
            for m in sorted(graph.neighbors(n)):
                if m not in dist:
                    dist[m] = d
                    nxt.append(m)
        frontier = nxt
    return dist


def _ring_members(graph: nx.Graph, ring: str) -> list[str]:
    known = graph.graph.get("rings", {}).get(ring)
    if known is not None:
        return [f"account:{a}" for a in known["members"] if f"account:{a}" in graph]
    return sorted(n for n, d in graph.nodes(data=True) if d.get("ring_id") == ring)


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
        members = _ring_members(graph, ring)
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
    return _induced(graph, keep), note


def _induced(graph: nx.Graph, nodes: list) -> nx.Graph:
    """``graph.subgraph(nodes).copy()`` without walking a hub's whole neighbour list.

    networkx's subgraph view filters every neighbour of every kept node, so a
    country node with tens of thousands of accounts is walked on every page. Here
    each kept node's edges are looked up from its neighbours or from the kept
    nodes, whichever is shorter. Attribute dicts are copied, as ``copy()`` does.
    """
    keep = set(nodes)
    sub = nx.Graph()
    sub.graph.update(graph.graph)
    sub.add_nodes_from((n, graph.nodes[n].copy()) for n in nodes)
    adj = graph.adj
    done = set()
    for u in nodes:
        nbrs = adj[u]
        near = [v for v in nbrs if v in keep] if len(nbrs) <= len(keep) else [v for v in nodes if v in nbrs]
        sub.add_edges_from((u, v, nbrs[v].copy()) for v in near if v not in done)
        done.add(u)
    return sub


def _tooltip(node: str, data: dict) -> str:
    lines = [node]
    for k, v in sorted(data.items()):
        if k in ("label",) or v is None:
            continue
        if isinstance(v, float):
            v = f"{v:.3g}"
        lines.append(f"{k}: {v}")
    return "\n".join(lines)


def _shared_by_focus(sub: nx.Graph, focus: set) -> dict:
    """IP/device node -> number of ``focus`` accounts with a successful login on it."""
    out = {}
    for n, d in sub.nodes(data=True):
        if d.get("type") in ("ip", "device"):
            out[n] = sum(1 for m in sub.neighbors(n)
                         if m in focus and (sub.edges[n, m].get("success_logins") or 0) > 0)
    return out


def explore(graph: nx.Graph, accounts=None, ring: str | None = None, hops: int = 1, path: str | Path = "graph.html",
            max_nodes: int = 2000, title: str = "graphfraud", assets: str | Path | None = None) -> Path:
    """Write an interactive HTML view of (part of) the account graph; it works offline.

    Colours and shapes by node type (accounts in flagged rings red), account size
    by relevance, edge width by successful logins, tooltips with the numbers.
    Around a ring (or given accounts), the IPs and devices two or more of them
    logged in through successfully (the reason a ring exists) are drawn large,
    labelled and with dark edges; infrastructure only one of them used is small
    and faded. A ring's page shows its size, score, p-value and top evidence
    (from :func:`annotate_rings`). Checkboxes hide country and ASN nodes; the
    legend lists the node types on the page. Physics stops once the layout has
    stabilised, so a 2,000-node page stays usable. The same graph gives the
    same bytes.

    Without ``assets`` the page carries vis-network inside it (about 690 kB)
    and can be moved anywhere alone. With ``assets``, a folder, the page refers
    to vis-network's two files there by a relative path (written by
    :func:`write_assets` when missing), so many pages share one copy; the page
    then opens offline, by double-click, as long as that folder keeps its place
    relative to the page, and says so in its status line if it does not.

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
    sub, note = select_subgraph(graph, accounts, ring, hops, max_nodes)
    focus = {f"account:{a}" if not str(a).startswith("account:") else str(a) for a in (accounts or [])}
    if ring is not None:
        focus |= set(_ring_members(graph, ring))
    shared = _shared_by_focus(sub, focus)
    evidence = {n for n, k in shared.items() if k >= 2}
    nodes, kinds = [], set()
    for n in sorted(sub.nodes):
        d = sub.nodes[n]
        kind = d.get("type", "account")
        kinds.add(kind)
        colour, shape, _ = _STYLE.get(kind, ("#999999", "dot", kind))
        if d.get("ring_flagged"):
            colour = _RING_COLOUR
        node = {"id": n, "kind": kind, "shape": shape, "color": colour, "title": _tooltip(n, d)}
        label = str(d.get("label", n))[:40]
        if kind == "account":
            node.update(label=label, size=8 + 6 * min(_relevance(d), 4))
        elif n in evidence:
            node.update(label=f"{label} ({shared[n]} members)", size=26, borderWidth=3,
                        font={"size": 16, "color": "#111827", "strokeWidth": 4, "strokeColor": "#ffffff"})
        elif focus and kind in ("ip", "device"):
            node.update(size=7, opacity=0.35)  # one-off infrastructure: no label, faded
        else:
            node.update(label=label, size=10, opacity=0.6 if focus else 1)
        nodes.append(node)
    edges = []
    for u, v in sorted(tuple(sorted(e)) for e in sub.edges):
        d = sub.edges[u, v]
        ok = d.get("success_logins") or 0
        edge = {"from": u, "to": v, "title": _tooltip(f"{u} - {v}", d)}
        if ok and ((u in evidence and v in focus) or (v in evidence and u in focus)):
            edge.update(width=3 + math.log1p(ok), color=_EVIDENCE_EDGE)  # a member's way into the ring
        elif focus:
            edge.update(width=1, color=_FADED_EDGE)
        else:
            edge.update(width=1 + 0.5 * math.log1p(ok), color="#94a3b8")
        edges.append(edge)
    options = {
        "layout": {"randomSeed": 7},
        "physics": {"solver": "forceAtlas2Based", "stabilization": {"enabled": True, "iterations": 300,
                                                                     "updateInterval": 50}},
        "interaction": {"hover": True, "tooltipDelay": 120, "hideEdgesOnDrag": True},
        "nodes": {"font": {"size": 11}},
    }
    info = graph.graph.get("rings", {}).get(ring) if ring is not None else None
    flagged_present = any(n.get("color") == _RING_COLOUR for n in nodes)
    path = Path(path)
    links = None
    if assets is not None:
        assets = Path(assets)
        if not all((assets / name).is_file() for name in ASSET_FILES):
            write_assets(assets)
        links = [_relative_url(assets / name, path.parent) for name in ASSET_FILES]
    return _write_page(path, nodes, edges, options, note, title, info, kinds, bool(evidence), flagged_present,
                       links)


@functools.lru_cache(maxsize=None)
def _lib(name: str) -> str:
    # read once per process: a folder of pages would otherwise read 690 kB per page. Text mode turns the
    # library's CR and CR LF into LF, as the HTML parser does before a browser hashes an inline script,
    # so the CSP hash of the inlined library matches what the browser sees.
    import pyvis

    base = Path(pyvis.__file__).parent / "lib" / "vis-9.1.2"
    return (base / name).read_text(encoding="utf-8")


def write_assets(folder: str | Path) -> list[Path]:
    """Write vis-network's script and stylesheet (``ASSET_FILES``) into ``folder`` for pages to share.

    A file already holding the same bytes is left alone, so writing the assets
    for every run of a folder costs two reads and never touches a file's time.
    Pages written by :func:`explore` with ``assets=folder`` refer to these files.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in write_assets(tempfile.mkdtemp())]
    ['vis-network.min.js', 'vis-network.css']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ASSET_FILES:
        data = _lib(name).encode("utf-8")
        target = folder / name
        if not (target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data):
            # through a temporary name, so a page opened meanwhile never meets half a library
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, target)
        out.append(target)
    return out


def _relative_url(target: Path, start: Path) -> str:
    """``target`` as a URL relative to the folder ``start`` (``../_assets/vis-network.min.js``)."""
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(start))
    return urllib.parse.quote(Path(rel).as_posix())


def _csp_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script and no other."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def _js_json(value) -> str:
    """JSON safe inside a <script> element: no '</script>', no '<!--', no HTML entities."""
    return (json.dumps(value, ensure_ascii=True, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_SVG = {  # legend glyphs, 14x14, drawn like vis-network's shapes
    "dot": '<circle cx="7" cy="7" r="6" fill="{c}"/>',
    "diamond": '<polygon points="7,0 14,7 7,14 0,7" fill="{c}"/>',
    "square": '<rect x="1" y="1" width="12" height="12" fill="{c}"/>',
    "triangle": '<polygon points="7,1 13,13 1,13" fill="{c}"/>',
    "triangleDown": '<polygon points="1,1 13,1 7,13" fill="{c}"/>',
}


def _glyph(shape: str, colour: str) -> str:
    return (f'<svg class="g" width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">'
            f'{_SVG.get(shape, _SVG["dot"]).format(c=colour)}</svg>')


def _legend(kinds, evidence: bool, flagged: bool) -> str:
    items = [f'<span class="li" data-kind="{html.escape(k)}">{_glyph(shape, colour)}{html.escape(name)}</span>'
             for k, (colour, shape, name) in _STYLE.items() if k in kinds]
    items += [f'<span class="li" data-kind="other">{_glyph("dot", "#999999")}{html.escape(k)}</span>'
              for k in sorted(set(kinds) - set(_STYLE))]
    if flagged:
        items.append(f'<span class="li" data-kind="flagged">{_glyph("dot", _RING_COLOUR)}account in a flagged ring'
                     '</span>')
    if evidence:
        items.append('<span class="li" data-kind="shared"><b>large, labelled</b>: IP/device used by 2+ members '
                     '(faded: used by one)</span>')
    return " ".join(items)


def _header(info: dict | None) -> str:
    if info is None:
        return ""
    verdict = "flagged" if info["flagged"] else "not flagged"
    return (f'<div id="ring"><b>{info["size"]} accounts</b>, score {info["score"]:.2f}, '
            f'p = {info["pvalue"]:.2g} ({verdict}). Why: {html.escape(info["top_evidence"])}</div>')


def _write_page(path: Path, nodes, edges, options, note, title, info=None, kinds=(), evidence=False,
                flagged=False, links: list[str] | None = None) -> Path:
    """The page; ``links`` are vis-network's script and stylesheet URLs relative to it (None: inline them)."""
    left = ", ".join(f"{v} {k}" for k, v in sorted(note["left_out_by_type"].items()))
    note_text = (f"Showing {note['shown']:,} of {note['in_neighbourhood']:,} nodes in the neighbourhood"
                 + (f"; left out {note['left_out']:,} less relevant node(s): {left}" if note["left_out"] else "")
                 + (f"; {note['outside']:,} node(s) of the graph are outside it." if note["outside"] else "."))
    toggles = " ".join(f'<label><input type="checkbox" id="hide-{k}" data-kind="{k}"> hide {k} nodes</label>'
                       for k in _HIDEABLE if k in kinds)
    boot = _boot_script(nodes, edges, options, links[0] if links else None)
    if links is None:  # a page alone: vis-network inside it
        lib, lib_hash = _inline_lib()
        script_src = f"{lib_hash} {_csp_hash(boot)}"
        style_src = "'unsafe-inline'"
        css, js = f"<style>{_lib('vis-network.css')}</style>", f"<script>{lib}</script>"
    else:  # one of many pages: vis-network from the shared folder ('self' is the only way to name a local file)
        script_src = f"'self' {_csp_hash(boot)}"
        style_src = "'self' 'unsafe-inline'"
        css = f'<link rel="stylesheet" href="{html.escape(links[1])}">'
        js = f'<script src="{html.escape(links[0])}"></script>'
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {script_src}; style-src {style_src}; img-src data:">
<title>{html.escape(title)}</title>
{css}
<style>
html, body {{ margin: 0; height: 100%; font: 13px system-ui, sans-serif; }}
body {{ display: flex; flex-direction: column; }}
#bar {{ padding: 6px 10px; background: #f1f5f9; border-bottom: 1px solid #cbd5e1; line-height: 1.6; }}
#ring {{ max-width: 100em; }}
#net {{ flex: 1; min-height: 0; position: relative; }}
.li {{ margin-right: 12px; white-space: nowrap; }}
.g {{ vertical-align: -2px; margin-right: 4px; }}
label {{ margin-right: 12px; }}
div.vis-tooltip {{ white-space: pre; font: 12px monospace; }}
</style></head>
<body>
<div id="bar"><b>{html.escape(title)}</b> &mdash; <span id="note">{html.escape(note_text)}</span>
<span id="status"></span>
{_header(info)}
<div id="legend">{_legend(kinds, evidence, flagged)}</div>
<div id="controls">{toggles}</div></div>
<div id="net"></div>
{js}
<script>{boot}</script>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


@functools.lru_cache(maxsize=None)
def _inline_lib() -> tuple[str, str]:
    """vis-network's script to inline, and the CSP source that allows it."""
    lib = _lib("vis-network.min.js")
    return lib, _csp_hash(lib)


def _boot_script(nodes, edges, options, lib_url: str | None) -> str:
    """The page's own script: the data (escaped JSON) and the drawing; its sha256 goes into the CSP.

    It runs inside a function because a global ``var status`` would be the
    browser's ``window.status`` string, and the status line would stay empty.
    """
    missing = ("vis-network did not load" if lib_url is None else
               f"vis-network did not load from {lib_url}: keep that folder where it was, relative to this page")
    return f"""
(function () {{
var status = document.getElementById("status");
if (typeof vis === "undefined") {{
  status.textContent = " " + {_js_json(missing)};
  return;
}}
var nodes = new vis.DataSet({_js_json(nodes)});
var edges = new vis.DataSet({_js_json(edges)});
var network = new vis.Network(document.getElementById("net"), {{nodes: nodes, edges: edges}}, {_js_json(options)});
network.on("stabilizationProgress", function (p) {{ status.textContent = " laying out " + Math.round(100 * p.iterations / p.total) + "%"; }});
network.once("stabilizationIterationsDone", function () {{
  network.setOptions({{physics: false}});
  status.textContent = " layout done";
  document.body.setAttribute("data-stabilized", "1");
}});
document.querySelectorAll("#controls input").forEach(function (box) {{
  box.addEventListener("change", function () {{
    var kind = box.getAttribute("data-kind");
    nodes.update(nodes.get({{filter: function (n) {{ return n.kind === kind; }}}}).map(function (n) {{
      return {{id: n.id, hidden: box.checked}};
    }}));
  }});
}});
}}());
"""
