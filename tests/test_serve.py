"""The HTTP service (graphfraud.realtime.service) through FastAPI's TestClient, with known answers.

The engine is built by hand: two profiles, a SQLite log and an alert file in
tmp_path, and a rules file the tests rewrite to check reloading.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import warnings

import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the HTTP service needs the serve extra: pip install 'graphfraud[serve]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

with warnings.catch_warnings():  # starlette's notice that it will move to httpx2 is about the test client, not us
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient  # noqa: E402

from graphfraud.errors import InputError  # noqa: E402
from graphfraud.realtime import service  # noqa: E402
from graphfraud.realtime.decision_log import AlertSink, DecisionLog  # noqa: E402
from graphfraud.realtime.engine import Engine  # noqa: E402
from graphfraud.realtime.events import ALIASES, EVENT_FIELDS  # noqa: E402
from graphfraud.realtime.ruleset import load_ruleset  # noqa: E402
from graphfraud.realtime.scorer import Scorer  # noqa: E402

PROFILES = pd.DataFrame({"account_id": ["A1", "A2"], "avg_amount_30d": [100.0, 200.0], "payment_count_30d": [3, 10],
                         "last_device_id": ["d1", "d2"], "last_country": ["DE", "FR"],
                         "signup_ts": ["2024-01-01", "2023-01-01"], "risk_level": ["LOW", "LOW"]})
TS = "2025-09-01 12:00:00"
FIVE_X, OVER_5000, COUNTRY = "amount over 5x the 30-day mean", "amount over 5,000", "country differs from the last one"


def rules(five_x: float = 80, over_5000: float = 60, country: float = 50) -> dict:
    return {"name": "house", "rules": [
        {"name": FIVE_X, "when": [["amount_to_avg_30d", ">", 5]], "action": "decline payment", "points": five_x},
        {"name": OVER_5000, "when": [["amount_usd", ">", 5000]], "action": "hold payments for review",
         "points": over_5000},
        {"name": COUNTRY, "when": [["country_changed", "==", True]], "action": "MFA step-up", "points": country}]}


def write(path, content) -> None:
    """Rewrite a rules file and move its mtime on, as an editor saving it later would."""
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    later = time.time_ns() + 5 * 10**9
    os.utime(path, ns=(later, later))


def event(event_id: str, account: str = "A1", amount=50.0, **more) -> dict:
    return {"event_id": event_id, "event_ts": TS, "account_id": account, "amount": amount, **more}


@pytest.fixture()
def rules_path(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules()), encoding="utf-8")
    return path


@pytest.fixture()
def engine(tmp_path, rules_path):
    scorer = Scorer.from_profiles(PROFILES, rules=rules_path)  # Engine watches the file; it does not read it first
    eng = Engine(scorer, DecisionLog(tmp_path / "log.sqlite"), AlertSink(tmp_path / "alerts.jsonl"),
                 rules_path=rules_path)
    yield eng
    eng.log.close()


@pytest.fixture()
def client(engine):
    return TestClient(service.create_app(engine))


def alert_lines(tmp_path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


# ---------------------------------------------------------------------------------------------- /detect


def test_block_with_both_amount_rules(client, engine, tmp_path):
    r = client.post("/detect", json=event("b1", amount=6000, device_id="d1", country_iso="DE"))
    assert r.status_code == 200
    d = r.json()
    assert set(d) == {"event_id", "score", "decision", "rules", "reasons", "ruleset_version", "scored_at",
                      "latency_us", "account_id", "event_ts", "event_type", "duplicate"}
    assert (d["decision"], d["score"], d["rules"]) == ("BLOCK", 100.0, [FIVE_X, OVER_5000])
    assert d["reasons"][0].startswith(f"{FIVE_X} (+80): amount / 30-day mean 60 > 5 (amount 6,000 USD")
    assert (d["event_id"], d["account_id"], d["event_ts"], d["event_type"]) == ("b1", "A1", TS, "payment")
    assert d["ruleset_version"] == engine.scorer.version == load_ruleset(engine.rules_path).version
    assert d["duplicate"] is False
    assert [(a["alert"], a["event_id"]) for a in alert_lines(tmp_path)] == [("BLOCK", "b1")]


def test_approve(client, tmp_path):
    d = client.post("/detect", json=event("a1", account="A2", amount=150, country_iso="FR")).json()
    assert (d["decision"], d["score"], d["rules"], d["reasons"]) == ("APPROVE", 0.0, [], [])
    assert alert_lines(tmp_path) == []


def test_gateway_aliases(client):
    r = client.post("/detect", json={"event_id": "g1", "event_ts": TS, "user_id": "A2", "transaction_amount": "150",
                                     "ip_address": "198.51.100.7", "location": "de"})
    d = r.json()
    # location DE against A2's last country FR: the alias reached the country rule
    assert (r.status_code, d["account_id"], d["decision"], d["rules"]) == (200, "A2", "REVIEW", [COUNTRY])
    r = client.post("/detect", json={"event_id": "g2", "user_id": "A2", "transaction_amount": 1, "ip": "1.1.1.1",
                                     "ip_address": "2.2.2.2"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "ip_address"]


def test_repeated_event_id_returns_the_stored_decision_and_alerts_once(client, engine, tmp_path):
    first = client.post("/detect", json=event("dup", amount=6000)).json()
    again = client.post("/detect", json=event("dup", amount=6000)).json()
    assert again["duplicate"] is True and first["duplicate"] is False
    assert {k: v for k, v in again.items() if k != "duplicate"} == {k: v for k, v in first.items() if k != "duplicate"}
    assert len(alert_lines(tmp_path)) == 1
    assert engine.log.counts()["decisions"] == 1


def test_invalid_amount_is_422_naming_the_field_and_kept(client, engine):
    r = client.post("/detect", json=event("bad1", amount="abc"))
    assert r.status_code == 422
    assert r.json() == {"detail": [{"loc": ["body", "amount"], "msg": "must be a number >= 0, got 'abc'",
                                    "type": "value_error"}]}
    rej = engine.log.rejected()
    assert rej[["event_id", "field", "reason"]].values.tolist() == [["bad1", "amount",
                                                                     "must be a number >= 0, got 'abc'"]]
    assert json.loads(rej["payload"][0])["amount"] == "abc"


def test_missing_event_id_is_422(client):
    r = client.post("/detect", json={"account_id": "A1", "amount": 5})
    assert r.status_code == 422
    (item,) = r.json()["detail"]
    assert item["loc"] == ["body", "event_id"] and item["msg"].startswith("is required")


@pytest.mark.parametrize("body, words", [(b"{not json", "not valid JSON"), (b"", "not valid JSON"),
                                         (b"\xff\xfe", "not valid JSON"), (b"[1, 2]", "must be a JSON object"),
                                         (b'"text"', "must be a JSON object")])
def test_body_not_a_json_object_is_422(client, engine, body, words):
    r = client.post("/detect", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    (item,) = r.json()["detail"]
    assert item["loc"] == ["body"] and words in item["msg"]
    assert engine.log.rejected()["field"].tolist() == ["event"]


def test_huge_integer_amount_is_422(client):
    r = client.post("/detect", content=b'{"event_id": "big", "account_id": "A1", "amount": 1' + b"0" * 400 + b"}")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "amount"]


def test_decision_is_durable_before_the_answer(client, tmp_path):
    d = client.post("/detect", json=event("dur", amount=6000)).json()
    client.post("/detect", json=event("dur-bad", amount=-1))
    with sqlite3.connect(tmp_path / "log.sqlite") as conn:  # a new connection: only committed rows are visible
        row = conn.execute("SELECT decision, score, ruleset_version, rules FROM decisions WHERE event_id = 'dur'"
                           ).fetchone()
        rej = conn.execute("SELECT event_id, field FROM rejected").fetchall()
    assert row == (d["decision"], d["score"], d["ruleset_version"], json.dumps(d["rules"]))
    assert rej == [("dur-bad", "amount")]


def test_unexpected_error_is_a_json_500_without_traceback(engine, monkeypatch):
    client = TestClient(service.create_app(engine), raise_server_exceptions=False)
    monkeypatch.setattr(engine, "decide", lambda raw: (_ for _ in ()).throw(RuntimeError("disk on fire")))
    r = client.post("/detect", json=event("x"))
    assert (r.status_code, r.json()) == (500, {"detail": "internal error: RuntimeError: disk on fire"})
    assert "Traceback" not in r.text
    assert client.get("/nowhere").json() == {"detail": "Not Found"}


def test_fast_dict_is_the_outcomes_to_dict(engine):
    outs = engine.decide_many([event("f1", amount=6000), event("f1", amount=6000), event("f2", amount=-1)])
    assert [service._outcome_dict(o) for o in outs] == [o.to_dict() for o in outs]


# ---------------------------------------------------------------------------------------------- /detect/batch


def test_batch_keeps_order_and_the_good_events_around_a_bad_one(client, engine):
    body = [event("k1", account="A2", amount=150, country_iso="FR"), event("k2", amount=-5),
            event("k3", amount=6000)]
    r = client.post("/detect/batch", json=body)
    assert r.status_code == 200
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (2, 1)
    assert [d["event_id"] for d in out["decisions"]] == ["k1", "k2", "k3"]
    assert [d.get("decision") for d in out["decisions"]] == ["APPROVE", None, "BLOCK"]
    assert out["decisions"][1] == {"event_id": "k2", "rejected": True, "field": "amount",
                                   "reason": "must be a finite number >= 0, got -5"}
    assert engine.log.counts() == {"decisions": 2, "APPROVE": 1, "REVIEW": 0, "BLOCK": 1, "rejected": 1}
    again = client.post("/detect/batch", json={"events": body}).json()
    assert [d.get("duplicate") for d in again["decisions"]] == [True, None, True]


def test_batch_in_chunks_keeps_order(client, engine, monkeypatch):
    monkeypatch.setattr(service, "_CHUNK", 2)
    out = client.post("/detect/batch", json=[event(f"c{i}", amount=10 * i) for i in range(5)]).json()
    assert [d["event_id"] for d in out["decisions"]] == [f"c{i}" for i in range(5)]
    assert engine.log.counts()["decisions"] == 5


def test_batch_limit(client, monkeypatch):
    r = client.post("/detect/batch", json=[{}] * (service.MAX_BATCH + 1))
    assert r.status_code == 413 and "at most 10000 events" in r.json()["detail"]
    monkeypatch.setattr(service, "MAX_BATCH", 3)
    assert client.post("/detect/batch", json=[event(f"l{i}") for i in range(3)]).status_code == 200
    assert client.post("/detect/batch", json={"events": [event(f"m{i}") for i in range(4)]}).status_code == 413


@pytest.mark.parametrize("body", [b"nope", b'{"event_id": "e1"}', b'{"events": 5}', b"7"])
def test_batch_body_not_a_list_is_422(client, body):
    r = client.post("/detect/batch", content=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]


def test_empty_batch(client):
    assert client.post("/detect/batch", json=[]).json() == {"decisions": [], "accepted": 0, "rejected": 0}


# ---------------------------------------------------------------------------------------------- health and rules


def test_health(client, engine):
    client.post("/detect", json=event("h1", amount=6000))
    client.post("/detect", json=event("h2", amount="x"))
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["rules_reload_error"] is None
    assert (h["profiles"], h["ruleset"], h["rules"], h["mode"]) == (2, engine.scorer.version, 3, "all")
    assert h["log"] == {"decisions": 1, "APPROVE": 0, "REVIEW": 0, "BLOCK": 1, "rejected": 1}


def test_rules(client, engine, rules_path):
    r = client.get("/rules").json()
    assert r["version"] == engine.scorer.version and r["version"].startswith("house@")
    assert (r["mode"], r["block"], r["review"], r["cap"], r["path"]) == ("all", 80, 50, 100, str(rules_path))
    assert [x["name"] for x in r["rules"]] == [FIVE_X, OVER_5000, COUNTRY]
    assert r["rules"][0]["points"] == 80


def test_rules_reload_when_the_file_changes(client, engine, rules_path):
    v1 = client.post("/detect", json=event("r1")).json()["ruleset_version"]
    write(rules_path, rules(five_x=10, over_5000=50))
    v2 = load_ruleset(rules_path).version
    assert v2 != v1
    time.sleep(1.05)  # the engine looks at the file at most once a second
    d = client.post("/detect", json=event("r2", account="A2", amount=6000, country_iso="FR")).json()
    assert (d["ruleset_version"], d["decision"], d["score"]) == (v2, "REVIEW", 60.0)  # was BLOCK (100)
    assert client.get("/rules").json()["version"] == v2


def test_broken_rules_file_keeps_the_old_rules(client, engine, rules_path):
    v1 = engine.scorer.version
    write(rules_path, "{not json")
    r = client.post("/rules/reload")
    assert r.status_code == 422
    assert "is not valid JSON" in r.json()["detail"] and f"still using {v1}" in r.json()["detail"]
    assert client.get("/health").json()["rules_reload_error"] == r.json()["detail"]
    assert client.post("/detect", json=event("o1")).json()["ruleset_version"] == v1
    # a name that is a list gets past the rules parser as a TypeError: still no 500, old rules kept
    write(rules_path, {"rules": [{"name": ["x"], "when": []}]})
    r = client.post("/rules/reload")
    assert r.status_code == 422 and "TypeError" in r.json()["detail"]
    time.sleep(1.05)
    assert client.post("/detect", json=event("o2")).json()["ruleset_version"] == v1
    write(rules_path, rules(country=20))
    r = client.post("/rules/reload")
    assert r.status_code == 200 and r.json()["version"] == load_ruleset(rules_path).version != v1
    assert client.get("/health").json()["rules_reload_error"] is None


def test_reload_without_a_rules_file_is_409(tmp_path):
    eng = Engine(Scorer.from_profiles(PROFILES), DecisionLog(":memory:"))
    r = TestClient(service.create_app(eng)).post("/rules/reload")
    assert r.status_code == 409 and "no rules file" in r.json()["detail"]


# ---------------------------------------------------------------------------------------------- schema


def test_openapi_documents_the_event_and_the_decision(client):
    spec = client.get("/openapi.json").json()
    assert {"/detect", "/detect/batch", "/health", "/rules", "/rules/reload"} <= set(spec["paths"])
    detect = spec["paths"]["/detect"]["post"]
    assert detect["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Event"}
    assert set(detect["responses"]) >= {"200", "422", "500"}
    schemas = spec["components"]["schemas"]
    ev = schemas["Event"]
    assert set(ev["properties"]) == set(EVENT_FIELDS) | set(ALIASES)
    assert not ev.get("required") and ev["additionalProperties"] is True
    assert "Required." in ev["properties"]["event_id"]["description"]
    assert "duplicate" in schemas["Decision"]["properties"]
    assert client.get("/docs").status_code == 200


# ---------------------------------------------------------------------------------------------- never a 500

_TS = (st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=12)
       | st.sampled_from([TS, "2025-09-01T12:00:05Z", "2025-13-45", "1500-01-01", "yesterday", ""]))
_AMOUNT = (st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8)
           | st.sampled_from(["12.50", "-1", "NaN", "inf", "1e400", 1.7e308, 10**400]))
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=3), max_leaves=6)
_TEXT_ID = st.text(max_size=12) | st.integers() | st.sampled_from(["A1", "A2"]) | _JSON
_EVENTS = st.fixed_dictionaries({}, optional={
    "event_id": _TEXT_ID, "account_id": _TEXT_ID, "user_id": _TEXT_ID, "event_ts": _TS, "amount": _AMOUNT,
    "transaction_amount": _AMOUNT, "event_type": st.sampled_from(["payment", "login", "LOGIN", "x"]) | _JSON,
    "currency": st.sampled_from(["USD", "usd", "EUR", "ZZZ"]) | _JSON, "ip": _JSON, "ip_address": _JSON,
    "device_id": _JSON, "country_iso": _JSON, "location": st.sampled_from(["DE", "fr", "DEU"]) | _JSON,
    "merchant_id": _JSON}).flatmap(lambda d: st.dictionaries(st.text(max_size=6), _JSON, max_size=3).map(
        lambda extra: {**extra, **d}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_EVENTS)
def test_random_json_objects_never_give_500(client, body):
    r = client.post("/detect", content=json.dumps(body).encode())  # json.dumps sends NaN/Infinity too
    assert r.status_code in (200, 422), r.text
    assert isinstance(r.json(), dict)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=40) | st.lists(_EVENTS, max_size=3).map(lambda x: json.dumps(x).encode()))
def test_random_bodies_never_give_500(client, body):
    assert client.post("/detect", content=body).status_code in (200, 422)
    assert client.post("/detect/batch", content=body).status_code in (200, 422)


@pytest.mark.parametrize("more", [{"event_ts": "1500-01-01"}, {"event_ts": 1e11}])
def test_time_out_of_range_is_422_and_spares_the_batch(client, more):
    r = client.post("/detect/batch", json=[event("ok1"), event("bad", **more), event("ok2")])
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert r.json()["decisions"][1]["field"] == "event_ts"
    assert client.post("/detect", json=event("bad2", **more)).json()["detail"][0]["loc"] == ["body", "event_ts"]


def test_amount_near_the_float_limit_is_422(client):
    r = client.post("/detect", json=event("huge", amount=1.7e308))  # cents would overflow: refused, not a 500
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "amount"]


# ---------------------------------------------------------------------------------------------- running


def test_service_imports_without_fastapi():
    code = ("import sys; sys.modules['fastapi'] = None; sys.modules['uvicorn'] = None\n"
            "import graphfraud.realtime, graphfraud.realtime.service as s\n"
            "from graphfraud.errors import InputError\n"
            "try:\n    s.create_app(None)\nexcept InputError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'graphfraud[serve]'" in out.stdout


def test_app_from_env(tmp_path, monkeypatch, rules_path):
    PROFILES.to_csv(tmp_path / "profiles.csv", index=False)
    config = {"profiles": str(tmp_path / "profiles.csv"), "rules": str(rules_path), "log": str(tmp_path / "env.sqlite"),
              "alerts": None, "warm": None}
    monkeypatch.setenv(service.CONFIG_ENV, json.dumps(config))
    with TestClient(service.app_from_env()) as client:  # the context runs the lifespan: the log closes at exit
        assert client.post("/detect", json=event("env1", amount=6000)).json()["decision"] == "BLOCK"
    with sqlite3.connect(tmp_path / "env.sqlite") as conn:
        assert conn.execute("SELECT decision FROM decisions").fetchall() == [("BLOCK",)]
    monkeypatch.setenv(service.CONFIG_ENV, json.dumps({**config, "colour": "red"}))
    with pytest.raises(InputError, match="unknown configuration key"):
        service.app_from_env()
    monkeypatch.delenv(service.CONFIG_ENV)
    with pytest.raises(InputError, match="is not set"):
        service.app_from_env()


def test_serve_runs_uvicorn(tmp_path, monkeypatch):
    import uvicorn

    PROFILES.to_csv(tmp_path / "profiles.csv", index=False)
    config = {"profiles": str(tmp_path / "profiles.csv"), "log": str(tmp_path / "s.sqlite"), "alerts": None}
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.delenv(service.CONFIG_ENV, raising=False)
    service.serve(config, port=8123)
    app, kw = calls[-1]
    assert type(app).__name__ == "FastAPI" and kw["port"] == 8123 and "workers" not in kw
    service.serve(config, workers=3)
    app, kw = calls[-1]
    assert app == "graphfraud.realtime.service:app_from_env" and kw["factory"] is True and kw["workers"] == 3
    assert json.loads(os.environ[service.CONFIG_ENV]) == config
    with pytest.raises(InputError, match="must be a file"):
        service.serve({**config, "log": ":memory:"}, workers=2)
    with pytest.raises(InputError, match="workers"):
        service.serve(config, workers=0)
    with pytest.raises(InputError, match="unknown configuration key"):
        service.serve({**config, "port": 1})
