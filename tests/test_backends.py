"""The graph stores: same graph, same evidence, same rings, on NetworkX and on gremlite."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import graphfraud
from graphfraud.graph.stores import NetworkXBackend, connect, snapshot_frames
from graphfraud.errors import BackendError, GraphFraudError, InputError
from graphfraud.detect.campaigns import detect_campaigns
from graphfraud.graph.activity import entity_activity
from graphfraud.graph.records import graph_records
from graphfraud.graph.stores.gremlin import GremlinBackend, is_transient, neptune_iam_headers
from graphfraud.rings import find_rings
from graphfraud.synth import generate_case

from conftest import logins, reputation

STORES = ["networkx", "gremlite://"]
NASTY = ["x'); g.V().drop(); //", 'back\\slash"quote', "tab\there", "ünï ☃", "A1"]


@pytest.fixture(params=STORES)
def store(request):
    backend = connect(request.param)
    yield backend
    backend.close()


def tiny_case():
    return graphfraud.case_from_frames(
        logins=logins(
            ("2025-08-01 10:00", "A1", "1.1.1.1", "DE", "SUCCESS", 1, "d1"),
            ("2025-08-01 10:05", "A2", "1.1.1.1", "DE", "SUCCESS", 0, "d1"),
            ("2025-08-01 10:06", "A2", "1.1.1.1", "DE", "FAIL", 0, "d1"),
            ("2025-08-02 09:00", "A3", "2.2.2.2", "FR", "FAIL", 0, None),
        ),
        ip_reputation=reputation(("1.1.1.1", 10, 64500, 0), ("2.2.2.2", 95, 64501, 1)),
    )


def test_tiny_graph_has_the_vertices_and_edges_we_expect(store):
    stats = store.load_case(tiny_case())
    # 3 accounts, 2 IPs, 1 device, 2 countries, 2 ASNs; USED_IP x3, USED_DEVICE x2, LOGGED_IN_FROM x3, IN_ASN x2
    assert (stats["vertices"], stats["edges"]) == (10, 10)
    assert store.counts() == (10, 10)
    v, e = store.snapshot()
    ip = v.set_index("gf_id").loc["ip:2.2.2.2"]
    assert (ip["label"], ip["risk_score"], ip["is_tor"], ip["asn"], ip["n_accounts"]) == ("ip", 95, True, 64501, 1)
    assert all(type(ip[k]) is int for k in ("risk_score", "asn", "n_accounts"))  # not 95.0
    a2 = e.set_index("gf_id").loc["USED_IP|account:A2|ip:1.1.1.1"]
    assert (a2["logins"], a2["fails"], a2["first_seen"]) == (2, 1, "2025-08-01 10:05:00")
    # A3 only failed: its edge has no success times, so it is no evidence
    assert e.set_index("gf_id").loc["USED_IP|account:A3|ip:2.2.2.2", "success_us"] is None
    ev = store.evidence()
    assert sorted(ev["account_id"] + ">" + ev["entity"]) == [
        "A1>device:d1", "A1>ip:1.1.1.1", "A2>device:d1", "A2>ip:1.1.1.1"]


def test_loading_twice_changes_nothing(store):
    case = generate_case(60, seed=4, days=21).case
    store.load_case(case)
    first = store.snapshot()
    store.load_case(case)
    again = store.snapshot()
    assert store.counts() == (len(first[0]), len(first[1]))
    assert first[0].equals(again[0]) and first[1].equals(again[1])


def test_an_interrupted_load_run_again_ends_with_the_same_graph(store, monkeypatch):
    case = generate_case(60, seed=5, days=21).case
    rec = graph_records(case)
    expected = snapshot_frames(rec.vertex_rows(), rec.edge_rows())
    store.batch_size = 50
    real, calls = store._upsert_edges, []

    def dies_on_third_batch(rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise KeyboardInterrupt("power cut")
        real(rows)

    monkeypatch.setattr(store, "_upsert_edges", dies_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        # upserts commit batch by batch, so they can leave a half-loaded store (a bulk load is one transaction)
        store.load_case(case, bulk=False)
    assert store.counts()[1] < len(rec.edges)  # it really stopped part-way
    monkeypatch.setattr(store, "_upsert_edges", real)
    store.load_case(case)
    got = store.snapshot()
    assert got[0].equals(expected[0]) and got[1].equals(expected[1])


def test_ids_with_quotes_backslashes_and_gremlin_are_stored_as_text(store):
    rows = [("2025-08-01 10:00", a, "1.1.1.1", "DE", "SUCCESS", 0, f"dev-{a}") for a in NASTY]
    case = graphfraud.case_from_frames(logins=logins(*rows))
    store.load_case(case)
    v, _ = store.snapshot()
    assert sorted(v.loc[v["label"] == "account", "name"]) == sorted(NASTY)
    assert store.counts() == (len(NASTY) * 2 + 2, len(NASTY) * 3)  # nothing was dropped
    store.load_case(case)
    assert store.counts() == (len(NASTY) * 2 + 2, len(NASTY) * 3)


def test_upserts_are_bytecode_with_the_values_as_arguments():
    backend = connect("gremlite://")
    row = {"gf_id": "account:x'); g.V().drop(); //", "label": "account", "name": "x'); g.V().drop(); //"}
    for build in (backend._coalesce_vertex, backend._merge_vertex):
        bc = build(backend.g, row, 0).bytecode
        args = [a for step in bc.step_instructions for a in step[1:]]
        flat = args + [v for a in args if isinstance(a, dict) for v in a.values()]
        assert row["gf_id"] in flat  # the id travels as a value, never inside script text
    backend.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rings_match_exactly_on_every_store(seed):
    case = generate_case(150, seed=seed, days=21).case
    expected = find_rings(case)
    assert expected.flagged.shape[0] >= 1
    for url in STORES:
        with connect(url) as backend:
            backend.load_case(case)
            got = backend.find_rings(case)
            assert got.rings.equals(expected.rings), url
            assert got.summary.equals(expected.summary), url
            assert backend.activity().equals(entity_activity(case)), url


def test_ring_results_are_written_back_and_stale_ones_cleared(store):
    case = generate_case(150, seed=2, days=21).case
    store.load_case(case)
    res = store.find_rings(case)
    v, _ = store.snapshot()
    members = v[v["ring_id"].notna()] if "ring_id" in v else v.iloc[:0]
    assert sorted(members["name"]) == sorted(res.rings["account_id"])
    flagged = res.flagged.iloc[0]
    row = members[members["ring_id"] == flagged["ring_id"]].iloc[0]
    assert (row["ring_flagged"], row["ring_size"]) == (True, flagged["size"])
    assert row["ring_score"] == pytest.approx(flagged["score"])
    # a run that finds nothing (impossible threshold) must not leave the old ring ids behind
    store.find_rings(case, alpha=1e-300, edge_pvalue=1e-300)
    v, _ = store.snapshot()
    assert "ring_id" not in v or v["ring_id"].isna().all()


def test_gremlite_detects_fold_coalesce_and_persists_to_a_file(tmp_path):
    path = tmp_path / "store.db"
    with connect(f"gremlite://{path}") as backend:
        assert backend.upsert_mode == "fold/coalesce"  # gremlite has no mergeV: found out, not configured
        backend.load_case(tiny_case())
    with connect(f"gremlite://{path}") as backend:
        assert backend.counts() == (10, 10)


def test_transient_errors_are_retried_and_others_are_not(monkeypatch):
    backend = connect("gremlite://", backoff=0.001)
    real, failures = backend._write_batch, []

    def flaky(*args):
        if len(failures) < 2:
            failures.append(1)
            raise RuntimeError("ConcurrentModificationException: Conflict with another transaction")
        return real(*args)

    monkeypatch.setattr(backend, "_write_batch", flaky)
    backend.load_case(tiny_case(), bulk=False)
    assert len(failures) == 2 and backend.counts() == (10, 10)

    def broken(*args):
        failures.append(1)
        raise ValueError("bad step")

    monkeypatch.setattr(backend, "_write_batch", broken)
    before = len(failures)
    with pytest.raises(ValueError):
        backend.load_case(tiny_case(), bulk=False)
    assert len(failures) == before + 1
    assert is_transient(ConnectionError()) and not is_transient(KeyError("x"))


def test_bad_urls_and_missing_folders_say_what_is_wrong(tmp_path):
    with pytest.raises(InputError, match="unknown graph URL"):
        connect("neo4j://x")
    with pytest.raises(InputError, match="does not exist"):
        connect(f"gremlite://{tmp_path}/no/such/folder/store.db")
    with pytest.raises(InputError, match="not to gremlite"):
        GremlinBackend("gremlite://", neptune_iam=True)


def test_edges_before_their_vertices_are_refused(store):
    with pytest.raises(InputError, match="not in the graph"):
        store._upsert_edges([{"gf_id": "USED_IP|account:A|ip:1", "label": "USED_IP", "src": "account:A",
                              "dst": "ip:1"}])


def test_neptune_iam_headers_are_sigv4_for_neptune_db(monkeypatch):
    pytest.importorskip("botocore")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    url = "wss://db.cluster-abc.eu-west-1.neptune.amazonaws.com:8182/gremlin"
    h = neptune_iam_headers(url)
    assert "AWS4-HMAC-SHA256" in h["Authorization"] and "/eu-west-1/neptune-db/" in h["Authorization"]
    assert h["Host"] == "db.cluster-abc.eu-west-1.neptune.amazonaws.com:8182" and "X-Amz-Date" in h


def test_neptune_iam_without_credentials_is_a_clear_error(monkeypatch, tmp_path):
    pytest.importorskip("botocore")
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(GraphFraudError, match="no AWS credentials"):
        neptune_iam_headers("wss://db.eu-west-1.neptune.amazonaws.com:8182/gremlin")


_ids = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
               max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 3 * 24 * 60), _ids, st.sampled_from(["1.1.1.1", "2.2.2.2", None]),
                          st.sampled_from(["SUCCESS", "FAIL"]), st.sampled_from(["d1", "d2", None])),
                min_size=1, max_size=30))
def test_any_logins_round_trip_through_the_in_memory_store(rows):
    lg = logins(*[(str(pd.Timestamp("2025-08-01") + pd.Timedelta(minutes=m)), a, ip, "DE", r, 0, d)
                  for m, a, ip, r, d in rows])
    case = graphfraud.case_from_frames(logins=lg)
    backend = NetworkXBackend()
    backend.load_case(case)
    backend.load_case(case)
    rec = graph_records(case)
    assert backend.counts() == (len(rec.vertices), len(rec.edges))
    camp = detect_campaigns(case)["ip"].tolist()
    assert backend.activity(exclude_ips=camp).equals(entity_activity(case, exclude_ips=camp))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 600), _ids, st.sampled_from(["SUCCESS", "FAIL"])), min_size=1, max_size=8))
def test_any_account_ids_survive_gremlite(rows):
    lg = logins(*[(str(pd.Timestamp("2025-08-01") + pd.Timedelta(minutes=m)), a, "1.1.1.1", "DE", r, 0, "d1")
                  for m, a, r in rows])
    case = graphfraud.case_from_frames(logins=lg)
    rec = graph_records(case)
    with connect("gremlite://") as backend:
        backend.load_case(case)
        got = backend.snapshot()
    expected = snapshot_frames(rec.vertex_rows(), rec.edge_rows())
    assert got[0].equals(expected[0]) and got[1].equals(expected[1])


def test_ring_properties_for_unknown_accounts_are_refused(store):
    store.load_case(tiny_case())
    with pytest.raises(InputError, match="not in the graph"):
        store._set_account_properties([{"gf_id": "account:nobody", "ring_id": "r1"}])


def test_a_store_holding_another_case_is_refused_not_mixed_into_rings(tmp_path):
    a = generate_case(150, seed=1, days=21).case
    b = generate_case(150, seed=2, days=21).case  # the same account ids, other logins
    with connect(f"gremlite://{tmp_path / 'store.db'}") as backend:
        backend.load_case(a)
        backend.find_rings(a)
        backend.load_case(b)
        with pytest.raises(BackendError, match="also holds another case"):
            backend.find_rings(b)
