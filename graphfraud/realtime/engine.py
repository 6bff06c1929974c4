"""The engine: scorer, decision log and alerts together, as the command line, the HTTP service and Lambda use them.

For each event: validate it; if its ``event_id`` is in the log, answer the
stored decision (no second alert, no second count in the velocity state);
else score it and keep the decision for the commit. An event that cannot be
scored goes to the rejected log with the field and the reason, and the others
go on. After the batch's one commit, the answers are final and BLOCK/REVIEW
decisions go to the alert sink.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import GraphFraudError
from .decision_log import AlertSink, DecisionLog
from .events import EventError, parse_event
from .ruleset import load_ruleset
from .scorer import Decision, Scorer

__all__ = ["Engine", "Outcome", "Unreadable", "build_engine", "read_profiles", "settle_memory"]


@dataclass(frozen=True)
class Unreadable:
    """Input that is not an event at all (a line that is not JSON): rejected with ``reason``, the others go on."""

    reason: str
    payload: str
    field: str = "event"


@dataclass(frozen=True)
class Outcome:
    """One event's answer: a decision (``duplicate`` if it was stored before) or a rejection with field and reason."""

    decision: Decision | None = None
    duplicate: bool = False
    event_id: str | None = None
    field: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.decision is not None

    def to_dict(self) -> dict:
        if self.decision is not None:
            return {**self.decision.to_dict(), "duplicate": self.duplicate}
        return {"event_id": self.event_id, "rejected": True, "field": self.field, "reason": self.reason}


class Engine:
    """Decide events with a :class:`Scorer`, store them in a :class:`DecisionLog`, alert through an :class:`AlertSink`.

    ``rules_path``: a ruleset file to re-read when it changes on disk
    (:meth:`reload_if_changed`, checked at most once a second).

    Examples
    --------
    >>> import pandas as pd
    >>> scorer = Scorer.from_profiles(pd.DataFrame({"account_id": ["A1"], "avg_amount_30d": [100.0],
    ...     "payment_count_30d": [3], "last_device_id": ["d1"], "last_country": ["DE"], "signup_ts": ["2024-01-01"],
    ...     "risk_level": ["LOW"]}))
    >>> eng = Engine(scorer, DecisionLog(":memory:"), alerts=None)
    >>> out = eng.decide_many([{"event_id": "e1", "user_id": "A1", "transaction_amount": 6000},
    ...                        {"event_id": "e1", "user_id": "A1", "transaction_amount": 6000},
    ...                        {"event_id": "e2", "user_id": "A1", "transaction_amount": "x"}])
    >>> [(o.ok, o.duplicate, o.decision.decision if o.ok else o.reason) for o in out]
    [(True, False, 'BLOCK'), (True, True, 'BLOCK'), (False, False, "must be a number >= 0, got 'x'")]
    """

    def __init__(self, scorer: Scorer, log: DecisionLog, alerts: AlertSink | None = None,
                 rules_path: str | Path | None = None):
        self.scorer, self.log, self.alerts = scorer, log, alerts
        self.rules_path = None if rules_path is None else Path(rules_path)
        self._rules_mtime = self._mtime()
        self._checked = 0.0
        self.lock = threading.RLock()
        self.reload_error: str | None = None
        if self.rules_path is not None:  # the file's rules from the start, not only after its first change
            self.reload_if_changed(force=True)
            if self.reload_error is not None:
                raise GraphFraudError(self.reload_error)
        self.resend_pending_alerts()

    def _mtime(self) -> float | None:
        try:
            return os.stat(self.rules_path).st_mtime_ns if self.rules_path is not None else None
        except OSError:
            return None

    def reload_if_changed(self, now: float | None = None, force: bool = False) -> bool:
        """Re-read the rules file if it changed; a bad file keeps the old rules and sets ``reload_error``."""
        import time

        if self.rules_path is None:
            return False
        now = time.monotonic() if now is None else now
        if not force and now - self._checked < 1.0:
            return False
        self._checked = now
        m = self._mtime()
        if not force and m == self._rules_mtime:
            return False
        try:
            rs = load_ruleset(self.rules_path)
            with self.lock:
                self.scorer.set_rules(rs)
            self.reload_error = None
        except Exception as exc:  # any broken file (bad YAML types included) keeps the rules in use
            kind = "" if isinstance(exc, GraphFraudError) else f"{type(exc).__name__}: "
            self.reload_error = f"{self.rules_path}: {kind}{exc}; still using {self.scorer.version}"
        self._rules_mtime = m
        return self.reload_error is None

    def resend_pending_alerts(self) -> int:
        """Alert the stored BLOCK/REVIEW decisions never marked as alerted (a crash between commit and alert)."""
        if self.alerts is None:
            return 0
        pending = self.log.unalerted()
        self.log.mark_alerted(self.alerts.send(pending))
        return len(pending)

    def _one(self, raw, source_id: str | None) -> tuple[Outcome, bool]:
        if isinstance(raw, Unreadable):
            self.log.reject(None, raw.field, raw.reason, raw.payload, source_id)
            return Outcome(field=raw.field, reason=raw.reason), False
        try:
            ev = parse_event(raw)
        except EventError as exc:
            self.log.reject(exc.event_id, exc.field, exc.reason, raw, source_id)
            return Outcome(event_id=exc.event_id, field=exc.field, reason=exc.reason), False
        stored = self.log.get(ev.event_id)
        if stored is not None:
            return Outcome(stored, duplicate=True), False
        try:
            d = self.scorer.score(ev)
        except EventError as exc:
            self.log.reject(ev.event_id, exc.field, exc.reason, raw, source_id)
            return Outcome(event_id=ev.event_id, field=exc.field, reason=exc.reason), False
        except Exception as exc:  # one event's internal error must not drop the others: kept with its reason
            reason = f"internal error: {type(exc).__name__}: {exc}"
            self.log.reject(ev.event_id, "internal", reason, raw, source_id)
            return Outcome(event_id=ev.event_id, field="internal", reason=reason), False
        self.log.add(d)
        return Outcome(d), True

    def decide_many(self, raws, source_ids=None) -> list[Outcome]:
        """Decide a batch with one commit; the outcomes are in input order and final when this returns."""
        self.reload_if_changed()
        with self.lock:
            outs, new = [], []
            for i, raw in enumerate(raws):
                out, fresh = self._one(raw, None if source_ids is None else source_ids[i])
                outs.append(out)
                if fresh:
                    new.append(out.decision)
            self.log.commit()
        if self.alerts is not None and new:
            self.log.mark_alerted(self.alerts.send(new))
        return outs

    def decide(self, raw) -> Outcome:
        """Decide one event (committed before it returns)."""
        return self.decide_many([raw])[0]


