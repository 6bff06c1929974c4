"""Case folders an analyst can trust: one definition, real times, periods, same folder from either command,
same bytes whatever the row order, and safe to open in a browser or a spreadsheet."""

from __future__ import annotations

import re

import json
from dataclasses import replace
from types import SimpleNamespace

import pandas as pd
import pytest

import graphfraud
from graphfraud.act import cases as C
from graphfraud.graph.stores import connect
from graphfraud.graph.view import annotate_rings
from graphfraud import traversals as T

SINCE = "2025-08-05 00:00:00"


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _period_logins(case, periods):
    lg = case.logins
    return lg[periods.analysis.mask(lg["event_ts"])]


def test_index_lists_one_folder_per_flagged_ring(analysed_since, opened_cases):
    out, index = opened_cases
    assert list(index.columns) == C.INDEX_COLUMNS
    assert index["ring_id"].tolist() == analysed_since[3].flagged["ring_id"].tolist()
    for rid, folder in zip(index["ring_id"], index["folder"]):
        assert sorted(p.name for p in (out / folder).iterdir()) == sorted(C.CASE_FILES), rid


# 1 -------------------------------------------------------------------------------------------------------------

def test_counts_are_successful_logins_in_the_analysis_period_everywhere(analysed_since, opened_cases):
    case, signals, bursts, rings, periods = analysed_since
    out, index = opened_cases
    rid = index["ring_id"].iloc[0]
    members = rings.members(rid)
    lg = _period_logins(case, periods)
    ok = lg[lg["result"] == "SUCCESS"]

    mem = pd.read_csv(out / rid / "members.csv").set_index("account_id")
    by_hand = ok.groupby(ok["account_id"].astype(object)).size().reindex(members, fill_value=0)
    assert mem["success_logins"].to_dict() == by_hand.to_dict()
    assert "logins" not in mem.columns and "window_logins" in mem.columns  # the signal window says so
    logins_csv = pd.read_csv(out / rid / "logins.csv")
    assert logins_csv["event_ts"].min() >= SINCE
    assert (logins_csv["result"] == "SUCCESS").sum() == mem["success_logins"].sum()

    infra = pd.read_csv(out / rid / "shared_infrastructure.csv")
    assert list(infra.columns) == C.INFRASTRUCTURE_COLUMNS and len(infra)
    for r in infra.itertuples():
        col = "ip" if r.entity_type == "ip" else "device_id"
        on = ok[ok[col].astype(object) == r.value]
        users = on.groupby(on["account_id"].astype(object)).size()
        assert r.accounts_with_success == len(users)
        assert r.members_with_success == users.index.isin(members).sum() >= 2
        assert r.member_success_logins == users[users.index.isin(members)].sum()

    # the notebook traversal, on a Gremlin store loaded with the analysis period, says the same
    near = C._near_accounts(case, set(members))
    with connect("gremlite://") as store:
        store.load_case(near, since=periods.analysis.start, until=periods.analysis.end)
        store.write_rings(SimpleNamespace(rings=rings.rings[rings.rings["ring_id"] == rid],
                                          summary=rings.summary[rings.summary["ring_id"] == rid]))
        trav = T.ring_infrastructure(store.g, rid)
    expected = infra.assign(entity=infra["entity_type"] + ":" + infra["value"].astype(str))
    cols = ["members_with_success", "accounts_with_success", "member_success_logins", "member_ids"]
    assert (trav.set_index("entity")[cols].sort_index().to_dict("index")
            == expected.set_index("entity")[cols].sort_index().to_dict("index"))

    # and so do the graph page's tooltips (the graph's node and edge attributes)
    g = annotate_rings(graphfraud.build_graph(near, since=periods.analysis.start, until=periods.analysis.end,
                                              signals=signals, bursts=bursts), rings)
    for a in members:
        assert g.nodes[f"account:{a}"]["success_logins"] == mem.loc[a, "success_logins"]
    for r in expected.itertuples():
        edges = [g.edges[f"account:{a}", r.entity]["success_logins"] for a in r.member_ids.split(";")]
        assert sum(edges) == r.member_success_logins


# 2 -------------------------------------------------------------------------------------------------------------

