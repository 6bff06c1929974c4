"""The HTTP service: FastAPI over the :class:`~graphfraud.realtime.engine.Engine` (``pip install 'graphfraud[serve]'``).

Endpoints (every response is JSON):

- ``POST /detect``: one event (the fields of :data:`~graphfraud.realtime.events.EVENT_FIELDS`,
  or their gateway aliases) -> 200 with its decision, or 422 naming the field and the reason;
- ``POST /detect/batch``: a list of events (or ``{"events": [...]}``), at most :data:`MAX_BATCH`
  -> 200 with one decision or rejection per event, in input order;
- ``GET /health``: the scorer, the decision log's counts and the last rules reload error;
- ``GET /rules`` and ``POST /rules/reload``: the ruleset in use, and a forced re-read of its file
  (the engine also re-reads it on its own when the file changes, checked at most once a second).

A 200 is sent only after the decision is committed to the SQLite log, so an
acknowledged decision survives a crash; a repeated ``event_id`` gets the stored
decision back with ``duplicate: true`` and no second alert. Validation is the
engine's (:func:`~graphfraud.realtime.events.parse_event`): the Pydantic models
here only document the shapes in ``/openapi.json``.

An example is in :func:`create_app`.

"""

import asyncio
import contextlib
import dataclasses
import importlib
import json
import os
from functools import lru_cache
from typing import Any, Literal, Optional, Union

from ..errors import InputError
from .engine import Engine, Outcome, Unreadable, build_engine, settle_memory
from .events import ALIASES, EVENT_FIELDS
from .scorer import Decision

__all__ = ["create_app", "serve", "app_from_env", "CONFIG_ENV", "CONFIG_KEYS", "MAX_BATCH"]

#: the environment variable that carries the engine's configuration (JSON) to each worker process
CONFIG_ENV = "GRAPHFRAUD_SERVE_CONFIG"
#: the keyword arguments of :func:`~graphfraud.realtime.engine.build_engine` a configuration may hold
CONFIG_KEYS = ("source", "profiles", "case", "rules", "log", "alerts", "webhook", "warm", "sync")
#: most events in one ``POST /detect/batch``
MAX_BATCH = 10_000

# a batch is decided this many events at a time, yielding to the event loop in between, so that a
# 10,000-event batch (a few seconds of scoring) does not hold back the single events arriving meanwhile
_CHUNK = 500
_DECISION_FIELDS = [f.name for f in dataclasses.fields(Decision) if f.name != "features"]
_EXAMPLE = {"event_id": "e-000123", "event_ts": "2025-09-01 12:00:05", "account_id": "A100232",
            "event_type": "payment", "amount": 1000.0, "currency": "USD", "ip": "203.0.113.9",
            "device_id": "dev-42", "country_iso": "DE", "merchant_id": "M-7", "merchant_category": "RETAIL"}
# documented types only: the engine accepts more (numeric text for amounts, numbers for ids) and says what is wrong
_DOC_TYPES = {"event_id": Union[str, int], "event_ts": Union[str, float], "account_id": Union[str, int],
              "event_type": Literal["payment", "login"], "amount": Union[float, str]}


def _import(name: str):
    """``fastapi`` or ``uvicorn``, or InputError saying how to install them."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise InputError(f"the HTTP service needs {name}, which is not installed: "
                         "pip install 'graphfraud[serve]'") from None


# ---------------------------------------------------------------------------------------------- models


@lru_cache(maxsize=1)
def _models():
    """The Pydantic models of ``/openapi.json`` (built on first use: pydantic comes with the serve extra)."""
    from types import SimpleNamespace

    return SimpleNamespace(Event=_event_model(), **_decision_models(), **_service_models())


def _event_model():
    from pydantic import ConfigDict, Field, create_model

    fields = {}
    for name, (required, text) in EVENT_FIELDS.items():
        fields[name] = (Optional[_DOC_TYPES.get(name, str)],
                        Field(None, description=("Required. " if required else "") + text))
    for alias, name in ALIASES.items():
        fields[alias] = (Optional[_DOC_TYPES.get(name, str)], Field(None, description=f"gateway alias of `{name}`"))
    return create_model("Event", __config__=ConfigDict(extra="allow", json_schema_extra={"examples": [_EXAMPLE]}),
                        __doc__="A real-time event; unknown fields are ignored. `event_id` and `account_id` "
                                "(or `user_id`) are required, and `amount` for a payment.", **fields)


def _decision_models() -> dict:
    from pydantic import BaseModel

    class Decision(BaseModel):
        """An event's decision; ``duplicate``: the event id was decided before and this is the stored answer."""

        event_id: str
        score: float
        decision: Literal["APPROVE", "REVIEW", "BLOCK"]
        rules: list[str]
        reasons: list[str]
        ruleset_version: str
        scored_at: str
        latency_us: float
        account_id: str
        event_ts: str
        event_type: Literal["payment", "login"]
        duplicate: bool

    class Rejection(BaseModel):
        """An event of a batch that could not be scored (it is in the decision log's rejected table)."""

        event_id: Optional[str]
        rejected: Literal[True]
        field: str
        reason: str

    class BatchDecisions(BaseModel):
        decisions: list[Union[Decision, Rejection]]
        accepted: int
        rejected: int

    return {"Decision": Decision, "Rejection": Rejection, "BatchDecisions": BatchDecisions}


