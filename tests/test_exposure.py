"""Known-bad exposure: hand-built graphs with known hops, paths and scores, hubs, stores, and the notebook traversal."""

from __future__ import annotations

import dataclasses
import inspect
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from gremlin_python.process.translator import Translator
from hypothesis import HealthCheck, given, settings, strategies as st

import graphfraud
from graphfraud import traversals as T
from graphfraud.errors import InputError
from graphfraud.graph.activity import entity_activity
from graphfraud.graph.stores import connect
from graphfraud.rings.known_bad import EXPOSURE_COLUMNS, SEED_COLUMNS, ExposureParams, exposure, known_bad_seeds
from graphfraud.synth import generate_case

from conftest import logins

T0 = "2025-08-01 10:00"
STORES = ["networkx", "gremlite://"]


def ok(account, ip, device=None, ts=T0):
    return (ts, account, ip, "DE", "SUCCESS", 0, device)


def findings(*rows) -> pd.DataFrame:
    """``findings(("2025-08-02", "S", "CREDENTIAL_EXFIL"), ...)``."""
    return pd.DataFrame([(t, a, k, "HIGH") for t, a, k in rows],
                        columns=["finding_ts", "account_id", "type", "severity"])


def by_account(out: pd.DataFrame) -> pd.DataFrame:
    return out.set_index("account_id")


def chain_case():
    """S -[device d1]- A -[ip 5.5.5.5]- B; C is on its own; S has a finding."""
    return graphfraud.case_from_frames(
        logins=logins(ok("S", "9.9.9.1", "d1"), ok("A", "9.9.9.2", "d1"), ok("A", "5.5.5.5"), ok("B", "5.5.5.5"),
                      ok("C", "7.7.7.7", "d9")),
        security_findings=findings(("2025-08-02", "S", "CREDENTIAL_EXFIL")))


# ---------------------------------------------------------------------- hops, paths, scores

def test_a_chain_gives_hops_one_and_two_and_the_path_in_words():
    out = exposure(chain_case())
    assert list(out.columns) == EXPOSURE_COLUMNS
    assert out["account_id"].tolist() == ["S", "A", "B", "C"]  # most exposed first
    t = by_account(out)
    assert t["hops"].iloc[:3].tolist() == [0, 1, 2]
    assert str(out["hops"].dtype) == "Int64" and pd.isna(t.loc["C", "hops"])
    assert t.loc["S", "path"] == "S (security finding: CREDENTIAL_EXFIL)"
    assert t.loc["A", "path"] == "A -[device d1]- S (security finding: CREDENTIAL_EXFIL)"
    assert t.loc["B", "path"] == "B -[ip 5.5.5.5]- A -[device d1]- S (security finding: CREDENTIAL_EXFIL)"
    assert t["nearest_known_bad"].tolist()[:3] == ["S", "S", "S"] and pd.isna(t.loc["C", "nearest_known_bad"])
    assert t.loc["C", "path"] == "" and t.loc["C", "exposure"] == 0.0
    assert t.loc["S", "exposure"] == 1.0 > t.loc["A", "exposure"] > t.loc["B", "exposure"] > 0


def test_the_score_of_a_private_partner_is_the_hand_computed_one():
    # S and P share one device and nothing else: x_P = c * alpha / (1 - 2c) with c = (1 - alpha)^2 / 2,
    # so v = x_P / (alpha (1 - alpha)^2) = 1 / (2 (1 - (1 - alpha)^2)) and exposure = 1 - exp(-v)
    case = graphfraud.case_from_frames(logins=logins(ok("S", "9.9.9.1", "d1"), ok("P", "9.9.9.2", "d1")))
    for alpha in (0.15, 0.3):
        got = by_account(exposure(case, ["S"], alpha=alpha)).loc["P", "exposure"]
        assert got == pytest.approx(1 - math.exp(-1 / (2 * (1 - (1 - alpha) ** 2))), rel=1e-8)


def hub_case(n_hub=300):
    """A carrier NAT 10.0.0.1 with ``n_hub`` honest accounts and the seed S; S shares a private device with P."""
    rows = [ok(f"H{k:03d}", "10.0.0.1", f"hd{k}") for k in range(n_hub)]
    rows += [ok("S", "10.0.0.1", "dS"), ok("P", "9.9.9.9", "dS")]
    return graphfraud.case_from_frames(logins=logins(*rows),
                                       security_findings=findings(("2025-08-01", "S", "ABUSE_COMPUTE")))