def test_timeline_uses_real_event_times_not_bins_or_midnight(analysed_since, opened_cases):
    case, signals, bursts, rings, periods = analysed_since
    out, index = opened_cases
    real = set()
    for df, col in ((case.logins, "event_ts"), (case.ec2_activity, "event_ts"), (case.payments, "payment_ts"),
                    (case.security_findings, "finding_ts"), (case.users, "signup_ts"), (bursts, "trigger_ts")):
        real |= set(pd.to_datetime(df[col]).dt.strftime("%Y-%m-%d %H:%M:%S"))
    sessions = 0
    for rid in index["ring_id"]:
        doc = json.loads((out / rid / "case.json").read_text())
        for e in doc["timeline"]:
            assert e["ts"] in real, (rid, e)
            if e["event"] == "coordinated session":
                sessions += 1
                lg = case.logins
                on = lg[(lg["event_ts"] == e["ts"]) & lg["account_id"].astype(object).isin(doc["members"])]
                assert len(on), e  # a member logged in at exactly that time
    assert sessions


# 3 -------------------------------------------------------------------------------------------------------------

def test_every_case_folder_states_its_periods(analysed_since, opened_cases):
    periods = analysed_since[4]
    out, index = opened_cases
    for rid in index["ring_id"]:
        doc = json.loads((out / rid / "case.json").read_text())
        assert doc["periods"] == periods.as_dict()
        head = (out / rid / "summary.md").read_text().splitlines()[:5]
        for line in periods.lines():
            assert f"- {line}" in head


def test_open_case_defaults_its_periods_to_the_rings_own(analysed_since, tmp_path):
    case, signals, bursts, rings, periods = analysed_since
    rid = rings.flagged["ring_id"].iloc[0]
    folder = graphfraud.open_case(case, rid, tmp_path, rings=rings, signals=signals, bursts=bursts)
    assert json.loads((folder / "case.json").read_text())["periods"]["period_start"] == SINCE


# 4 -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra", [[], ["--since", SINCE]], ids=["whole-case", "since"])
def test_case_open_writes_the_folder_analyze_wrote(synthetic, tmp_path, extra):
    from graphfraud.cli import main
    from graphfraud.pipeline import analyze
    from graphfraud.synth import write_case

    db = tmp_path / "case.sqlite"
    write_case(db, 1200, seed=11, days=30)
    case = graphfraud.load_case(db)
    since = extra[1] if extra else None
    res = analyze(case, tmp_path / "analyze", since=since)
    rid = res.rings.flagged["ring_id"].iloc[0]
    assert main(["case", "open", rid, "--db", str(db), "--out", str(tmp_path / "open"), *extra]) == 0
    a, b = _files(tmp_path / "analyze" / "cases" / rid), _files(tmp_path / "open" / rid)
    assert sorted(a) == sorted(C.CASE_FILES + C.MONEY_CASE_FILES)  # a generated case has the money side
    # vis-network once beside the ring folders, in both, and listed in analyze's manifest
    for folder in (tmp_path / "analyze" / "cases", tmp_path / "open"):
        assert _files(folder / C.ASSETS) == _files(tmp_path / "analyze" / "cases" / C.ASSETS) != {}
    listed = {f["path"] for f in json.loads((tmp_path / "analyze" / "manifest.json").read_text())["files"]}
    assert {f"cases/{C.ASSETS}/vis-network.min.js", f"cases/{C.ASSETS}/vis-network.css"} <= listed
    for name in a:
        assert a[name] == b[name], name
    members = pd.read_csv(tmp_path / "open" / rid / "members.csv")
    assert {"composite", "failed_login_rate", "window_logins"} <= set(members.columns)
    assert members["composite"].notna().all()


# 5 -------------------------------------------------------------------------------------------------------------

def _shuffled(case, seed=3):
    def mix(df):
        return df.sample(frac=1, random_state=seed)

    return replace(case, users=mix(case.users), logins=mix(case.logins), ip_reputation=mix(case.ip_reputation),
                   ec2_activity=mix(case.ec2_activity), payments=mix(case.payments),
                   security_findings=mix(case.security_findings))


def test_case_folders_do_not_depend_on_row_order(analysed_since, opened_cases, tmp_path):
    case, signals, bursts, rings, periods = analysed_since
    out, index = opened_cases
    again = C.open_ring_cases(_shuffled(case), rings, tmp_path, signals.sample(frac=1, random_state=1),
                              bursts.sample(frac=1, random_state=1), periods=periods)
    for rid in again["ring_id"]:
        a, b = _files(out / rid), _files(tmp_path / rid)
        for name in a:
            assert a[name] == b[name], (rid, name)