def _service_models() -> dict:
    from pydantic import BaseModel, ConfigDict

    class InvalidItem(BaseModel):
        loc: list[Union[str, int]]
        msg: str
        type: str

    class Invalid(BaseModel):
        """The event (or the body) is invalid: ``loc`` names the field, ``msg`` says why."""

        detail: list[InvalidItem]

    class Error(BaseModel):
        detail: str

    class Health(BaseModel):
        model_config = ConfigDict(extra="allow")
        status: str
        ruleset: str
        log: dict[str, int]
        rules_reload_error: Optional[str]

    class Rules(BaseModel):
        model_config = ConfigDict(extra="allow")
        name: str
        mode: str
        block: float
        review: float
        cap: float
        rules: list[dict[str, Any]]
        version: str

    return {"InvalidItem": InvalidItem, "Invalid": Invalid, "Error": Error, "Health": Health, "Rules": Rules}


def _request_body(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_EVENT_REF = {"$ref": "#/components/schemas/Event"}
_BATCH_SCHEMA = {"oneOf": [
    {"type": "array", "items": _EVENT_REF, "maxItems": MAX_BATCH},
    {"type": "object", "properties": {"events": {"type": "array", "items": _EVENT_REF, "maxItems": MAX_BATCH}},
     "required": ["events"]}]}


def _add_event_schema(app, models) -> None:
    """Put the Event model in the schema's components: the body is read raw, so FastAPI does not register it."""
    base = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = base()
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            comps["Event"] = models.Event.model_json_schema(ref_template="#/components/schemas/{model}")
        return app.openapi_schema

    app.openapi = openapi


# ---------------------------------------------------------------------------------------------- helpers


def _outcome_dict(out: Outcome) -> dict:
    """``out.to_dict()`` without its deep copy of the decision's features (a third of the scoring time)."""
    d = out.decision
    if d is None:
        return out.to_dict()
    r = {k: getattr(d, k) for k in _DECISION_FIELDS}
    r["rules"], r["reasons"], r["duplicate"] = list(d.rules), list(d.reasons), out.duplicate
    return r


def _invalid(field: str, reason: str):
    from fastapi.responses import JSONResponse

    loc = ["body"] if field == "event" else ["body", field]
    return JSONResponse({"detail": [{"loc": loc, "msg": reason, "type": "value_error"}]}, status_code=422)


async def _read_json(request):
    """The body as JSON, or :class:`Unreadable` saying why not (a malformed body is the client's error, not a 500)."""
    body = await request.body()
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return Unreadable(f"the body is not valid JSON: {exc}",
                          body[:10_000].decode("utf-8", "replace"))


def _events_of(body):
    """The events of a batch body, or an error response."""
    from fastapi.responses import JSONResponse

    if isinstance(body, Unreadable):
        return _invalid("event", body.reason)
    if isinstance(body, dict) and "events" in body:
        body = body["events"]
    if not isinstance(body, list):
        return _invalid("event", f'send a JSON list of events or {{"events": [...]}}, got {type(body).__name__}')
    if len(body) > MAX_BATCH:
        return JSONResponse({"detail": f"at most {MAX_BATCH} events per request, got {len(body)}; "
                                       "split the batch"}, status_code=413)
    return body


# ---------------------------------------------------------------------------------------------- the app


def create_app(engine: Engine, close_on_shutdown: bool = False):
    """The FastAPI app over ``engine``.

    Endpoints are ``async`` and call the engine directly: scoring takes a few
    hundred microseconds of CPU under the engine's lock, so a thread pool would
    add hand-offs and nothing else.

    Parameters
    ----------
    engine
        the engine deciding the events (e.g. from :func:`~graphfraud.realtime.engine.build_engine`).
    close_on_shutdown
        commit and close the decision log and wait for queued webhook alerts when the server stops
        (for an engine the app owns, as in :func:`serve`).

    Raises
    ------
    InputError
        FastAPI is not installed.

    Examples
    --------
    >>> import pandas as pd
    >>> from fastapi.testclient import TestClient
    >>> from graphfraud.realtime.decision_log import DecisionLog
    >>> from graphfraud.realtime.scorer import Scorer
    >>> scorer = Scorer.from_profiles(pd.DataFrame({"account_id": ["A1"], "avg_amount_30d": [100.0],
    ...     "payment_count_30d": [3], "last_device_id": ["d1"], "last_country": ["DE"],
    ...     "signup_ts": ["2024-01-01"], "risk_level": ["LOW"]}))
    >>> client = TestClient(create_app(Engine(scorer, DecisionLog(":memory:"))))
    >>> r = client.post("/detect/batch", json=[{"event_id": "a", "account_id": "A1", "amount": 20},
    ...                                        {"event_id": "b", "account_id": "A1"}])
    >>> r.json()["accepted"], r.json()["rejected"], r.json()["decisions"][1]["reason"]
    (1, 1, 'is required for a payment (alias transaction_amount)')
    """
    fastapi = _import("fastapi")
    from fastapi.responses import JSONResponse

    from .. import __version__

    models = _models()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if close_on_shutdown:
            if engine.alerts is not None:
                engine.alerts.flush()
            engine.log.close()

    app = fastapi.FastAPI(title="graphfraud real-time scoring", version=__version__, lifespan=lifespan,
                          description="Scores payment and login events with the rules, profiles and graph context "
                                      "of a graphfraud analysis. A decision is returned only once it is stored.")
    app.state.engine = engine

    @app.exception_handler(Exception)
    async def internal_error(request, exc):
        # the traceback goes to the server's log (Starlette re-raises after this response), never to the client
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)

    _add_detect(app, engine, models)
    _add_batch(app, engine, models)
    _add_admin(app, engine, models)
    _add_event_schema(app, models)
    return app


