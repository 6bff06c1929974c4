"""The decision log (SQLite, keyed by event id) and the alert sink (JSON lines, optionally a webhook).

The log is the system of record: a decision is acknowledged (written to
stdout, returned over HTTP, reported to Lambda) only after the transaction
that stores it has committed. SQLite runs in WAL mode, so a process killed at
any point loses no committed decision; ``sync="full"`` also survives a power
cut at the cost of an fsync per commit. Alerts are sent after the commit and
marked as sent in the log, so a crash in between re-sends them on the next
start instead of losing them, and a repeated event id never alerts twice.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
import urllib.request
import weakref
from pathlib import Path
from queue import Queue

import pandas as pd

from ..errors import InputError
from .scorer import Decision

__all__ = ["DecisionLog", "AlertSink", "log_path"]

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS decisions (
        event_id TEXT PRIMARY KEY, account_id TEXT, event_ts TEXT, event_type TEXT, score REAL, decision TEXT,
        rules TEXT, reasons TEXT, ruleset_version TEXT, scored_at TEXT, latency_us REAL, features TEXT,
        alerted INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS rejected (
        id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT, event_id TEXT, source_id TEXT UNIQUE, field TEXT,
        reason TEXT, payload TEXT)""",
    "CREATE INDEX IF NOT EXISTS decisions_pending_alerts ON decisions(alerted) WHERE alerted = 0",
]
_COLUMNS = ["event_id", "account_id", "event_ts", "event_type", "score", "decision", "rules", "reasons",
            "ruleset_version", "scored_at", "latency_us", "features"]
_MAX_PAYLOAD = 10_000


def log_path(url: str | Path) -> str:
    """The SQLite file of ``url``: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, a plain path or ``:memory:``.

    Examples
    --------
    >>> log_path("sqlite:///decisions.sqlite"), log_path("sqlite:////var/lib/gf.db"), log_path("x.db")
    ('decisions.sqlite', '/var/lib/gf.db', 'x.db')
    """
    text = str(url)
    if text.startswith("sqlite:///"):
        return text[len("sqlite:///"):] or ":memory:"
    if "://" in text:
        raise InputError(f"decision log URL {text!r}: only SQLite is supported (sqlite:///FILE or a path)")
    return text


