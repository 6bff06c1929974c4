"""Notebook traversals: the .gremlin files are the Python traversals, and they give the known answers."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest
from gremlin_python.process.translator import Translator

import graphfraud
from graphfraud import queries, traversals as T
from graphfraud.graph.stores import connect
from graphfraud.errors import InputError

from conftest import logins


def test_each_gremlin_file_is_the_rendered_python_traversal():
    assert queries.gremlin_names() == sorted(T.QUERIES)
    for name in T.QUERIES:
        assert queries.gremlin(name) == T.gremlin_text(name), name


def test_placeholders_are_the_function_parameters():
    import inspect

    for name, (build, placeholders) in T.QUERIES.items():
        used = set(re.findall(r"\$\{(\w+)\}", queries.gremlin(name)))
        assert used == set(placeholders), name
        assert used <= set(inspect.signature(build).parameters), name


def test_gremlite_variant_differs_only_in_the_numeric_cap():
    with connect("gremlite://") as store:
        lite = Translator("g").translate(T.build_shared_infrastructure(store.g, "A1", 3).bytecode)
    full = T.gremlin_text("shared_infrastructure", account_id="A1", max_accounts=3)
    assert lite == full.replace("lte(3)", "within([1,2,3])")


def ring_graph():
    rows = []
    t = pd.Timestamp("2025-08-01 10:00")
    for day in range(3):
        for a in ("A1", "A2", "A3"):  # the ring: one device, one IP
            rows.append((str(t + pd.Timedelta(days=day)), a, "1.1.1.1", "DE", "SUCCESS", 0, "d1"))
    rows.append((str(t), "A3", "9.9.9.9", "DE", "SUCCESS", 0, None))  # A4 is two hops from A1
    rows.append((str(t), "A4", "9.9.9.9", "DE", "SUCCESS", 0, None))
    for a in ("A1", "H1", "H2", "H3"):  # a hub: 4 accounts
        rows.append((str(t), a, "8.8.8.8", "DE", "SUCCESS", 0, None))
    for v in ("V1", "V2", "V3"):  # a campaign IP; V1 also let it in
        rows.append((str(t), v, "6.6.6.6", "RU", "FAIL", 0, None))
    rows.append((str(t), "V1", "6.6.6.6", "RU", "SUCCESS", 0, None))
    store = connect("gremlite://")
    store.load_case(graphfraud.case_from_frames(logins=logins(*rows)))
    store.write_rings(SimpleNamespace(
        rings=pd.DataFrame({"ring_id": ["r1"] * 3, "account_id": ["A1", "A2", "A3"]}),
        summary=pd.DataFrame({"ring_id": ["r1"], "score": [0.9], "flagged": [True], "size": [3]})))
    return store


@pytest.fixture(scope="module")
def store():
    s = ring_graph()
    yield s
    s.close()


def test_shared_infrastructure_skips_hubs(store):
    df = T.shared_infrastructure(store.g, "A1", max_accounts=3)
    assert sorted(zip(df["account_id"], df["entity"])) == [
        ("A2", "device:d1"), ("A2", "ip:1.1.1.1"), ("A3", "device:d1"), ("A3", "ip:1.1.1.1")]
    assert set(df["entity_type"]) == {"ip", "device"} and (df["my_logins"] == 3).all()
    wide = T.shared_infrastructure(store.g, "A1", max_accounts=10)
    assert {"H1", "H2", "H3"} <= set(wide["account_id"])
    only_devices = T.shared_infrastructure(store.g, "A1", max_accounts=10, types="device")
    assert set(only_devices["entity"]) == {"device:d1"}


def test_accounts_near_and_ring_expansion_count_hops(store):
    near = T.accounts_near(store.g, "A1", hops=2, max_accounts=3)
    assert dict(zip(near["account_id"], near["hops"])) == {"A2": 1, "A3": 1, "A4": 2}
    assert near.set_index("account_id").loc["A4", "via"] == "ip:9.9.9.9"
    exp = T.ring_expansion(store.g, "r1", hops=1, max_accounts=3)
    assert exp["account_id"].tolist() == ["A4"]
    assert T.ring_expansion(store.g, "r1", hops=1, max_accounts=3, types="device").empty


def test_campaign_victims_and_ring_views(store):
    v = T.campaign_victims(store.g, "6.6.6.6")
    assert v["account_id"].tolist() == ["V1", "V2", "V3"] and v["successes"].tolist() == [1, 0, 0]
    m = T.ring_members(store.g, "r1")
    assert m["account_id"].tolist() == ["A1", "A2", "A3"] and m["ring_flagged"].all()
    infra = T.ring_infrastructure(store.g, "r1")
    assert infra[["entity", "members_with_success", "accounts_with_success", "member_success_logins"]
                 ].values.tolist() == [["device:d1", 3, 3, 9], ["ip:1.1.1.1", 3, 3, 9]]


def test_hostile_values_are_just_values(store):
    before = store.counts()
    assert T.shared_infrastructure(store.g, "x'); g.V().drop(); //").empty
    assert T.ring_members(store.g, "r1') or has('name") .empty
    assert store.counts() == before
    text = T.gremlin_text("ring_members", ring_id="x'); g.V().drop(); //")
    assert "has('account','ring_id',\"x'); g.V().drop(); //\")" in text  # a quoted literal, not code


def test_unknown_names_and_types_are_refused(store):
    with pytest.raises(InputError, match="unknown Gremlin query"):
        T.gremlin_text("nope")
    with pytest.raises(InputError, match="unknown Gremlin query"):
        queries.gremlin("nope")
    with pytest.raises(InputError, match="identifier types"):
        T.shared_infrastructure(store.g, "A1", types=("email",))