def test_a_carrier_nat_does_not_make_its_users_exposed():
    out = by_account(exposure(hub_case()))
    hub_users = out.loc[out.index.str.startswith("H"), "exposure"]
    assert len(hub_users) == 300
    assert out.loc["P", "exposure"] > 0.3  # half of S's walk leaves through the NAT and mostly stops there
    assert hub_users.max() < 1e-3 and hub_users.max() < out.loc["P", "exposure"] / 1000
    # and the damping is what does it: the same walk without it hands the NAT's users far more
    undamped = by_account(exposure(hub_case(), hub_power=0.0)).loc[hub_users.index, "exposure"]
    assert hub_users.max() < undamped.min() / 10
    # the NAT is never a path: its users are not reachable, P is
    assert out.loc[hub_users.index, "hops"].isna().all() and (out.loc[hub_users.index, "path"] == "").all()
    assert out.loc["P", "hops"] == 1


def test_a_path_never_goes_through_a_hub_even_when_it_is_shorter():
    # B shares a 150-account hub with S (1 hop, but through a hub) and reaches S in 2 hops through C
    rows = [ok(f"H{k:03d}", "8.8.8.8") for k in range(148)]
    rows += [ok("S", "8.8.8.8", "d1"), ok("B", "8.8.8.8"), ok("C", "1.1.1.1", "d1"), ok("B", "1.1.1.1")]
    case = graphfraud.case_from_frames(logins=logins(*rows))
    out = by_account(exposure(case, ["S"]))
    assert out.loc["B", "hops"] == 2 and out.loc["B", "path"] == "B -[ip 1.1.1.1]- C -[device d1]- S (given)"
    assert "8.8.8.8" not in "".join(out["path"])
    # with the cap raised above the hub's size it is the shortest path again
    wide = by_account(exposure(case, ["S"], max_path_accounts=200))
    assert wide.loc["B", "hops"] == 1 and wide.loc["B", "path"] == "B -[ip 8.8.8.8]- S (given)"


def test_an_entity_seed_is_an_end_and_its_users_are_one_hop_away():
    rows = [ok(f"U{k:03d}", "6.6.6.6") for k in range(120)] + [ok("U000", "2.2.2.2"), ok("V", "2.2.2.2")]
    case = graphfraud.case_from_frames(logins=logins(*rows))
    seeds = pd.DataFrame({"kind": ["ip"], "value": ["6.6.6.6"], "source": ["blocklist: open proxy"]})
    out = by_account(exposure(case, seeds))
    assert (out.loc[out.index.str.startswith("U"), "hops"] == 1).all()  # 120 users: a hub, but the seed itself
    assert out.loc["U007", "path"] == "U007 -[ip 6.6.6.6] (blocklist: open proxy)"
    assert out.loc["U007", "nearest_known_bad"] == "ip:6.6.6.6"
    assert out.loc["V", "hops"] == 2
    assert out.loc["V", "path"] == "V -[ip 2.2.2.2]- U000 -[ip 6.6.6.6] (blocklist: open proxy)"
    assert (out["exposure"] < 1).all()  # no account is a seed


def test_paths_longer_than_max_hops_say_how_much_is_left():
    rows = [ok("S", "0.0.0.1", "d0")]
    for k in range(1, 7):  # A1 .. A6, each sharing a device with the one before
        rows += [ok(f"A{k}", f"0.0.0.{k + 1}", f"d{k - 1}"), ok(f"A{k}", f"0.0.1.{k}", f"d{k}")]
    case = graphfraud.case_from_frames(logins=logins(*rows))
    out = by_account(exposure(case, ["S"], max_hops=2))
    assert out.loc["A2", "path"] == "A2 -[device d1]- A1 -[device d0]- S (given)"
    assert out.loc["A6", "hops"] == 6
    assert out.loc["A6", "path"] == "A6 -[device d5]- A5 -[device d4]- A4 -[4 more hops]- S (given)"
    assert out["exposure"].is_monotonic_decreasing


# ---------------------------------------------------------------------- seeds