def test_graph_page_is_byte_identical_across_runs(analysed_since, opened_cases, tmp_path):
    case, signals, bursts, rings, periods = analysed_since
    out, index = opened_cases
    C.open_ring_cases(case, rings, tmp_path, signals, bursts, periods=periods)
    for rid in index["ring_id"]:
        assert (out / rid / "graph.html").read_bytes() == (tmp_path / rid / "graph.html").read_bytes()


# 6 -------------------------------------------------------------------------------------------------------------

SVG = "<svg onload=alert(1)>"


@pytest.fixture(scope="module")
def hostile(analysed_since, tmp_path_factory):
    """The strongest ring's shared IPs and devices renamed to markup and spreadsheet formulas, rings found again."""
    case, signals, bursts, rings, periods = analysed_since
    row = rings.flagged.iloc[0]
    devices = {d: f"{SVG}{k}" for k, d in enumerate(filter(None, row["shared_devices"].split(";")))}
    ips = {ip: f"=HYPERLINK(\"http://x/{k}\")" for k, ip in enumerate(filter(None, row["shared_ips"].split(";")))}
    lg = case.logins.assign(ip=case.logins["ip"].astype(object).replace(ips),
                            device_id=case.logins["device_id"].astype(object).replace(devices))
    rep = case.ip_reputation.assign(ip=case.ip_reputation["ip"].astype(object).replace(ips))
    pay = case.payments.copy()
    pay.loc[pay.index[:3], "amount_usd"] = -3.5
    bad = replace(case, logins=lg, ip_reputation=rep, payments=pay)
    bad_rings = graphfraud.find_rings(bad, since=SINCE, signals=signals, bursts=bursts)
    assert row["ring_id"] in set(bad_rings.flagged["ring_id"])
    out = tmp_path_factory.mktemp("hostile")
    C.open_ring_cases(bad, bad_rings, out, signals, bursts, periods=periods, ring_ids=[row["ring_id"]])
    return out / row["ring_id"], bad_rings.summary.set_index("ring_id").loc[row["ring_id"]]


def test_why_line_of_summary_is_escaped(hostile):
    folder, row = hostile
    assert SVG in row["top_evidence"] or "=HYPERLINK" in row["top_evidence"]
    summary = (folder / "summary.md").read_text()
    why = next(line for line in summary.splitlines() if line.startswith("Why: "))
    # every < (the start of any tag) is backslash-escaped (renders as the character, never as a tag); no HTML entities
    assert re.search(r"(?<!\\)<", summary) is None and "\\<svg" in summary and "&lt;" not in summary
    assert re.search(r"(?<!\\)<", why) is None
    page = (folder / "graph.html").read_text()
    assert "<svg onload" not in page


def test_case_csvs_are_formula_safe(hostile):
    folder, _ = hostile
    for name in ("logins.csv", "shared_infrastructure.csv", "members.csv", "payments.csv"):
        raw = (folder / name).read_text()
        cells = [c.strip('"') for line in raw.splitlines() for c in line.split(",")]
        assert not [c for c in cells if c[:1] in ("=", "@", "+", "\t", "\r")], name
    infra = pd.read_csv(folder / "shared_infrastructure.csv")
    assert infra["value"].astype(str).str.startswith("'=HYPERLINK").any()
    pay = pd.read_csv(folder / "payments.csv")
    assert pay["amount_usd"].dtype.kind == "f"  # plain negative numbers stay numbers
    assert C.formula_safe(pd.DataFrame({"v": ["-3.5", "-x", "+1e3", "\tz"]}))["v"].tolist() == [
        "-3.5", "'-x", "+1e3", "'\tz"]


# 8 -------------------------------------------------------------------------------------------------------------

def test_open_ring_cases_builds_the_graph_once(analysed_since, tmp_path, monkeypatch):
    case, signals, bursts, rings, periods = analysed_since
    calls = []
    real = C.build_graph

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(C, "build_graph", counting)
    index = C.open_ring_cases(case, rings, tmp_path, signals, bursts, periods=periods)
    assert len(index) >= 2 and len(calls) == 1


def test_ring_page_counts_nodes_outside_the_case_scope_not_the_whole_case(analysed_since, opened_cases):
    case, signals, bursts, rings, periods = analysed_since
    out, index = opened_cases
    whole = graphfraud.build_graph(case, since=SINCE).number_of_nodes()
    page = (out / index["ring_id"].iloc[0] / "graph.html").read_text()
    outside = int(page.split(" node(s) of the graph are outside it")[0].rsplit("; ", 1)[1].replace(",", ""))
    assert outside < whole / 2