def settle_memory() -> None:
    """Tune the garbage collector for a process that serves events (the command line and the service call it).

    The profiles and the warmed windows are millions of long-lived objects: they
    are frozen out of the collector's sight, and the young generation is
    collected every 100,000 allocations instead of 700, so the full collections
    that walk everything alive (pauses of 50-150 ms under load, measured with
    ``bench/bench_scoring.py``) become rare. Memory is still freed by reference
    counting as windows slide. A library caller decides for its own process.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def read_profiles(path: str | Path):
    """A profile table from CSV or Parquet (by suffix), ids as text."""
    import pandas as pd

    from ..errors import InputError

    path = Path(path)
    if not path.exists():
        raise InputError(f"profiles file {str(path)!r} does not exist")
    if path.suffix.lower() in (".parquet", ".pq") or path.is_dir():
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"account_id": str, "last_device_id": str, "last_country": str})


def build_engine(source: str | Path | None = None, *, profiles: str | Path | None = None, case=None, rules=None,
                 log: str = "graphfraud_decisions.sqlite", alerts: str | None = "graphfraud_alerts.jsonl",
                 webhook: str | None = None, warm: str | None = "6h", sync: str = "normal") -> Engine:
    """The engine the command line, the HTTP service and Lambda run: a scorer from an ``analyze`` folder
    (``source``) or a profile table (``profiles``), a decision log and an alert sink.

    ``case``: a path or :class:`~graphfraud.Case` to use instead of the one the analysis read.
    ``rules``: a ruleset file (watched for changes) instead of the default.
    """
    from ..errors import InputError

    if (source is None) == (profiles is None):
        raise InputError("give either an analyze output folder (--from) or a profile table (--profiles)")
    if isinstance(case, (str, Path)):
        from ..loaders import load_case

        case = load_case(case)
    ruleset = load_ruleset(rules) if rules is not None else None
    if source is not None:
        scorer = Scorer.from_analysis(source, rules=ruleset, case=case, warm=warm)
    else:
        fx = case.fx_rates if case is not None else None
        scorer = Scorer.from_profiles(read_profiles(profiles), rules=ruleset, fx_rates=fx)
    return Engine(scorer, DecisionLog(log, sync=sync), AlertSink(alerts, webhook) if alerts or webhook else None,
                  rules_path=rules)