class DecisionLog:
    """Decisions by event id, and rejected events with the reason, in one SQLite file.

    Examples
    --------
    >>> log = DecisionLog(":memory:")
    >>> d = Decision("e1", 60.0, "REVIEW", ("amount over 5,000",), ("amount over 5,000 (+60): ...",), "default@x",
    ...              "2025-09-01T12:00:00", 80.0, "A1", "2025-09-01 12:00:00", "payment")
    >>> log.add(d); log.commit()
    1
    >>> log.get("e1").decision, log.get("nope")
    ('REVIEW', None)
    """

    def __init__(self, url: str | Path = "graphfraud_decisions.sqlite", sync: str = "normal",
                 keep_features: str = "alerts", journal: str = "wal", checkpoint_every: float = 1.0):
        if sync not in ("normal", "full"):
            raise InputError(f"sync must be 'normal' (survives a killed process) or 'full' (also a power cut), "
                             f"got {sync!r}")
        if keep_features not in ("all", "alerts", "none"):
            raise InputError(f"keep_features must be 'all', 'alerts' (REVIEW and BLOCK) or 'none', got "
                             f"{keep_features!r}")
        if journal not in ("wal", "delete"):
            raise InputError(f"journal must be 'wal' (one host) or 'delete' (a network file system such as EFS, "
                             f"where WAL does not work), got {journal!r}")
        self.path = log_path(url)
        if self.path != ":memory:" and not Path(self.path).absolute().parent.is_dir():
            raise InputError(f"decision log {self.path!r}: the folder {str(Path(self.path).parent)!r} does not "
                             "exist; create it or choose another --log")
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self.conn.execute(f"PRAGMA journal_mode={journal.upper()}")
            self.conn.execute(f"PRAGMA synchronous={sync.upper()}")
            background = journal == "wal" and self.path != ":memory:" and checkpoint_every
            if background:
                self.conn.execute("PRAGMA wal_autocheckpoint=0")
            for stmt in _SCHEMA:
                self.conn.execute(stmt)
        except sqlite3.Error as exc:
            raise InputError(f"decision log {self.path!r} cannot be opened: {exc}") from None
        self.keep_features = keep_features
        self._pending: dict[str, Decision] = {}
        self._rejects: list[tuple] = []
        self._lock = threading.RLock()
        self.closed = False
        if background:
            # checkpoints copy the WAL into the database with an fsync: done by a thread of its own, so no
            # request waits for one (SQLite releases the GIL while it works)
            threading.Thread(target=_checkpoints, args=(self.path, checkpoint_every, weakref.ref(self)),
                             daemon=True, name="graphfraud-checkpoint").start()

    def get(self, event_id: str) -> Decision | None:
        """The decision stored (or waiting for the next commit) for ``event_id``."""
        with self._lock:
            d = self._pending.get(event_id)
            if d is not None:
                return d
            row = self.conn.execute(f"SELECT {', '.join(_COLUMNS[:-1])} FROM decisions WHERE event_id = ?",
                                    (event_id,)).fetchone()
        if row is None:
            return None
        r = dict(zip(_COLUMNS, row))
        return Decision(r["event_id"], r["score"], r["decision"], tuple(json.loads(r["rules"])),
                        tuple(json.loads(r["reasons"])), r["ruleset_version"], r["scored_at"], r["latency_us"],
                        r["account_id"], r["event_ts"], r["event_type"])

    def add(self, decision: Decision) -> None:
        with self._lock:
            self._pending[decision.event_id] = decision

    def reject(self, event_id: str | None, field: str, reason: str, payload, source_id: str | None = None,
               received_at: str | None = None) -> None:
        """Keep an event that could not be scored (stored at the next commit); ``source_id`` dedupes retries."""
        try:
            text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
        except (TypeError, ValueError):
            text = repr(payload)
        with self._lock:
            self._rejects.append((received_at or pd.Timestamp.now(tz="UTC").tz_localize(None).isoformat(),
                                  event_id, source_id, field, reason, text[:_MAX_PAYLOAD]))

    def commit(self) -> int:
        """Store everything pending in one transaction; returns the decisions written (repeats ignored)."""
        with self._lock:
            if not self._pending and not self._rejects:
                return 0
            try:
                rows = [self._row(d) for d in self._pending.values()]
                with _transaction(self.conn):
                    before = self.conn.total_changes
                    self.conn.executemany(f"INSERT OR IGNORE INTO decisions ({', '.join(_COLUMNS)}) VALUES "
                                          f"({', '.join('?' * len(_COLUMNS))})", rows)
                    written = self.conn.total_changes - before
                    self.conn.executemany("INSERT OR IGNORE INTO rejected (received_at, event_id, source_id, "
                                          "field, reason, payload) VALUES (?, ?, ?, ?, ?, ?)", self._rejects)
            finally:
                # committed or rolled back, nothing stays pending: a failed batch was never acknowledged, and
                # its retry must be decided anew, not answered as a duplicate of a decision that is not stored
                self._pending.clear()
                self._rejects.clear()
            return written

    def _row(self, d: Decision) -> tuple:
        keep = self.keep_features == "all" or (self.keep_features == "alerts" and d.decision != "APPROVE")
        feats = json.dumps(d.to_dict(features=True)["features"], default=str) if keep else None
        return (d.event_id, d.account_id, d.event_ts, d.event_type, d.score, d.decision, json.dumps(list(d.rules)),
                json.dumps(list(d.reasons)), d.ruleset_version, d.scored_at, d.latency_us, feats)

    def mark_alerted(self, event_ids) -> None:
        ids = [(e,) for e in event_ids]
        if ids:
            with self._lock, _transaction(self.conn):
                self.conn.executemany("UPDATE decisions SET alerted = 1 WHERE event_id = ?", ids)

    def unalerted(self) -> list[Decision]:
        """BLOCK and REVIEW decisions stored but not yet marked as alerted (after a crash)."""
        with self._lock:
            ids = [r[0] for r in self.conn.execute(
                "SELECT event_id FROM decisions WHERE alerted = 0 AND decision IN ('BLOCK', 'REVIEW') "
                "ORDER BY scored_at")]
        return [self.get(e) for e in ids]

    def decisions(self) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query(f"SELECT {', '.join(_COLUMNS[:-1])}, alerted FROM decisions ORDER BY rowid",
                                     self.conn)

    def rejected(self) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query("SELECT received_at, event_id, source_id, field, reason, payload FROM rejected "
                                     "ORDER BY id", self.conn)

    def counts(self, max_age: float = 5.0) -> dict:
        """Decisions by kind and rejected events; cached ``max_age`` seconds (a health check polls it)."""
        cached = getattr(self, "_counts", None)
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1]
        with self._lock:
            mix = dict(self.conn.execute("SELECT decision, COUNT(*) FROM decisions GROUP BY decision").fetchall())
            rej = self.conn.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
        out = {"decisions": sum(mix.values()), **{k: mix.get(k, 0) for k in ("APPROVE", "REVIEW", "BLOCK")},
               "rejected": rej}
        self._counts = (time.monotonic(), out)
        return out

    def close(self) -> None:
        with self._lock:
            self.commit()
            self.closed = True
            if self.path != ":memory:":
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.close()