def test_as_of_leaves_out_later_findings_and_chargebacks():
    pay = pd.DataFrame({"payment_ts": ["2025-08-03", "2025-09-02"], "account_id": ["A", "B"],
                        "method": ["CARD", "CARD"], "amount_usd": [10.0, 20.0], "status": ["CHARGEBACK"] * 2})
    case = graphfraud.case_from_frames(
        logins=logins(ok("S", "9.9.9.1", "d1"), ok("A", "9.9.9.2", "d1"), ok("A", "5.5.5.5"), ok("B", "5.5.5.5"),
                      ok("C", "7.7.7.7", "d9")),
        security_findings=findings(("2025-08-02", "S", "CREDENTIAL_EXFIL"), ("2025-09-01", "C", "BRUTE_FORCE")),
        payments=pay)
    seeds = known_bad_seeds(case, as_of="2025-08-15")
    assert list(seeds.columns) == SEED_COLUMNS and seeds["value"].tolist() == ["S"]
    with_cb = known_bad_seeds(case, as_of="2025-08-15", include_chargebacks=True)
    assert with_cb[["value", "source"]].values.tolist() == [
        ["A", "chargeback"], ["S", "security finding: CREDENTIAL_EXFIL"]]
    assert sorted(known_bad_seeds(case, include_chargebacks=True)["value"]) == ["A", "B", "C", "S"]
    out = by_account(exposure(case, as_of="2025-08-15"))
    assert out.loc["C", "exposure"] == 0 and pd.isna(out.loc["C", "hops"])
    assert by_account(exposure(case)).loc["C", "hops"] == 0  # later on, C is known bad


def test_a_seed_with_several_reasons_lists_them_all():
    case = graphfraud.case_from_frames(
        logins=logins(ok("S", "9.9.9.1", "d1"), ok("A", "9.9.9.2", "d1")),
        security_findings=findings(("2025-08-02", "S", "BRUTE_FORCE"), ("2025-08-03", "S", "CREDENTIAL_EXFIL"),
                                   ("2025-08-04", "S", "BRUTE_FORCE")))
    out = by_account(exposure(case))
    assert out.loc["A", "path"] == (
        "A -[device d1]- S (security finding: BRUTE_FORCE; security finding: CREDENTIAL_EXFIL)")


def _with_blocklist(case, blocklist):
    """The case with this blocklist table in place of its own."""
    return dataclasses.replace(case, blocklist=blocklist)


BLOCKLIST = pd.DataFrame({
    "kind": ["account", "ip", "device", "email_domain", "merchant", "ip"],
    "value": ["M", "6.6.6.6", "dev-x", "Mule.example", "shop-1", "4.4.4.4"],
    "reason": ["mule account", "open proxy", "emulator", "throwaway domain", "fraud merchant", "listed later"],
    "listed_ts": pd.to_datetime([None, "2025-07-01", None, None, None, "2025-09-01"])})


def blocklist_logins():
    return logins(ok("M", "1.0.0.1", "dm"), ok("X", "1.0.0.2", "dm"), ok("U", "6.6.6.6"), ok("W", "1.0.0.3", "dev-x"),
                  ok("E", "1.0.0.4"), ok("L", "4.4.4.4"))


def blocklist_users():
    return pd.DataFrame({"account_id": ["E", "F"], "country": ["DE", "DE"], "signup_ts": ["2025-01-01"] * 2,
                         "email_domain": ["mule.EXAMPLE", "fine.example"], "is_enterprise": [0, 0]})


def check_blocklist_seeds(case):
    seeds = known_bad_seeds(case, as_of="2025-08-15")
    assert seeds[["kind", "value", "source"]].values.tolist() == [
        ["account", "E", "blocklist: throwaway domain (email domain Mule.example)"],
        ["account", "M", "blocklist: mule account"],
        ["device", "dev-x", "blocklist: emulator"],
        ["ip", "6.6.6.6", "blocklist: open proxy"]]  # no merchant, nothing listed after as_of
    assert seeds["since"].isna().tolist() == [True, True, True, False]
    out = by_account(exposure(case, as_of="2025-08-15"))
    assert out.loc["X", "path"] == "X -[device dm]- M (blocklist: mule account)"
    assert out.loc["U", "path"] == "U -[ip 6.6.6.6] (blocklist: open proxy)" and out.loc["U", "hops"] == 1
    assert out.loc["W", "nearest_known_bad"] == "device:dev-x" and out.loc["E", "hops"] == 0
    assert pd.isna(out.loc["L", "hops"])
    assert by_account(exposure(case)).loc["L", "hops"] == 1  # listed by the end of the case


