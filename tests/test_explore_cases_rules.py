import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

import graphfraud
from graphfraud import rules as R
from graphfraud.errors import InputError
from graphfraud.graph.view import annotate_rings, explore, select_subgraph

HOSTILE = "</script><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def analysed(sample_case):
    signals = graphfraud.account_signals(sample_case)
    bursts = graphfraud.detect_bursts(sample_case)
    rings = graphfraud.find_rings(sample_case, signals=signals, bursts=bursts)
    graph = annotate_rings(graphfraud.build_graph(sample_case, signals=signals, bursts=bursts), rings)
    return signals, bursts, rings, graph


def test_graph_has_typed_namespaced_nodes_and_edge_evidence(sample_case, analysed):
    g = analysed[3]
    types = {d["type"] for _, d in g.nodes(data=True)}
    assert types == {"account", "ip", "device", "country", "asn"}
    for n, d in g.nodes(data=True):
        assert n.startswith(d["type"] + ":")
    ip = sample_case.ip_reputation.iloc[0]
    node = g.nodes[f"ip:{ip['ip']}"]
    assert node["risk_score"] == ip["risk_score"] and node["is_tor"] == bool(ip["is_tor"])
    a, b, e = next((u, v, d) for u, v, d in g.edges(data=True) if d["type"] == "account-ip")
    assert {"success_logins", "failed_logins", "first_seen", "last_seen", "mfa_share"} <= set(e)
    assert sum(d["success_logins"] + d["failed_logins"] for _, _, d in g.edges(data=True)
               if d["type"] == "account-ip") == sample_case.logins["ip"].notna().sum()
    flagged = analysed[2].flagged["ring_id"].iloc[0]
    assert any(d.get("ring_id") == flagged and d.get("ring_flagged") for _, d in g.nodes(data=True))


def test_graph_time_window(sample_case):
    g = graphfraud.build_graph(sample_case, until="2025-08-10")
    last = max(d["last_seen"] for _, _, d in g.edges(data=True) if d["type"] == "account-ip")
    assert last <= "2025-08-10 00:00:00"


def hostile_graph(analysed):
    g = analysed[3].copy()
    rid = analysed[2].flagged["ring_id"].iloc[0]
    g.add_node(f"account:{HOSTILE}", type="account", label=HOSTILE, ring_id=rid, ring_flagged=True)
    g.add_edge(f"account:{HOSTILE}", f"account:{analysed[2].members(rid)[0]}")
    return g, rid


def test_explore_page_is_offline_and_escapes_data(analysed, tmp_path):
    g, rid = hostile_graph(analysed)
    page = explore(g, ring=rid, path=tmp_path / "g.html").read_text()
    assert HOSTILE not in page and "<img" not in page
    assert "\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e" in page
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    assert "default-src 'none'" in page  # the browser may fetch nothing
    assert 'setOptions({physics: false})' in page


def test_explore_budget_says_what_it_left_out(analysed, tmp_path):
    sub, note = select_subgraph(analysed[3], max_nodes=300)
    assert sub.number_of_nodes() == 300 == note["shown"]
    assert note["left_out"] + note["outside"] + 300 == analysed[3].number_of_nodes()
    page = explore(analysed[3], path=tmp_path / "g.html", max_nodes=300).read_text()
    assert "Showing 300 of" in page and "left out" in page
    with pytest.raises(InputError, match="no account in the graph belongs to ring 'ring-nope'"):
        select_subgraph(analysed[3], ring="ring-nope")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium (Debian package chromium) not installed")
def test_page_renders_in_headless_chromium_and_stabilises(analysed, tmp_path):
    g, rid = hostile_graph(analysed)
    path = explore(g, ring=rid, hops=2, path=tmp_path / "g.html")
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom",
                          path.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert 'data-stabilized="1"' in dom
    assert "<canvas" in dom
    assert "<img" not in dom  # the hostile id stayed text


