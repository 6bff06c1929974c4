"""graphfraud.aws.lambda_handler: Kinesis batches (partial-batch responses, retries, a failed commit) and
API Gateway REST (payload 1.0) and HTTP API (payload 2.0) requests, with the event shapes of the AWS samples."""

from __future__ import annotations

import base64
import itertools
import json
import sqlite3

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphfraud import aws
from graphfraud.errors import InputError
from graphfraud.realtime import Scorer
from graphfraud.realtime.decision_log import AlertSink, DecisionLog
from graphfraud.realtime.engine import Engine

PROFILES = pd.DataFrame({
    "account_id": ["A1", "A2"], "avg_amount_30d": [100.0, 250.0], "payment_count_30d": [12, 8],
    "last_device_id": ["d1", "d2"], "last_country": ["DE", "FR"], "signup_ts": ["2024-01-01", "2023-06-01"],
    "risk_level": ["LOW", "LOW"]})

BLOCK = {"event_id": "e-block", "event_ts": "2025-09-01 12:00:00", "account_id": "A1", "amount": 6000,
         "device_id": "d1", "country_iso": "DE"}
APPROVE = {"event_id": "e-ok", "event_ts": "2025-09-01 12:01:00", "user_id": "A2", "transaction_amount": 80,
           "device_id": "d2", "location": "FR"}
BAD_AMOUNT = {"event_id": "e-bad", "event_ts": "2025-09-01 12:02:00", "account_id": "A1", "amount": "x"}


def make_engine(tmp_path) -> Engine:
    return Engine(Scorer.from_profiles(PROFILES), DecisionLog(tmp_path / "log.sqlite"),
                  AlertSink(tmp_path / "alerts.jsonl"))


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(tmp_path)
    aws.set_engine(eng)
    yield eng
    aws.reset()


@pytest.fixture(autouse=True)
def _forget_engine():
    yield
    aws.reset()