def _add_detect(app, engine: Engine, m) -> None:
    from fastapi import Request
    from fastapi.responses import JSONResponse

    @app.post("/detect", tags=["scoring"], summary="Decide one event", openapi_extra=_request_body(_EVENT_REF),
              responses={200: {"model": m.Decision, "description": "the decision, committed to the log"},
                         422: {"model": m.Invalid, "description": "the event is invalid (kept in the log's "
                                                                 "rejected table)"},
                         500: {"model": m.Error}})
    async def detect(request: Request):
        out = engine.decide(await _read_json(request))
        if out.ok:
            return JSONResponse(_outcome_dict(out))
        if out.field == "internal":  # the scorer failed on a valid event: ours, not the client's
            return JSONResponse({"detail": out.reason}, status_code=500)
        return _invalid(out.field, out.reason)


def _add_batch(app, engine: Engine, m) -> None:
    from fastapi import Request
    from fastapi.responses import JSONResponse

    @app.post("/detect/batch", tags=["scoring"], summary=f"Decide up to {MAX_BATCH:,} events",
              openapi_extra=_request_body(_BATCH_SCHEMA),
              responses={200: {"model": m.BatchDecisions, "description": "one entry per event, in input order"},
                         413: {"model": m.Error, "description": f"more than {MAX_BATCH:,} events"},
                         422: {"model": m.Invalid, "description": "the body is not a list of events"},
                         500: {"model": m.Error}})
    async def detect_batch(request: Request):
        events = _events_of(await _read_json(request))
        if not isinstance(events, list):
            return events
        outs: list[Outcome] = []
        for start in range(0, len(events), _CHUNK):
            if start:
                await asyncio.sleep(0)  # let waiting requests in; the chunks before are committed
            outs += engine.decide_many(events[start:start + _CHUNK])
        accepted = sum(o.ok for o in outs)
        return JSONResponse({"decisions": [_outcome_dict(o) for o in outs], "accepted": accepted,
                             "rejected": len(outs) - accepted})


