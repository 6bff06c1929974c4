"""AWS Lambda entry point: ``graphfraud.aws.lambda_handler`` scores Kinesis batches and API Gateway requests.

Set the function's handler to ``graphfraud.aws.lambda_handler``. It takes two
event shapes and answers each the way its caller expects:

- **Kinesis Data Streams** (``Records`` whose ``eventSource`` is ``aws:kinesis``):
  each record's ``kinesis.data`` is the base64 of one JSON event (see
  :mod:`graphfraud.realtime.events`). The whole batch is decided with one commit
  and the answer is the partial-batch response
  ``{"batchItemFailures": [{"itemIdentifier": "<sequenceNumber>"}, ...]}``; turn
  on ``ReportBatchItemFailures`` in the event source mapping's
  ``FunctionResponseTypes``, or Lambda ignores it.
- **API Gateway proxy events**, REST API (payload 1.0: ``httpMethod``, ``path``)
  and HTTP API (payload 2.0: ``version`` ``"2.0"``, ``requestContext.http``):

  ========================  ======================================================================
  ``POST /detect``          one event -> 200 and its decision (``duplicate: true`` for an event id
                            decided before); an invalid event -> 422
  ``POST /detect/batch``    a list of events or ``{"events": [...]}``, at most 10,000 (else 413)
                            -> 200 ``{"decisions": [...], "accepted": n, "rejected": m}``, one
                            decision or rejection per event in input order
  ``GET /health``           200: the scorer, the decision log's counts, the last rules reload error
  ``GET /rules``            200: the ruleset in use and its version
  ========================  ======================================================================

  The bodies are those of the HTTP service (:mod:`graphfraud.realtime.service`).
  Routes match on the end of the path, so a stage prefix (``/prod/detect``) or a
  custom domain's base path (``/fraud/detect``) needs no configuration. A body
  that is not JSON (base64 bodies are decoded), or an invalid event, is 422 with
  ``{"detail": [{"loc": ["body", field], "msg": reason, "type": "value_error"}]}``
  and is kept in the log's ``rejected`` table (``source_id``: the request id); an
  unknown path is 404, a wrong method 405, anything else 500 with
  ``{"detail": "internal error: ..."}`` and the traceback in the function's log
  only.

Anything else raises :class:`~graphfraud.errors.InputError`.

Failure policy for Kinesis
--------------------------
- A record that cannot be scored (not base64, not UTF-8, not JSON, not an
  object, an invalid field, an internal error while scoring it) is stored in
  the decision log's ``rejected`` table with its reason (``source_id`` is the
  sequence number, so a retry adds no second row), written to the function's log,
  *and* reported in ``batchItemFailures``. It is never skipped silently: Lambda
  retries from the lowest failed sequence number and, after the mapping's
  ``MaximumRetryAttempts`` (or ``MaximumRecordAgeInSeconds``), sends it to the
  on-failure destination. Set both, and a destination: with the defaults (retry
  until the record expires) one bad record holds its shard back until then.
- Records after it that Lambda delivers again are answered from the decision log
  by ``event_id``: no second score, no second alert, no second count in the
  velocity state.
- If the batch's commit fails (the SQLite file cannot be written, the disk is
  full), nothing was acknowledged: *every* record of the batch is reported, the
  error is logged with its traceback, and the handler returns normally. The
  decisions that were waiting for that commit are stored by the next commit that
  succeeds, and their alerts are sent then.
- If the batch fails for another reason while the log still commits (a record
  the engine trips on instead of rejecting it), its records are decided one by
  one, so that only the record at fault fails, stored as an internal error.
- A configuration problem (no profiles, a ruleset that does not load) raises, so
  the invocation counts as a function error and the batch is retried.

Configuration (environment variables)
-------------------------------------
``GRAPHFRAUD_FROM``
    an ``analyze`` output folder packaged with the function (a relative path is
    relative to the working directory, ``/var/task``, where the package lies); or
``GRAPHFRAUD_PROFILES``
    a profile table, CSV or Parquet (exactly one of the two).
``GRAPHFRAUD_CASE``
    the case to read instead of the one the analysis recorded (needed with
    ``GRAPHFRAUD_FROM`` whenever that path does not exist inside Lambda).
``GRAPHFRAUD_RULES``
    a ruleset file (JSON or YAML) instead of the default rules.
``GRAPHFRAUD_LOG``
    the decision log, default ``sqlite:////tmp/graphfraud_decisions.sqlite``:
    ``/tmp`` is the only writable place in Lambda, but it belongs to one execution
    environment and goes when the environment does. Only invocations that land in
    the same environment see each other's decisions, so a retry handled by
    another environment is scored again. For a durable log shared by retries,
    point it at a mounted EFS path; SQLite's WAL mode works only when every
    writer is on one host, so keep such a function at one environment at a time
    (reserved concurrency 1).
``GRAPHFRAUD_ALERTS``
    the alert file (JSON lines), default ``/tmp/graphfraud_alerts.jsonl``;
    ``none`` for no file.
``GRAPHFRAUD_WEBHOOK``
    an http(s) URL to POST each alert to. Lambda freezes the environment once the
    handler returns, so the handler waits (at most 10 s, never past the
    invocation's deadline) for the posts of its batch.
``GRAPHFRAUD_WARM``
    how much of the case's last activity to replay into the velocity state,
    default ``6h``; ``none`` starts cold. Only used with ``GRAPHFRAUD_FROM``.

The engine is built on the first invocation of an execution environment and
reused by the ones after it; its velocity state is that environment's.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading

from .errors import InputError
from .realtime.engine import Engine, Unreadable, build_engine

__all__ = ["lambda_handler", "engine_from_env", "get_engine", "set_engine", "reset", "MAX_BATCH", "DEFAULT_LOG",
           "DEFAULT_ALERTS"]

#: most events one ``POST /detect/batch`` may carry
MAX_BATCH = 10_000
DEFAULT_LOG = "sqlite:////tmp/graphfraud_decisions.sqlite"
DEFAULT_ALERTS = "/tmp/graphfraud_alerts.jsonl"

_KPL_MAGIC = b"\xf3\x89\x9a\xc2"  # the first bytes of a KPL-aggregated record
_JSON = {"Content-Type": "application/json"}
_log = logging.getLogger("graphfraud.aws")
_lock = threading.Lock()
# one engine per execution environment; "dirty": a batch failed after scoring, so alerts may be owed
_state: dict = {"engine": None, "owned": False, "dirty": False}


# --------------------------------------------------------------------------- the engine


def engine_from_env(environ=None) -> Engine:
    """Build the engine the environment variables describe (see the module docstring).

    Raises
    ------
    InputError
        neither or both of ``GRAPHFRAUD_FROM`` and ``GRAPHFRAUD_PROFILES`` are set, or a setting is unusable.

    Examples
    --------
    >>> engine_from_env({})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graphfraud.errors.InputError: set GRAPHFRAUD_FROM (...) or GRAPHFRAUD_PROFILES (...); neither is set
    """
    env = os.environ if environ is None else environ

    def get(name: str, default: str | None = None) -> str | None:
        value = (env.get(name) or "").strip()
        return value or default

    source, profiles = get("GRAPHFRAUD_FROM"), get("GRAPHFRAUD_PROFILES")
    if (source is None) == (profiles is None):
        raise InputError("set GRAPHFRAUD_FROM (an analyze output folder packaged with the function) or "
                         "GRAPHFRAUD_PROFILES (a profile CSV or Parquet file); "
                         + ("neither is set" if source is None else "not both"))
    alerts = get("GRAPHFRAUD_ALERTS", DEFAULT_ALERTS)
    return build_engine(source, profiles=profiles, case=get("GRAPHFRAUD_CASE"), rules=get("GRAPHFRAUD_RULES"),
                        log=get("GRAPHFRAUD_LOG", DEFAULT_LOG), alerts=None if alerts.lower() == "none" else alerts,
                        webhook=get("GRAPHFRAUD_WEBHOOK"), warm=_warm(get("GRAPHFRAUD_WARM", "6h")))


def _warm(text: str) -> str | None:
    if text.lower() == "none":
        return None
    import pandas as pd

    try:
        pd.Timedelta(text)
    except ValueError:
        raise InputError(f"GRAPHFRAUD_WARM must be a duration like '6h' or '30min', or 'none', got {text!r}") from None
    return text


def get_engine() -> Engine:
    """The engine of this execution environment: the one given to :func:`set_engine`, else built from the
    environment variables on the first call and kept."""
    with _lock:
        if _state["engine"] is None:
            _state.update(engine=engine_from_env(), owned=True, dirty=False)
        return _state["engine"]


def set_engine(engine: Engine | None) -> None:
    """Use ``engine`` for the invocations from now on (tests, or an engine built by hand); None forgets it."""
    reset()
    with _lock:
        _state.update(engine=engine, owned=False, dirty=False)


def reset() -> None:
    """Forget the engine, so the next invocation builds one from the environment again.

    An engine built here has its decision log closed (pending rows are committed
    first); one given to :func:`set_engine` is left to its owner.
    """
    with _lock:
        engine, owned = _state["engine"], _state["owned"]
        _state.update(engine=None, owned=False, dirty=False)
    if engine is not None and owned:
        try:
            engine.log.close()
        except Exception:  # a log that cannot commit must not stop a reset; the error is in the function's log
            _log.exception("graphfraud: closing the decision log failed")


# --------------------------------------------------------------------------- the handler


def lambda_handler(event, context=None):
    """Score a Kinesis batch or answer an API Gateway request (see the module docstring).

    Returns
    -------
    dict
        ``{"batchItemFailures": [...]}`` for Kinesis; a proxy response
        (``statusCode``, ``headers``, ``body``, ``isBase64Encoded``) for API Gateway.

    Raises
    ------
    InputError
        the event is neither Kinesis records nor an API Gateway proxy event, or the
        configuration cannot build an engine (Kinesis only; API Gateway gets a 500).

    Examples
    --------
    >>> import base64, json, pandas as pd
    >>> from graphfraud.realtime import Scorer
    >>> from graphfraud.realtime.decision_log import DecisionLog
    >>> set_engine(Engine(Scorer.from_profiles(pd.DataFrame({"account_id": ["A1"], "avg_amount_30d": [100.0],
    ...     "payment_count_30d": [3], "last_device_id": ["d1"], "last_country": ["DE"],
    ...     "signup_ts": ["2024-01-01"], "risk_level": ["LOW"]})), DecisionLog(":memory:")))
    >>> def record(seq, data):
    ...     return {"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": seq, "data": data}}
    >>> good = base64.b64encode(json.dumps({"event_id": "e1", "user_id": "A1", "amount": 6000}).encode()).decode()
    >>> lambda_handler({"Records": [record("1", good), record("2", "not base64!")]}, None)
    {'batchItemFailures': [{'itemIdentifier': '2'}]}
    >>> r = lambda_handler({"httpMethod": "GET", "path": "/prod/health", "body": None}, None)
    >>> r["statusCode"], json.loads(r["body"])["status"]
    (200, 'ok')
    >>> reset()
    """
    kind = _kind(event)
    if kind == "kinesis":
        return _kinesis(event["Records"], context)
    return _api(event, kind, context)


def _kind(event) -> str:
    if isinstance(event, dict):
        records = event.get("Records")
        if isinstance(records, list) and all(isinstance(r, dict) and r.get("eventSource") == "aws:kinesis"
                                             for r in records):
            return "kinesis"
        ctx = event.get("requestContext")
        if event.get("version") == "2.0" and isinstance(ctx, dict) and isinstance(ctx.get("http"), dict):
            return "http-api"
        if isinstance(event.get("httpMethod"), str):
            return "rest-api"
    if isinstance(event, dict) and "Records" in event:
        sources = sorted({str(r.get("eventSource")) for r in event["Records"] if isinstance(r, dict)}
                         if isinstance(event["Records"], list) else set())
        got = f"Records from {', '.join(sources) or 'no known source'}"
    else:
        got = (f"an object with keys {sorted(map(str, event))[:8]}" if isinstance(event, dict)
               else type(event).__name__)
    raise InputError(f"graphfraud.aws.lambda_handler takes Kinesis Records (eventSource 'aws:kinesis') or an API "
                     f"Gateway proxy event (REST API 'httpMethod'/'path', or HTTP API version 2.0); got {got}")


def _check_rules(engine: Engine) -> None:
    """The engine's timed rules check, kept from failing a batch: a rules file broken in a way the parser does
    not catch raises TypeError, and the old rules must go on scoring."""
    try:
        engine.reload_if_changed()
    except Exception as exc:  # as the HTTP service does: the error is reported, the old rules stay
        engine.reload_error = (f"{engine.rules_path}: {type(exc).__name__}: {exc}; "
                               f"still using {engine.scorer.version}")


def _after_batch(engine: Engine, context) -> None:
    """Settle what a batch owes once its commit held: alerts of an earlier failed batch, and webhook posts."""
    if _state["dirty"]:
        try:
            engine.resend_pending_alerts()
            _state["dirty"] = False
        except Exception:  # the decisions are stored and marked unalerted: the next batch tries again
            _log.exception("graphfraud: re-sending the alerts of an earlier failed batch failed")
    if engine.alerts is not None and engine.alerts.webhook is not None:
        engine.alerts.flush(_time_left(context))


def _time_left(context) -> float:
    try:
        left = context.get_remaining_time_in_millis() / 1000 - 1.0
    except (AttributeError, TypeError, ValueError):
        return 5.0
    return max(0.0, min(10.0, left))


def _json_int(text: str):
    # past a double's range an integer is read as +-inf (as most JSON parsers do): the engine rejects it as
    # an amount out of range, where int -> float would raise OverflowError inside the validation
    return int(text) if len(text) <= 300 else float(text)


def _loads(text: str):
    return json.loads(text, parse_int=_json_int)


# --------------------------------------------------------------------------- Kinesis


def _kinesis(records: list, context) -> dict:
    seqs = [_sequence_number(r, i) for i, r in enumerate(records)]
    if not records:
        return {"batchItemFailures": []}
    engine = get_engine()
    raws = [_decode(r) for r in records]
    _check_rules(engine)
    try:
        outs = engine.decide_many(raws, source_ids=seqs)
    except Exception:
        _state["dirty"] = True
        _log.exception("graphfraud: the batch of %d record(s) from %s failed", len(seqs), seqs[0])
        outs = _isolate(engine, raws, seqs)
    if all(o is not None for o in outs):  # stored: what earlier failures owe can be settled now
        _after_batch(engine, context)
    failed = []
    for seq, out in zip(seqs, outs):
        if out is None or not out.ok:
            failed.append({"itemIdentifier": seq})
        if out is not None and not out.ok:
            _log.warning("graphfraud: record %s rejected (event_id %s) - %s: %s", seq, out.event_id, out.field,
                         out.reason)
    return {"batchItemFailures": failed}


def _isolate(engine: Engine, raws: list, seqs: list) -> list:
    """After a failed batch: None for every record if the log cannot commit (nothing is acknowledged), else each
    record decided alone, so that one record the engine trips on fails alone (stored as an internal error)."""
    try:
        engine.log.commit()  # the storage probe; it also stores what the failed pass had decided
    except Exception:
        _log.exception("graphfraud: the batch of %d record(s) from %s was not stored; every record is reported "
                       "as failed so Lambda delivers it again", len(seqs), seqs[0])
        return [None] * len(seqs)
    _log.warning("graphfraud: the log commits; deciding the batch's %d record(s) one by one", len(seqs))
    outs = []
    for raw, seq in zip(raws, seqs):
        out = _decide_alone(engine, raw, seq)
        if out is None:  # not even a rejection could be stored: the log failed meanwhile
            return outs + [None] * (len(seqs) - len(outs))
        outs.append(out)
    return outs


def _decide_alone(engine: Engine, raw, seq: str):
    try:
        return engine.decide_many([raw], source_ids=[seq])[0]
    except Exception as exc:  # this record, not the batch: keep it with its reason
        reason = f"internal error: {type(exc).__name__}: {exc}"
        _log.exception("graphfraud: record %s cannot be decided", seq)
    try:
        payload = json.dumps(raw, default=str)
    except (TypeError, ValueError):
        payload = repr(raw)
    try:
        return engine.decide_many([Unreadable(reason, payload, field="internal")], source_ids=[seq])[0]
    except Exception:  # the log cannot store it: reported as not stored
        _log.exception("graphfraud: record %s: its rejection cannot be stored", seq)
        return None


def _sequence_number(record: dict, i: int) -> str:
    kinesis = record.get("kinesis")
    seq = kinesis.get("sequenceNumber") if isinstance(kinesis, dict) else None
    if not isinstance(seq, str) or not seq:
        # without it the record cannot be reported, and Lambda reads an empty itemIdentifier as "all failed"
        raise InputError(f"Kinesis record {i} has no kinesis.sequenceNumber; the handler takes the records "
                         "Lambda's Kinesis event source mapping sends")
    return seq


def _decode(record: dict):
    """The record's event (a dict), or :class:`Unreadable` saying why its data is not one."""
    data = record["kinesis"].get("data")
    if not isinstance(data, str):
        return Unreadable(f"the record has no base64 'data' text (got {type(data).__name__})", repr(data))
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError as exc:
        return Unreadable(f"the record's data is not base64: {exc}", data)
    if raw.startswith(_KPL_MAGIC):
        return Unreadable("the record is KPL-aggregated; send one JSON event per record (turn off KPL "
                          "aggregation) or de-aggregate before this function", data)
    try:
        text = raw.decode("utf-8-sig")  # a producer's byte-order mark is not part of the JSON
    except UnicodeDecodeError as exc:
        return Unreadable(f"the record's data is not UTF-8 text: {exc}", data)
    try:
        event = _loads(text)
    except (ValueError, RecursionError) as exc:
        return Unreadable(f"the record's data is not JSON: {exc}", text)
    if not isinstance(event, dict):
        return Unreadable(f"the record's data must be a JSON object with the event's fields, got "
                          f"{type(event).__name__}", text)
    return event