def test_blocklist_seeds_on_a_case_that_carries_a_blocklist():
    case = graphfraud.case_from_frames(logins=blocklist_logins(), users=blocklist_users())
    check_blocklist_seeds(_with_blocklist(case, BLOCKLIST))
    assert known_bad_seeds(_with_blocklist(case, BLOCKLIST.iloc[:0])).empty
    assert known_bad_seeds(_with_blocklist(case, None)).empty


def test_blocklist_seeds_from_the_loader():
    if "blocklist" not in inspect.signature(graphfraud.case_from_frames).parameters:
        pytest.skip("case_from_frames has no blocklist table yet (it is being added to the loader)")
    case = graphfraud.case_from_frames(logins=blocklist_logins(), users=blocklist_users(), blocklist=BLOCKLIST)
    check_blocklist_seeds(case)


def test_empty_seeds_give_no_exposure():
    case = chain_case()
    for seeds in ([], ["nobody"], pd.DataFrame({"kind": ["ip"], "value": ["0.0.0.0"]})):
        out = exposure(case, seeds)
        assert len(out) == 4 and (out["exposure"] == 0).all() and out["hops"].isna().all()
        assert (out["path"] == "").all() and out["nearest_known_bad"].isna().all()
        assert out["account_id"].tolist() == ["A", "B", "C", "S"]


def test_accounts_without_activity_are_not_in_the_table():
    case = graphfraud.case_from_frames(
        logins=logins(ok("S", "9.9.9.1", "d1"), ok("A", "9.9.9.2", "d1"),
                      ("2025-08-01 11:00", "F", "9.9.9.9", "DE", "FAIL", 0, "d1")),
        security_findings=findings(("2025-08-02", "Q", "BRUTE_FORCE"), ("2025-08-02", "S", "BRUTE_FORCE")))
    out = exposure(case)
    assert sorted(out["account_id"]) == ["A", "S"]  # F only failed; Q never logged in


def test_hostile_ids_are_just_text():
    nasty, dev = 'A"1\nx\'); g.V().drop(); //', "d'1 -[ip x]-"
    case = graphfraud.case_from_frames(logins=logins(ok(nasty, "9.9.9.1", dev), ok("B", "9.9.9.2", dev)),
                                       security_findings=findings(("2025-08-02", nasty, "BRUTE_FORCE")))
    out = by_account(exposure(case))
    assert out.loc["B", "path"] == f"B -[device {dev}]- {nasty} (security finding: BRUTE_FORCE)"
    assert out.loc["B", "nearest_known_bad"] == nasty and out.loc[nasty, "exposure"] == 1.0


def test_bad_parameters_and_seeds_are_refused():
    case = chain_case()
    with pytest.raises(InputError, match="alpha must be in"):
        ExposureParams(alpha=1.0)
    with pytest.raises(InputError, match="unknown exposure parameter"):
        exposure(case, hub_acounts=5)
    with pytest.raises(InputError, match="seed kinds"):
        exposure(case, pd.DataFrame({"kind": ["merchant"], "value": ["m"]}))
    with pytest.raises(InputError, match="list of account ids"):
        exposure(case, "S")
    with pytest.raises(InputError, match="as_of"):
        exposure(case, as_of="yesterday-ish")
    with pytest.raises(InputError, match="needs a Case"):
        exposure(case.logins)


# ---------------------------------------------------------------------- the same answer from any store

@pytest.fixture(params=STORES)
def store(request):
    backend = connect(request.param)
    yield backend
    backend.close()


def test_the_activity_read_from_a_store_gives_the_identical_frame(store):
    case = generate_case(200, seed=4, days=21).case
    as_of = case.logins["event_ts"].quantile(0.7)
    store.load_case(case)
    seeds = known_bad_seeds(case, include_chargebacks=True)
    assert len(seeds)
    expected = exposure(case, seeds)
    got = exposure(case, seeds, activity=store.activity())
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(exposure(case, as_of=as_of, include_chargebacks=True,
                                           activity=store.activity(until=as_of)),
                                  exposure(case, as_of=as_of, include_chargebacks=True))
    assert (expected["hops"] >= 1).sum() > 0


