"""Case folders in seconds: vis-network once per cases/ folder, pages that still open offline by double-click,
and per-ring tables cut in one grouped pass that equal the one-ring-at-a-time baseline."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pandas as pd
import pytest

from graphfraud.act import cases as C
from graphfraud.graph.build import build_graph
from graphfraud.graph.view import ASSET_FILES, annotate_rings, explore, write_assets

SINCE = "2025-08-05 00:00:00"
HOSTILE = "</script><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def cases_dir(opened_cases):
    out, index = opened_cases
    return out, index["ring_id"].tolist()


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's parser sees them (script text is not markup)."""

    def __init__(self, page: str):
        super().__init__()
        self.tags, self.scripts, self._in_script = [], [], None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script" and "src" not in dict(attrs):
            self._in_script = []

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script is not None:
            self.scripts.append("".join(self._in_script))
            self._in_script = None


def _csp(tags: _Tags) -> dict:
    meta = next(a["content"] for t, a in tags.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in meta.split(";")) if d}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def test_vis_network_is_written_once_beside_the_ring_folders(cases_dir):
    out, ring_ids = cases_dir
    assets = out / C.ASSETS
    assert sorted(p.name for p in assets.iterdir()) == sorted(ASSET_FILES)
    lib = (assets / "vis-network.min.js").read_text(encoding="utf-8")
    piece = lib[len(lib) // 2:len(lib) // 2 + 200]  # library code, not a licence header pages might quote
    for rid in ring_ids:
        assert sorted(p.name for p in (out / rid).iterdir()) == sorted(C.CASE_FILES)
        assert piece not in (out / rid / "graph.html").read_text(encoding="utf-8")
    copies = sorted(p for p in out.rglob("*") if p.is_file() and p.name in ASSET_FILES)
    assert copies == sorted(assets / n for n in ASSET_FILES)


def test_every_page_refers_to_existing_local_files_and_fetches_nothing(cases_dir):
    out, ring_ids = cases_dir
    for rid in ring_ids:
        page = out / rid / "graph.html"
        tags = _Tags(page.read_text(encoding="utf-8"))
        urls = [(t, k, v) for t, a in tags.tags for k, v in a.items() if k in ("src", "href", "action", "data")]
        assert urls == [("link", "href", "../_assets/vis-network.css"),
                        ("script", "src", "../_assets/vis-network.min.js")]
        for _, _, url in urls:
            target = (page.parent / url).resolve()
            assert target.is_file() and target.parent == (out / C.ASSETS).resolve()
            assert "://" not in url and not url.startswith("/")
        csp = _csp(tags)
        assert csp["default-src"] == ["'none'"] and "'unsafe-inline'" not in csp["script-src"]
    css = (out / C.ASSETS / "vis-network.css").read_text(encoding="utf-8")
    assert all(u.strip("\"'").startswith("data:") for u in re.findall(r"url\(([^)]*)\)", css))
    assert "@import" not in css


def test_csp_allows_vis_network_and_the_pages_own_script_only(analysed_since, tmp_path):
    case, signals, bursts, rings, periods = analysed_since
    graph = annotate_rings(build_graph(case, since=SINCE), rings)
    rid = rings.flagged["ring_id"].iloc[0]
    alone = _Tags(explore(graph, ring=rid, path=tmp_path / "alone.html").read_text(encoding="utf-8"))
    shared = _Tags(explore(graph, ring=rid, path=tmp_path / "p" / "g.html", assets=tmp_path / "a").read_text(
        encoding="utf-8"))
    # a page alone: vis-network and the page's script inline, each allowed by its hash and nothing else
    assert len(alone.scripts) == 2
    assert sorted(_csp(alone)["script-src"]) == sorted(_sha256(s) for s in alone.scripts)
    # a page of a folder: vis-network from the folder ('self'), the page's script by its hash
    assert len(shared.scripts) == 1
    assert sorted(_csp(shared)["script-src"]) == sorted(["'self'", _sha256(shared.scripts[0])])
    assert _csp(shared)["default-src"] == ["'none'"]


def test_explore_links_assets_relative_to_the_page_and_writes_them_once(analysed_since, tmp_path):
    case, signals, bursts, rings, periods = analysed_since
    graph = annotate_rings(build_graph(case, since=SINCE), rings)
    rid = rings.flagged["ring_id"].iloc[0]
    page = explore(graph, ring=rid, path=tmp_path / "a" / "b" / "g.html", assets=tmp_path / "lib")
    tags = _Tags(page.read_text(encoding="utf-8"))
    assert [a.get("src") or a.get("href") for t, a in tags.tags if t in ("script", "link") and len(a)] == [
        "../../lib/vis-network.css", "../../lib/vis-network.min.js"]
    stamp = {n: (tmp_path / "lib" / n).stat().st_mtime_ns for n in ASSET_FILES}
    write_assets(tmp_path / "lib")
    assert {n: (tmp_path / "lib" / n).stat().st_mtime_ns for n in ASSET_FILES} == stamp  # same bytes: untouched
    (tmp_path / "lib" / "vis-network.min.js").write_text("broken")
    write_assets(tmp_path / "lib")
    assert (tmp_path / "lib" / "vis-network.min.js").stat().st_size > 100_000  # a damaged copy is replaced


def test_a_ring_folder_is_the_same_written_alone_or_with_the_others(analysed_since, cases_dir, tmp_path):
    case, signals, bursts, rings, periods = analysed_since
    out, ring_ids = cases_dir
    for rid in ring_ids:
        C.open_ring_cases(case, rings, tmp_path / rid, signals, bursts, periods=periods, ring_ids=[rid])
        for name in C.CASE_FILES:
            assert (tmp_path / rid / rid / name).read_bytes() == (out / rid / name).read_bytes(), (rid, name)


def _shown(page: str) -> tuple:
    return tuple(re.search(p, page, re.S).group(1) for p in (r"var nodes = new vis.DataSet\((.*?)\);\n",
                                                            r"var edges = new vis.DataSet\((.*?)\);\n",
                                                            r'<div id="bar">(.*?)<div id="net">'))


def test_case_folders_equal_the_one_ring_at_a_time_baseline(analysed_since, cases_dir, tmp_path):
    from naive import naive_ring_cases

    case, signals, bursts, rings, periods = analysed_since
    out, ring_ids = cases_dir
    scope = set(rings.rings.loc[rings.rings["ring_id"].isin(ring_ids), "account_id"])
    graph = annotate_rings(build_graph(C._near_accounts(case, scope), since=periods.analysis.start,
                                       until=periods.analysis.end, signals=signals, bursts=bursts), rings)
    naive_ring_cases(case, rings, tmp_path, signals, bursts, periods, graph)
    assert not (tmp_path / C.ASSETS).exists()  # the baseline inlines vis-network in every page
    for rid in ring_ids:
        for name in C.CASE_FILES:
            a, b = (out / rid / name), (tmp_path / rid / name)
            if name == "graph.html":
                assert _shown(a.read_text(encoding="utf-8")) == _shown(b.read_text(encoding="utf-8")), rid
            else:
                assert a.read_bytes() == b.read_bytes(), (rid, name)


def _chromium(url: str, profile) -> subprocess.CompletedProcess:
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr",
                           "--v=0", f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="headless Chromium (Debian package chromium) not installed")