def alert_lines(tmp_path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --------------------------------------------------------------------------- Kinesis (the AWS sample's shape)


def b64(obj) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def kinesis_record(seq: str, data: str) -> dict:
    return {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": seq, "data": data,
                    "approximateArrivalTimestamp": 1545084650.987},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"shardId-000000000006:{seq}", "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role", "awsRegion": "us-east-2",
        "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"}


SEQ = [f"4959033827149025660855969253836157109592157598913658889{i}" for i in range(5)]


def mixed_batch() -> dict:
    """approve, not base64, invalid amount, block, approve: the two in the middle cannot be scored."""
    second = dict(APPROVE, event_id="e-ok-2", event_ts="2025-09-01 12:04:00")
    data = [b64(APPROVE), "this is not base64!", b64(BAD_AMOUNT), b64(BLOCK), b64(second)]
    return {"Records": [kinesis_record(s, d) for s, d in zip(SEQ, data)]}


def failures(response) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_kinesis_batch_reports_exactly_the_records_that_cannot_be_scored(engine, tmp_path):
    response = aws.lambda_handler(mixed_batch(), None)
    assert set(response) == {"batchItemFailures"}
    assert failures(response) == [SEQ[1], SEQ[2]]
    d = engine.log.decisions().set_index("event_id")
    assert sorted(d.index) == ["e-block", "e-ok", "e-ok-2"]
    assert d.loc["e-block", "decision"] == "BLOCK" and d.loc["e-ok", "decision"] == "APPROVE"
    rej = engine.log.rejected().set_index("source_id")
    assert sorted(rej.index) == [SEQ[1], SEQ[2]]
    assert rej.loc[SEQ[1], "field"] == "event" and "not base64" in rej.loc[SEQ[1], "reason"]
    assert rej.loc[SEQ[1], "payload"] == "this is not base64!"
    assert (rej.loc[SEQ[2], "field"], rej.loc[SEQ[2], "reason"]) == ("amount", "must be a number >= 0, got 'x'")
    assert rej.loc[SEQ[2], "event_id"] == "e-bad"
    assert [(a["alert"], a["event_id"]) for a in alert_lines(tmp_path)] == [("BLOCK", "e-block")]


def test_redelivered_batch_is_answered_from_the_log(engine, tmp_path, monkeypatch):
    first = aws.lambda_handler(mixed_batch(), None)
    scored = []
    real = engine.scorer.score
    monkeypatch.setattr(engine.scorer, "score", lambda ev: scored.append(ev) or real(ev))
    again = aws.lambda_handler(mixed_batch(), None)
    assert again == first
    assert scored == []  # no second count in the velocity state
    assert len(engine.log.decisions()) == 3
    assert len(engine.log.rejected()) == 2  # rejected rows dedupe on the sequence number
    assert len(alert_lines(tmp_path)) == 1


def test_a_failed_commit_reports_every_record_and_the_retry_settles_it(engine, tmp_path, monkeypatch, caplog):
    def broken():
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(engine.log, "commit", broken)
    response = aws.lambda_handler(mixed_batch(), None)
    assert failures(response) == SEQ
    assert "was not stored" in caplog.text and "OperationalError" in caplog.text
    assert engine.log.decisions().empty and alert_lines(tmp_path) == []
    monkeypatch.undo()
    response = aws.lambda_handler(mixed_batch(), None)
    assert failures(response) == [SEQ[1], SEQ[2]]
    d = engine.log.decisions().set_index("event_id")
    assert sorted(d.index) == ["e-block", "e-ok", "e-ok-2"] and d["alerted"].loc["e-block"] == 1
    assert [a["event_id"] for a in alert_lines(tmp_path)] == ["e-block"]  # alerted once, after the commit held
    aws.lambda_handler(mixed_batch(), None)
    assert len(alert_lines(tmp_path)) == 1


def test_an_internal_error_while_scoring_is_a_reported_record(engine, monkeypatch):
    real = engine.scorer.score

    def flaky(ev):
        if ev.event_id == "e-block":
            raise RuntimeError("boom")
        return real(ev)

    monkeypatch.setattr(engine.scorer, "score", flaky)
    response = aws.lambda_handler(mixed_batch(), None)
    assert failures(response) == [SEQ[1], SEQ[2], SEQ[3]]
    rej = engine.log.rejected().set_index("source_id")
    assert rej.loc[SEQ[3], "field"] == "internal" and "RuntimeError: boom" in rej.loc[SEQ[3], "reason"]


@pytest.mark.parametrize("data, reason", [
    (base64.b64encode(b"\xff\xfe\x00").decode(), "not UTF-8"),
    (base64.b64encode(b"{not json").decode(), "not JSON"),
    (b64([1, 2]), "must be a JSON object"),
    (base64.b64encode(b"\xf3\x89\x9a\xc2rest").decode(), "KPL-aggregated"),
    (None, "no base64 'data'"),
])
def test_unreadable_record_data_is_rejected_with_its_reason(engine, data, reason):
    record = kinesis_record(SEQ[0], data)
    if data is None:
        del record["kinesis"]["data"]
    assert failures(aws.lambda_handler({"Records": [record]}, None)) == [SEQ[0]]
    assert reason in engine.log.rejected()["reason"].iloc[0]


def test_a_byte_order_mark_is_not_part_of_the_json(engine):
    data = base64.b64encode(b"\xef\xbb\xbf" + json.dumps(APPROVE).encode()).decode()
    assert aws.lambda_handler({"Records": [kinesis_record(SEQ[0], data)]}, None) == {"batchItemFailures": []}


def test_an_empty_batch_needs_no_engine():
    assert aws.lambda_handler({"Records": []}, None) == {"batchItemFailures": []}


@pytest.mark.parametrize("event", [
    {"foo": 1}, [], None, "text",
    {"Records": [{"eventSource": "aws:sqs", "body": "{}", "messageId": "m1"}]},
    {"Records": [{"eventSource": "aws:kinesis", "kinesis": {"data": "e30="}}]},  # no sequence number
])
def test_other_events_raise_input_error(event):
    with pytest.raises(InputError, match="Kinesis|sequenceNumber") as err:
        aws.lambda_handler(event, None)
    if "sequenceNumber" not in str(err.value):
        assert "API Gateway" in str(err.value)


def test_a_record_the_engine_trips_on_fails_alone(engine, tmp_path, monkeypatch, caplog):
    import graphfraud.realtime.engine as engine_module

    real = engine_module.parse_event

    def tripping(raw, *args):
        if raw.get("event_id") == "e-ok-2":  # not an EventError: escapes decide_many, failing the batch
            raise KeyError("trip")
        return real(raw, *args)

    monkeypatch.setattr(engine_module, "parse_event", tripping)
    response = aws.lambda_handler(mixed_batch(), None)
    assert failures(response) == [SEQ[1], SEQ[2], SEQ[4]]
    rej = engine.log.rejected().set_index("source_id")
    assert rej.loc[SEQ[4], "field"] == "internal" and "KeyError" in rej.loc[SEQ[4], "reason"]
    assert sorted(engine.log.decisions()["event_id"]) == ["e-block", "e-ok"]
    # e-block was waiting for the failed batch's commit: stored by the probe, alerted once after
    assert [a["event_id"] for a in alert_lines(tmp_path)] == ["e-block"]
    assert engine.log.decisions().set_index("event_id")["alerted"].loc["e-block"] == 1
    assert "one by one" in caplog.text


@pytest.mark.parametrize("amount", [10**400, -(10**400), 1e308])
def test_amounts_past_a_double_are_rejected_not_fatal(engine, amount):
    text = json.dumps(dict(BLOCK, event_id="e-huge", amount=amount))
    batch = {"Records": [kinesis_record(SEQ[0], base64.b64encode(text.encode()).decode()),
                         kinesis_record(SEQ[1], b64(APPROVE))]}
    assert failures(aws.lambda_handler(batch, None)) == [SEQ[0]]
    assert engine.log.decisions()["event_id"].tolist() == ["e-ok"]
    rej = engine.log.rejected()
    assert rej["source_id"].tolist() == [SEQ[0]]
    if isinstance(amount, int):  # read as +-inf: the engine names the field
        assert rej["field"].iloc[0] == "amount"


# --------------------------------------------------------------------------- API Gateway (the AWS samples' shapes)


def rest_event(method: str, path: str, body=None, b64_body: bool = False) -> dict:
    """REST API, payload format 1.0; ``path`` is what a custom domain's base path mapping shows."""
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": "id.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "requestContext": {"accountId": "123456789012", "apiId": "id", "domainName": "id.execute-api.us-east-1"
                           ".amazonaws.com", "domainPrefix": "id", "extendedRequestId": "request-id",
                           "httpMethod": method, "identity": {"sourceIp": "192.0.2.1", "userAgent": "user-agent"},
                           "path": "/prod" + path, "protocol": "HTTP/1.1", "requestId": f"rest-{next(_ids)}",
                           "requestTime": "04/Mar/2020:19:15:17 +0000", "requestTimeEpoch": 1583349317135,
                           "resourceId": None, "resourcePath": "/{proxy+}", "stage": "prod"},
        "pathParameters": {"proxy": path.strip("/")}, "stageVariables": None,
        "body": body, "isBase64Encoded": b64_body}