# ---------------------------------------------------------------------- properties

@st.composite
def graphs(draw):
    n_acc = draw(st.integers(1, 12))
    n_ent = draw(st.integers(1, 8))
    edges = draw(st.sets(st.tuples(st.integers(0, n_acc - 1), st.integers(0, n_ent - 1)), min_size=1, max_size=40))
    seed_acc = draw(st.sets(st.integers(0, n_acc - 1), max_size=3))
    seed_ent = draw(st.sets(st.integers(0, n_ent - 1), max_size=2))
    return edges, seed_acc, seed_ent, draw(st.integers(1, 5))


def _oracle_hops(edges, seeds: pd.DataFrame, max_path_accounts: int) -> dict:
    """Shortest hops by networkx: seed accounts at 0, a seed entity's users at 1, never through a non-seed hub."""
    g = nx.Graph()
    users = pd.DataFrame(edges, columns=["a", "e"]).groupby("e")["a"].nunique()
    seed_ent = {f"e{v}" for k, v in zip(seeds["kind"], seeds["value"]) if k == "device"}
    for a, e in edges:
        if users[e] <= max_path_accounts or f"e{e}" in seed_ent:
            g.add_edge(f"a{a}", f"e{e}", weight=1)
    accounts = {f"a{a}" for a, _ in edges}
    for k, v in zip(seeds["kind"], seeds["value"]):
        node = f"a{v[1:]}" if k == "account" else f"e{v}"
        if node in g or node in accounts:
            g.add_edge("src", node, weight=0 if k == "account" else 1)
    if "src" not in g:
        return {}
    dist = nx.single_source_dijkstra_path_length(g, "src")
    return {n[1:]: d // 2 for n, d in dist.items() if n.startswith("a")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_hops_are_the_shortest_hub_free_paths_and_scores_are_in_range(g):
    edges, seed_acc, seed_ent, max_path_accounts = g
    case = graphfraud.case_from_frames(logins=logins(*[ok(f"A{a}", "0.0.0.0", f"{e}") for a, e in sorted(edges)]))
    seeds = pd.DataFrame({"kind": ["account"] * len(seed_acc) + ["device"] * len(seed_ent),
                          "value": [f"A{a}" for a in sorted(seed_acc)] + [str(e) for e in sorted(seed_ent)]})
    # the one shared IP would link everyone: leave it out of the activity, as a campaign IP is
    act = entity_activity(case, exclude_ips=["0.0.0.0"])
    out = exposure(case, seeds, activity=act, max_path_accounts=max_path_accounts)
    assert list(out.columns) == EXPOSURE_COLUMNS
    assert sorted(out["account_id"]) == sorted({f"A{a}" for a, _ in edges})
    assert out["exposure"].between(0, 1).all() and out["exposure"].is_monotonic_decreasing
    t = by_account(out)
    for a in seed_acc & {a for a, _ in edges}:  # a seed with no activity is not in the table
        assert t.loc[f"A{a}", "exposure"] == 1.0 and t.loc[f"A{a}", "hops"] == 0
    want = _oracle_hops(edges, seeds, max_path_accounts)
    got = {k[1:]: int(v) for k, v in t["hops"].items() if not pd.isna(v)}
    assert got == want
    reached = t["hops"].notna()
    assert (t.loc[reached, "path"] != "").all() and (t.loc[~reached, "path"] == "").all()
    # a path has one bracket per hop up to max_hops (4), then one saying how many are left
    hops = t.loc[reached, "hops"].astype(int)
    assert (t.loc[reached, "path"].str.count(r" -\[") == np.where(hops > 4, 5, hops)).all()
    assert (t.loc[reached & (t["hops"] > 0), "exposure"] > 0).all()


# ---------------------------------------------------------------------- the notebook traversal

def known_bad_store(url):
    """S -[device d1]- A -[ip 1.1.1.1]- B; S, H1, H2, H3 on hub 8.8.8.8 (4 accounts); C alone."""
    rows = [ok("S", "9.9.9.1", "d1"), ok("A", "9.9.9.2", "d1"), ok("A", "1.1.1.1"), ok("B", "1.1.1.1"),
            ok("C", "7.7.7.7")]
    rows += [ok(a, "8.8.8.8") for a in ("S", "H1", "H2", "H3")]
    case = graphfraud.case_from_frames(logins=logins(*rows),
                                       security_findings=findings(("2025-08-02", "S", "BRUTE_FORCE")))
    store = connect(url)
    store.load_case(case)
    return case, store


@pytest.fixture(params=["gremlite://", "file"])
def gstore(request, tmp_path):
    url = "gremlite://" if request.param == "gremlite://" else f"gremlite:///{tmp_path / 'store.db'}"
    case, store = known_bad_store(url)
    yield case, store
    store.close()


def test_paths_to_known_bad_on_gremlite_in_memory_and_on_file(gstore):
    case, store = gstore
    g = store.g
    df = T.paths_to_known_bad(g, "B", ["S"], max_accounts=3)
    assert list(df.columns) == ["hops", "path", "known_bad"]
    assert df.values.tolist() == [[2, "B -[ip 1.1.1.1]- A -[device d1]- S", "S"]]
    assert T.paths_to_known_bad(g, "B", ["S"], max_hops=1, max_accounts=3).empty
    assert T.paths_to_known_bad(g, "B", ["device:d1"], max_accounts=3).values.tolist() == [
        [2, "B -[ip 1.1.1.1]- A -[device d1]", "device:d1"]]
    # the hub is not walked through, unless the cap is raised; a known-bad hub is an end
    assert T.paths_to_known_bad(g, "H1", ["S"], max_accounts=3).empty
    assert T.paths_to_known_bad(g, "H1", ["S"], max_accounts=10)["path"].tolist() == ["H1 -[ip 8.8.8.8]- S"]
    assert T.paths_to_known_bad(g, "H1", ["ip:8.8.8.8"], max_accounts=3).values.tolist() == [
        [1, "H1 -[ip 8.8.8.8]", "ip:8.8.8.8"]]
    assert T.paths_to_known_bad(g, "S", ["S"]).values.tolist() == [[0, "S", "S"]]
    assert T.paths_to_known_bad(g, "C", ["S"]).empty and T.paths_to_known_bad(g, "B", []).empty
    # the seed table works as known_bad, and agrees with exposure() on the hops
    seeds = known_bad_seeds(case)
    hops = by_account(exposure(case, max_path_accounts=3))["hops"]
    for account in ("A", "B", "C", "H1"):
        paths = T.paths_to_known_bad(g, account, seeds, max_accounts=3)
        assert paths.empty if pd.isna(hops[account]) else paths["hops"].min() == hops[account]


def test_paths_to_known_bad_lists_several_paths_shortest_first(gstore):
    _, store = gstore
    df = T.paths_to_known_bad(store.g, "A", ["S", "B"], max_accounts=10)
    assert df.values.tolist() == [[1, "A -[device d1]- S", "S"], [1, "A -[ip 1.1.1.1]- B", "B"]]
    assert len(T.paths_to_known_bad(store.g, "A", ["S", "B"], max_accounts=10, max_paths=1)) == 1


def test_paths_to_known_bad_takes_hostile_values_as_values(gstore):
    _, store = gstore
    before = store.counts()
    assert T.paths_to_known_bad(store.g, "x'); g.V().drop(); //", ["S"]).empty
    assert T.paths_to_known_bad(store.g, "B", ["account:x'); g.V().drop(); //", 'ip:"\n']).empty
    assert store.counts() == before
    with pytest.raises(InputError, match="max_hops"):
        T.paths_to_known_bad(store.g, "B", ["S"], max_hops=0)
    with pytest.raises(InputError, match="kinds must be among"):
        T.paths_to_known_bad(store.g, "B", pd.DataFrame({"kind": ["merchant"], "value": ["m"]}))


def test_the_gremlite_variant_differs_only_in_the_loop_bound_and_cap(gstore):
    _, store = gstore
    lite = Translator("g").translate(T.build_paths_to_known_bad(store.g, "B", ["S"], 3, 3, 10).bytecode)
    full = T.gremlin_text("paths_to_known_bad", account_id="B", known_bad=["S"], max_hops=3, max_accounts=3,
                          max_paths=10)
    assert "loops()" in full and "loops()" not in lite and "times(3)" in lite
    assert lite.replace(".times(3)", "").replace("within([1,2,3])", "lte(3)") == full.replace(
        ",__.loops().is(gte(3))", "")
    assert "within(${known_bad})" in T.gremlin_text("paths_to_known_bad")