# --------------------------------------------------------------------------- API Gateway


def _api(event: dict, kind: str, context) -> dict:
    method, path, request_id = _request_line(event, kind)
    route = _route(path)
    if route is None:
        return _response(404, {"detail": "Not Found"})
    allowed, answer = _ROUTES[route]
    if method != allowed:
        return _response(405, {"detail": "Method Not Allowed"}, {"Allow": allowed})
    try:
        engine = get_engine()
        _check_rules(engine)
        status, payload = answer(engine, _body(event) if allowed == "POST" else None, request_id)
        if allowed == "POST":
            _after_batch(engine, context)
        return _response(status, payload)
    except Exception as exc:  # the caller gets one line; the traceback goes to the function's log only
        if allowed == "POST":
            _state["dirty"] = True
        _log.exception("graphfraud: %s %s failed", method, path)
        return _response(500, {"detail": f"internal error: {type(exc).__name__}: {exc}"})


def _request_line(event: dict, kind: str) -> tuple[str, str, str | None]:
    ctx = event.get("requestContext") if isinstance(event.get("requestContext"), dict) else {}
    if kind == "http-api":
        method, path = ctx["http"].get("method"), ctx["http"].get("path") or event.get("rawPath")
    else:
        method, path = event.get("httpMethod"), event.get("path") or ctx.get("path")
    request_id = ctx.get("requestId")
    return (str(method or "").upper(), str(path or "/"),
            request_id if isinstance(request_id, str) and request_id else None)