def http_event(method: str, path: str, body=None, b64_body: bool = False) -> dict:
    """HTTP API, payload format 2.0; ``rawPath`` and ``requestContext.http.path`` carry a named stage."""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "cookies": ["cookie1"], "headers": {"content-type": "application/json"},
        "requestContext": {"accountId": "123456789012", "apiId": "api-id", "domainName": "id.execute-api.us-east-1"
                           ".amazonaws.com", "domainPrefix": "id",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "192.0.2.1", "userAgent": "agent"},
                           "requestId": f"http-{next(_ids)}", "routeKey": "$default", "stage": "$default",
                           "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390},
        "body": body, "pathParameters": {}, "isBase64Encoded": b64_body, "stageVariables": {}}


_ids = itertools.count()
SHAPES = pytest.mark.parametrize("shape", [rest_event, http_event], ids=["rest-1.0", "http-2.0"])


def call(shape, method, path, payload=None, raw: str | None = None, b64_body: bool = False):
    body = raw if raw is not None else None if payload is None else json.dumps(payload)
    if b64_body and body is not None:
        body = base64.b64encode(body.encode()).decode()
    response = aws.lambda_handler(shape(method, path, body, b64_body), None)
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["isBase64Encoded"] is False and isinstance(response["body"], str)
    return response["statusCode"], json.loads(response["body"])