def _add_admin(app, engine: Engine, m) -> None:
    from fastapi.responses import JSONResponse

    @app.get("/health", tags=["service"], summary="Scorer, decision counts, rules reload status",
             response_model=m.Health)
    async def health():
        engine.reload_if_changed()  # so that a broken file shows here even while no event comes in
        return JSONResponse({"status": "ok", **engine.scorer.describe(), "log": engine.log.counts(),
                             "rules_reload_error": engine.reload_error})

    @app.get("/rules", tags=["rules"], summary="The ruleset in use", response_model=m.Rules)
    async def rules():
        engine.reload_if_changed()
        return JSONResponse({**engine.scorer.ruleset.to_dict(), "version": engine.scorer.version,
                             "path": None if engine.rules_path is None else str(engine.rules_path)})

    @app.post("/rules/reload", tags=["rules"], summary="Re-read the rules file now",
              responses={409: {"model": m.Error, "description": "the service runs without a rules file"},
                         422: {"model": m.Error, "description": "the file is invalid; the old rules stay"}})
    async def reload_rules():
        if engine.rules_path is None:
            return JSONResponse({"detail": "no rules file to reload: the service was started without one "
                                           f"(rules=...); the ruleset is {engine.scorer.version}"}, status_code=409)
        if not engine.reload_if_changed(force=True):  # a bad file keeps the rules in use
            return JSONResponse({"detail": engine.reload_error, "version": engine.scorer.version}, status_code=422)
        return JSONResponse({"version": engine.scorer.version, "rules": len(engine.scorer.ruleset.rules),
                             "path": str(engine.rules_path)})


# ---------------------------------------------------------------------------------------------- running


def _check_config(config) -> dict:
    if not isinstance(config, dict):
        raise InputError(f"the service's configuration must be a dict of build_engine's arguments, "
                         f"got {type(config).__name__}")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise InputError(f"unknown configuration key(s) {unknown}; expected some of {', '.join(CONFIG_KEYS)}")
    return config


def app_from_env():
    """The app over an engine built from the JSON configuration in ``$GRAPHFRAUD_SERVE_CONFIG``.

    uvicorn calls it in each worker process when :func:`serve` runs more than
    one (``factory=True``), since workers are started from an import string, not
    from an app object.

    Raises
    ------
    InputError
        the variable is missing or not a JSON object of :data:`CONFIG_KEYS`.
    """
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise InputError(f"{CONFIG_ENV} is not set; it holds build_engine's arguments as JSON (serve() sets it)")
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{CONFIG_ENV} is not valid JSON: {exc}") from None
    app = create_app(build_engine(**_check_config(config)), close_on_shutdown=True)
    settle_memory()
    return app


def serve(config: dict, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "warning") -> None:
    """Run the HTTP service on uvicorn until interrupted.

    Parameters
    ----------
    config
        the keyword arguments of :func:`~graphfraud.realtime.engine.build_engine`: ``source`` (an
        ``analyze`` folder) or ``profiles`` (a profile table), and optionally ``case``, ``rules``,
        ``log``, ``alerts``, ``webhook``, ``warm``, ``sync``.
    host, port
        where to listen.
    workers
        worker processes. Each builds its own engine, so the velocity state (the
        micro windows: logins, payments and IPs per account and device in the
        last minutes) is per process: an account's velocity features are exact
        only if one worker sees all its events (one worker, or a balancer that
        routes by account). The SQLite decision log is shared safely (WAL): a
        repeated event id gets the stored decision from any worker once it is
        committed. More than one worker needs a JSON-able ``config`` (paths, not
        objects) and a log file, not ``:memory:``; and, from a script, a call under
        ``if __name__ == "__main__":``, since uvicorn spawns the workers (they
        re-import the main module).
    log_level
        uvicorn's log level (``warning`` keeps the per-request access lines out).

    Raises
    ------
    InputError
        FastAPI or uvicorn is missing, or the configuration is unusable.

    Examples
    --------
    Serve a profile table with a watched rules file on port 8080, then, from a shell,
    ``curl -s localhost:8080/detect -d '{"event_id": "e1", "user_id": "A1", "transaction_amount": 60}'``::

        serve({"profiles": "profiles.csv", "rules": "rules.json", "log": "decisions.sqlite"}, port=8080)
    """
    _import("fastapi")
    uvicorn = _import("uvicorn")
    config = _check_config(config)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be an integer >= 1, got {workers!r}")
    if workers == 1:
        app = create_app(build_engine(**config), close_on_shutdown=True)
        settle_memory()
        uvicorn.run(app, host=host, port=port, log_level=log_level)
        return
    if str(config.get("log", "")).strip() == ":memory:":
        raise InputError("with several workers the decision log must be a file: each worker would keep its own "
                         "log in memory, so a repeated event could be scored twice")
    try:
        text = json.dumps(config)
    except TypeError as exc:
        raise InputError(f"with workers > 1 the configuration must be JSON (paths, not objects): {exc}") from None
    os.environ[CONFIG_ENV] = text  # the worker processes inherit it
    uvicorn.run("graphfraud.realtime.service:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level)