def _route(path: str) -> str | None:
    """The route ``path`` ends with; the suffixes begin with '/', so '/xdetect' is not '/detect'."""
    path = "/" + path.strip("/")
    for suffix in _ROUTES:  # '/detect/batch' before '/detect'
        if path.endswith(suffix):
            return suffix
    return None


def _body(event: dict):
    """The request's JSON, or :class:`Unreadable` saying why it is not JSON (the client's error, a 422)."""
    body = event.get("body")
    if isinstance(body, (dict, list)):  # a console test event may carry the JSON itself
        return body
    if not isinstance(body, str) or not body:
        return Unreadable("the body is empty; send the event as JSON", "" if body is None else repr(body))
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8-sig")
        except ValueError as exc:
            return Unreadable(f"isBase64Encoded is set but the body is not base64 of UTF-8 text: {exc}", body)
    try:
        return _loads(body)
    except (ValueError, RecursionError) as exc:
        return Unreadable(f"the body is not valid JSON: {exc}", body)


def _invalid(field: str, reason: str) -> tuple[int, dict]:
    loc = ["body"] if field == "event" else ["body", field]
    return 422, {"detail": [{"loc": loc, "msg": reason, "type": "value_error"}]}


def _detect(engine: Engine, body, request_id):
    out = engine.decide_many([body], source_ids=[request_id])[0]
    if out.ok:
        return 200, out.to_dict()
    if out.field == "internal":  # the scorer failed on a valid event: ours, not the client's
        return 500, {"detail": out.reason}
    return _invalid(out.field, out.reason)