@SHAPES
def test_detect_answers_the_decision(engine, shape, tmp_path):
    status, body = call(shape, "POST", "/detect", BLOCK)
    assert status == 200
    assert (body["event_id"], body["decision"], body["score"], body["duplicate"]) == ("e-block", "BLOCK", 100.0,
                                                                                       False)
    assert body["rules"] == ["amount over 5x the 30-day mean", "amount over 5,000"]
    status, body = call(shape, "POST", "/detect", BLOCK)
    assert (status, body["decision"], body["duplicate"]) == (200, "BLOCK", True)
    assert len(alert_lines(tmp_path)) == 1
    status, body = call(shape, "POST", "/detect", APPROVE)
    assert (status, body["decision"], body["rules"]) == (200, "APPROVE", [])


@SHAPES
def test_detect_rejects_an_invalid_event_with_422(engine, shape):
    status, body = call(shape, "POST", "/detect", BAD_AMOUNT)
    assert status == 422
    assert body == {"detail": [{"loc": ["body", "amount"], "msg": "must be a number >= 0, got 'x'",
                                "type": "value_error"}]}
    rej = engine.log.rejected()
    assert rej["event_id"].tolist() == ["e-bad"] and rej["source_id"].iloc[0].startswith(("rest-", "http-"))
    status, body = call(shape, "POST", "/detect", [BLOCK])
    assert status == 422 and body["detail"][0]["loc"] == ["body"]
    assert "must be a JSON object" in body["detail"][0]["msg"]


@SHAPES
@pytest.mark.parametrize("raw, b64_body", [("{not json", False), ("", False), ("%%%", True)])
def test_detect_rejects_a_body_that_is_not_json(engine, shape, raw, b64_body):
    event = shape("POST", "/detect", raw, b64_body)
    response = aws.lambda_handler(event, None)
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["detail"][0]["loc"] == ["body"]
    assert engine.log.decisions().empty
    rej = engine.log.rejected()  # kept, with the request id, like any event that cannot be scored
    assert rej["field"].tolist() == ["event"] and rej["source_id"].iloc[0] == event["requestContext"]["requestId"]


@SHAPES
def test_a_base64_body_is_decoded(engine, shape):
    status, body = call(shape, "POST", "/detect", BLOCK, b64_body=True)
    assert (status, body["decision"]) == (200, "BLOCK")


@SHAPES
@pytest.mark.parametrize("path", ["/prod/detect", "/fraud/v1/detect/", "/detect"])
def test_a_stage_or_base_path_prefix_still_routes(engine, shape, path):
    status, body = call(shape, "POST", path, APPROVE)
    assert (status, body["decision"]) == (200, "APPROVE")


@SHAPES
@pytest.mark.parametrize("wrap", [lambda evs: evs, lambda evs: {"events": evs}], ids=["list", "object"])
def test_detect_batch(engine, shape, wrap):
    status, body = call(shape, "POST", "/prod/detect/batch", wrap([APPROVE, BAD_AMOUNT, BLOCK, BLOCK]))
    assert status == 200
    assert (body["accepted"], body["rejected"]) == (3, 1)
    d = body["decisions"]
    assert [x.get("decision") for x in d] == ["APPROVE", None, "BLOCK", "BLOCK"]
    assert d[1] == {"event_id": "e-bad", "rejected": True, "field": "amount",
                    "reason": "must be a number >= 0, got 'x'"}
    assert [x.get("duplicate") for x in d] == [False, None, False, True]