def test_case_page_renders_from_its_folder_in_headless_chromium(analysed_since, tmp_path):
    case, signals, bursts, rings, periods = analysed_since
    rid = rings.flagged["ring_id"].iloc[0]
    scope = set(rings.rings.loc[rings.rings["ring_id"].isin(rings.flagged["ring_id"]), "account_id"])
    graph = annotate_rings(build_graph(C._near_accounts(case, scope), since=periods.analysis.start,
                                       until=periods.analysis.end, signals=signals, bursts=bursts), rings)
    graph.add_node(f"account:{HOSTILE}", type="account", label=HOSTILE, ring_id=rid, ring_flagged=True)
    graph.add_edge(f"account:{HOSTILE}", f"account:{rings.members(rid)[0]}")
    C.open_ring_cases(case, rings, tmp_path / "cases", signals, bursts, periods=periods, ring_ids=[rid], graph=graph)
    page = tmp_path / "cases" / rid / "graph.html"

    # opened by double-click: a file:// URL, vis-network from ../_assets/ under script-src 'self'
    proc = _chromium(page.as_uri(), tmp_path / "profile")
    dom = proc.stdout
    assert 'data-stabilized="1"' in dom and "<canvas" in dom
    assert re.search(r'<span id="status">\s*layout done</span>', dom)
    assert "<img" not in dom  # the hostile id stayed text
    # nothing logged: no refused script or stylesheet (CSP), no script error
    assert not [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]

    # the page moved without _assets/ says why it shows no graph
    alone = tmp_path / "moved" / "graph.html"
    alone.parent.mkdir()
    shutil.copy(page, alone)
    dom = _chromium(alone.as_uri(), tmp_path / "profile2").stdout
    assert "vis-network did not load from ../_assets/vis-network.min.js" in dom and "<canvas" not in dom


@pytest.mark.parametrize("cell", ["plain", "two\nlines", 'quote " and, comma', "marker \x1e\n inside", "=1+1"])
def test_each_rings_csv_cut_from_one_rendering_equals_rendering_it_alone(cell):
    from graphfraud.act.cases import _ByRing, _csv_text, formula_safe

    df = pd.DataFrame({"account_id": ["A", "B", "C", "D"], "note": [cell, None, "x", cell],
                       "amount": [1.5, float("nan"), 1e-300, 2.0],
                       "_ring": ["r2", "r1", None, "r2"]})
    by = _ByRing(df)
    for ring in ("r1", "r2", "absent"):
        alone = df[df["_ring"] == ring].drop(columns="_ring").reset_index(drop=True)
        assert by.csv(ring) == _csv_text(formula_safe(alone))