def _checkpoints(path: str, every: float, owner) -> None:
    conn = sqlite3.connect(path, timeout=30)
    while True:
        time.sleep(every)
        log = owner()
        if log is None or log.closed:
            break
        del log  # hold no reference while waiting: the log may be dropped without close()
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:  # busy or closed: the next round tries again
            pass
    conn.close()


class _transaction:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, exc, tb):
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


class AlertSink:
    """BLOCK and REVIEW decisions as JSON lines in a file, and optionally POSTed to a webhook.

    The file line is written and flushed before :meth:`send` returns; webhook
    posts go out from a background thread (three tries), and one that fails is
    written to stderr and to the file as an ``alert_delivery_failed`` line, so a
    webhook outage never slows scoring nor loses an alert.
    """

    def __init__(self, path: str | Path | None = "graphfraud_alerts.jsonl", webhook: str | None = None,
                 timeout: float = 2.0):
        if webhook is not None and not webhook.startswith(("http://", "https://")):
            raise InputError(f"webhook must be an http(s) URL, got {webhook!r}")
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.webhook, self.timeout = webhook, timeout
        self._lock = threading.Lock()
        self._queue: Queue | None = None
        self.sent = 0

    def send(self, decisions) -> list[str]:
        """Alert the BLOCK/REVIEW ones; returns their event ids."""
        alerts = [d for d in decisions if d.decision in ("BLOCK", "REVIEW")]
        if not alerts:
            return []
        lines = [json.dumps({"alert": d.decision, **d.to_dict()}) for d in alerts]
        if self.path is not None:
            with self._lock, open(self.path, "a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
                fh.flush()
        if self.webhook is not None:
            if self._queue is None:
                self._queue = Queue()
                threading.Thread(target=self._post_loop, daemon=True, name="graphfraud-webhook").start()
            for line in lines:
                self._queue.put(line)
        self.sent += len(alerts)
        return [d.event_id for d in alerts]

    def _post_loop(self) -> None:
        while True:
            line = self._queue.get()
            error = None
            for _ in range(3):
                try:
                    req = urllib.request.Request(self.webhook, data=line.encode(), method="POST",
                                                 headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (URL checked above)
                        if resp.status < 300:
                            error = None
                            break
                        error = f"HTTP {resp.status}"
                except Exception as exc:  # any network failure: retried, then recorded
                    error = f"{type(exc).__name__}: {exc}"
            if error is not None:
                print(f"graphfraud: alert webhook failed ({error}); the alert is in {self.path}", file=sys.stderr)
                if self.path is not None:
                    with self._lock, open(self.path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"alert_delivery_failed": error, "alert": json.loads(line)}) + "\n")
            self._queue.task_done()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` seconds) for the webhook posts queued so far."""
        if self._queue is None:
            return
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        done.wait(timeout)