@SHAPES
@pytest.mark.parametrize("payload, msg", [({"event": BLOCK}, "got dict"), ({"events": 3}, "got int"),
                                          (BLOCK, "got dict")])
def test_detect_batch_rejects_what_is_not_a_batch(engine, shape, payload, msg):
    status, body = call(shape, "POST", "/detect/batch", payload)
    assert status == 422 and body["detail"][0]["loc"] == ["body"] and msg in body["detail"][0]["msg"]
    assert engine.log.decisions().empty and engine.log.rejected().empty


@SHAPES
def test_detect_batch_takes_at_most_max_batch_events(engine, shape):
    status, body = call(shape, "POST", "/detect/batch", [{}] * (aws.MAX_BATCH + 1))
    assert status == 413 and "at most 10000 events" in body["detail"]
    assert engine.log.rejected().empty


@SHAPES
def test_health_and_rules(engine, shape):
    status, body = call(shape, "GET", "/prod/health")
    assert status == 200 and body["status"] == "ok" and body["ruleset"] == engine.scorer.version
    assert body["profiles"] == 2 and body["rules_reload_error"] is None
    assert body["log"] == {"decisions": 0, "APPROVE": 0, "REVIEW": 0, "BLOCK": 0, "rejected": 0}
    status, body = call(shape, "GET", "/rules")
    assert status == 200 and body["version"] == engine.scorer.version and body["path"] is None
    assert body["rules"] == json.loads(json.dumps(engine.scorer.ruleset.to_dict()["rules"]))


@SHAPES
@pytest.mark.parametrize("method, path, status, allow", [
    ("GET", "/nope", 404, None), ("POST", "/detectx", 404, None), ("GET", "/", 404, None),
    ("GET", "/detect", 405, "POST"), ("PUT", "/detect/batch", 405, "POST"), ("POST", "/health", 405, "GET"),
    ("DELETE", "/rules", 405, "GET")])
def test_unknown_routes_and_wrong_methods(engine, shape, method, path, status, allow):
    response = aws.lambda_handler(shape(method, path, None), None)
    assert response["statusCode"] == status
    assert response["headers"].get("Allow") == allow


@SHAPES
def test_internal_errors_are_500_without_a_traceback(engine, shape, monkeypatch, caplog):
    monkeypatch.setattr(engine.scorer, "score", lambda ev: 1 / 0)
    status, body = call(shape, "POST", "/detect", BLOCK)
    assert status == 500 and body["detail"].startswith("internal error: ZeroDivisionError")
    monkeypatch.undo()

    def broken():
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(engine.log, "commit", broken)
    response = aws.lambda_handler(shape("POST", "/detect", json.dumps(APPROVE)), None)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"detail": "internal error: OperationalError: disk I/O error"}
    assert "Traceback" not in response["body"] and "Traceback" in caplog.text


# --------------------------------------------------------------------------- configuration from the environment


@pytest.fixture
def lambda_env(tmp_path, monkeypatch):
    for name in ["GRAPHFRAUD_FROM", "GRAPHFRAUD_CASE", "GRAPHFRAUD_RULES", "GRAPHFRAUD_WEBHOOK", "GRAPHFRAUD_WARM"]:
        monkeypatch.delenv(name, raising=False)
    PROFILES.to_csv(tmp_path / "profiles.csv", index=False)
    monkeypatch.setenv("GRAPHFRAUD_PROFILES", str(tmp_path / "profiles.csv"))
    monkeypatch.setenv("GRAPHFRAUD_LOG", f"sqlite:///{tmp_path / 'env-log.sqlite'}")
    monkeypatch.setenv("GRAPHFRAUD_ALERTS", str(tmp_path / "env-alerts.jsonl"))
    aws.reset()
    return tmp_path