def _batch(engine: Engine, body, request_id):
    if isinstance(body, Unreadable):
        return _invalid("event", body.reason)
    events = body["events"] if isinstance(body, dict) and "events" in body else body
    if not isinstance(events, list):
        return _invalid("event", f'send a JSON list of events or {{"events": [...]}}, got {type(events).__name__}')
    if len(events) > MAX_BATCH:
        return 413, {"detail": f"at most {MAX_BATCH} events per request, got {len(events)}; split the batch"}
    ids = None if request_id is None else [f"{request_id}:{i}" for i in range(len(events))]
    outs = engine.decide_many(events, source_ids=ids)
    accepted = sum(o.ok for o in outs)
    return 200, {"decisions": [o.to_dict() for o in outs], "accepted": accepted, "rejected": len(outs) - accepted}


def _health(engine: Engine, body, request_id):
    return 200, {"status": "ok", **engine.scorer.describe(), "log": engine.log.counts(),
                 "rules_reload_error": engine.reload_error}


def _rules(engine: Engine, body, request_id):
    return 200, {**engine.scorer.ruleset.to_dict(), "version": engine.scorer.version,
                 "path": None if engine.rules_path is None else str(engine.rules_path)}


#: path suffix -> (method, answer); longest suffix first
_ROUTES = {"/detect/batch": ("POST", _batch), "/detect": ("POST", _detect), "/health": ("GET", _health),
           "/rules": ("GET", _rules)}


def _response(status: int, payload, headers: dict | None = None) -> dict:
    return {"statusCode": status, "headers": {**_JSON, **(headers or {})},
            "body": json.dumps(payload, default=str), "isBase64Encoded": False}