def test_open_case_writes_everything_and_is_idempotent(sample_case, analysed, tmp_path):
    signals, bursts, rings, graph = analysed
    rid = rings.flagged["ring_id"].iloc[0]
    folder = graphfraud.open_case(sample_case, rid, tmp_path, rings=rings, signals=signals, bursts=bursts,
                                  graph=graph)
    assert sorted(p.name for p in folder.iterdir()) == sorted(graphfraud.act.cases.CASE_FILES)
    doc = json.loads((folder / "case.json").read_text())
    assert doc["ring_id"] == rid and doc["members"] == rings.members(rid)
    assert {"score_components", "timeline", "shared_infrastructure", "recommended_actions", "parameters",
            "evidence_counts"} <= set(doc)
    assert doc["parameters"]["seed"] == 0
    assert doc["recommended_actions"][0].startswith("Step up to MFA")
    logins = pd.read_csv(folder / "logins.csv")
    assert set(logins["account_id"]) <= set(doc["members"])
    assert doc["evidence_counts"]["logins"] == len(logins)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    graphfraud.open_case(sample_case, rid, tmp_path, rings=rings, signals=signals, bursts=bursts, graph=graph)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    with pytest.raises(InputError, match="no ring 'ring-x'"):
        graphfraud.open_case(sample_case, "ring-x", tmp_path, rings=rings)


def test_case_open_command_finds_the_same_ring_again(sample_case, analysed, tmp_path, capsys):
    from graphfraud.cli import main

    rid = analysed[2].flagged["ring_id"].iloc[0]
    assert main(["case", "open", rid, "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / rid / "case.json").read_text())["members"] == analysed[2].members(rid)


def test_rules_are_data(tmp_path):
    r = R.Rule("x", [("failed_login_rate", ">=", 0.3), ("in_flagged_ring", "==", True)], "open a case", "rings")
    assert R.load_rules(R.save_rules([r], tmp_path / "r.json")) == [r]
    pytest.importorskip("yaml")
    assert R.load_rules(R.save_rules([r], tmp_path / "r.yaml")) == [r]
    with pytest.raises(InputError, match="unknown action 'ban'"):
        R.Rule("y", [("composite", ">=", 0.5)], "ban")
    with pytest.raises(InputError, match="must be \\(feature, op, value\\)"):
        R.Rule("y", [("composite", "~", 0.5)])


def test_rule_metrics_by_hand():
    feats = pd.DataFrame({"composite": [0.9, 0.8, 0.1, 0.7]}, index=["A", "B", "C", "D"])
    pay = pd.DataFrame({"payment_ts": ["2025-08-01"] * 4, "account_id": ["A", "B", "C", "D"], "method": ["CARD"] * 4,
                        "amount_usd": [1.0] * 4, "status": ["CHARGEBACK", "PAID", "PAID", "PAID"]})
    fnd = pd.DataFrame({"finding_ts": ["2025-08-02"], "account_id": ["B"], "type": ["X"], "severity": ["HIGH"]})
    case = graphfraud.case_from_frames(logins=pd.DataFrame(columns=["event_ts", "account_id", "ip", "country_iso",
                                                                    "result", "mfa_used", "device_id"]),
                                       payments=pay, security_findings=fnd)
    ev = R.evaluate_rules([R.Rule("hi", [("composite", ">=", 0.75)])], feats, case, window_days=2).iloc[0]
    assert ev["alerts"] == 2 and ev["daily_alerts"] == 1.0
    assert ev["precision_findings"] == 0.5 and ev["recall_findings"] == 1.0 and ev["lift_findings"] == 2.0
    assert ev["precision_bad_payments"] == 0.5 and ev["lift_bad_payments"] == 2.0
    with pytest.raises(InputError, match="unknown feature 'nope'"):
        R.evaluate_rules([R.Rule("n", [("nope", ">=", 1)])], feats, case, 1)


def test_proposals_respect_the_alert_budget(sample_case, analysed):
    signals, bursts, rings, _ = analysed
    feats = R.account_features(sample_case, signals, bursts, rings, rings.campaigns)
    p = R.propose_rules(feats, sample_case, 14, daily_alert_budget=1.0)
    sel = p[p["selected"]]
    assert 1 <= len(sel) <= 3 and sel["daily_alerts"].sum() <= 1.0
    assert sel["family"].is_unique