def test_engine_from_environment_variables(lambda_env):
    response = aws.lambda_handler({"Records": [kinesis_record(SEQ[0], b64(BLOCK))]}, None)
    assert response == {"batchItemFailures": []}
    engine = aws.get_engine()
    assert engine is aws.get_engine()  # built once per execution environment
    assert engine.log.path == str(lambda_env / "env-log.sqlite")
    assert (lambda_env / "env-log.sqlite").exists()
    assert [json.loads(x)["event_id"] for x in (lambda_env / "env-alerts.jsonl").read_text().splitlines()] == \
        ["e-block"]
    status, body = call(http_event, "POST", "/detect", BLOCK)
    assert (status, body["duplicate"]) == (200, True)
    aws.reset()  # a new environment reads the same log file: the decision is still there
    assert aws.get_engine() is not engine and aws.get_engine().log.get("e-block").decision == "BLOCK"


def test_a_missing_configuration_raises_for_kinesis_and_is_500_over_http(lambda_env, monkeypatch):
    monkeypatch.delenv("GRAPHFRAUD_PROFILES")
    with pytest.raises(InputError, match="GRAPHFRAUD_FROM .* GRAPHFRAUD_PROFILES"):
        aws.lambda_handler({"Records": [kinesis_record(SEQ[0], b64(BLOCK))]}, None)
    status, body = call(rest_event, "GET", "/health")
    assert status == 500 and "GRAPHFRAUD_PROFILES" in body["detail"]


@pytest.mark.parametrize("env, match", [
    ({"GRAPHFRAUD_FROM": "x", "GRAPHFRAUD_PROFILES": "y"}, "not both"),
    ({"GRAPHFRAUD_FROM": "out", "GRAPHFRAUD_WARM": "soon"}, "GRAPHFRAUD_WARM"),
    ({"GRAPHFRAUD_PROFILES": "/nonexistent/p.csv"}, "does not exist")])
def test_bad_settings_name_the_variable(env, match):
    with pytest.raises(InputError, match=match):
        aws.engine_from_env(env)


def test_alerts_none_turns_the_file_off(lambda_env, monkeypatch):
    monkeypatch.setenv("GRAPHFRAUD_ALERTS", "none")
    assert aws.get_engine().alerts is None


# --------------------------------------------------------------------------- property: nothing is skipped

_seq = itertools.count(10**20)
_engines: dict = {}
_event = st.fixed_dictionaries(
    {"event_id": st.sampled_from(["p1", "p2", "p3"]) | st.text(max_size=5),
     "account_id": st.sampled_from(["A1", "A2", "NEW"]),
     "amount": st.integers(0, 10_000) | st.floats(0, 1e6) | st.none() | st.floats() | st.text(max_size=3)
     | st.integers(10**300, 10**500)})
_data = st.one_of(
    st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),  # random bytes, as Kinesis carries them
    st.text(max_size=20),  # not base64 at all, most of the time
    _event.map(b64),  # JSON events, valid or not
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                 lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
                 max_leaves=6).map(b64))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_data, max_size=6))
def test_any_record_data_is_decided_or_reported(tmp_path, data):
    if tmp_path not in _engines:  # one engine across the examples, as one execution environment
        _engines[tmp_path] = make_engine(tmp_path)
        aws.set_engine(_engines[tmp_path])
    engine = _engines[tmp_path]
    seqs = [str(next(_seq)) for _ in data]
    response = aws.lambda_handler({"Records": [kinesis_record(s, d) for s, d in zip(seqs, data)]}, None)
    failed = set(failures(response))
    assert failed <= set(seqs)
    rejected = set(engine.log.rejected()["source_id"])
    decided = set(engine.log.decisions()["event_id"])
    for seq, d in zip(seqs, data):
        if seq in failed:
            assert seq in rejected
        else:  # acknowledged: it was an event, and its decision is stored
            event = json.loads(base64.b64decode(d, validate=True))
            assert str(event.get("event_id", "")).strip() in decided
