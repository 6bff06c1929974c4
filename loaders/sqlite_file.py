"""Read a case from a SQLite file in the contract's schema."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sqlite3
from pathlib import Path

import pandas as pd

from ..case import Case, load_tables, resolve_columns
from ..errors import InputError, SchemaError
from ..case.schema import ALL_TABLE_NAMES, TABLES

__all__ = ["load_sqlite", "connect_readonly"]


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """Open a SQLite file read-only (the loader never writes to a user's case)."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:  # pragma: no cover - depends on the file system
        raise InputError(f"cannot open {path} as SQLite: {exc}") from exc


def load_sqlite(path: str | Path, chunksize: int = 1_000_000) -> Case:
    """Load the six contract tables (and ``blocklist``/``fx_rates`` when present) from a SQLite file.

    Table names are matched ignoring case. Every missing table and column is
    reported in one :class:`~graphfraud.errors.SchemaError`.
    """
    conn = connect_readonly(path)
    try:
        try:
            present = {r[0].lower(): r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path} is not a readable SQLite database: {exc}") from exc
        problems, names = [], {}
        for name in ALL_TABLE_NAMES:
            if name not in present and TABLES[name].optional:
                continue
            if name not in present:
                problems.append(f"table '{name}' is missing (expected columns: {', '.join(TABLES[name].column_names)})")
                continue
            names[name] = present[name]
            # The column names as a query sees them (a view's columns too); a broken view fails here.
            try:
                cur = conn.execute(f"SELECT * FROM {_ident(present[name])} LIMIT 0")
                cols = [d[0] for d in cur.description]
            except sqlite3.Error as exc:
                raise _read_error(path, present[name], exc) from exc
            problems += resolve_columns(TABLES[name], cols)[1]
        if problems:
            raise SchemaError(problems, str(path))
        big = {name: _rowid_range(conn, names[name]) for name in names} if _cores() >= 2 else {}
        sources = {name: (_parallel_chunks(path, names[name], chunksize, *big[name])
                          if big.get(name) and big[name][1] - big[name][0] >= 2 * chunksize
                          else _chunks(conn, path, names[name], chunksize)) for name in names}
        try:
            return load_tables(sources, str(path))
        finally:
            for gen in sources.values():
                gen.close()  # stops any reader process still running (an error in another table)
    finally:
        conn.close()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _rowid_range(conn: sqlite3.Connection, table: str) -> tuple[int, int] | None:
    """``(first, last + 1)`` rowid of a table, or None (a view or WITHOUT ROWID table: read it plainly)."""
    if "fork" not in mp.get_all_start_methods():
        return None
    try:  # MIN/MAX(rowid) read one B-tree page each
        lo, hi = conn.execute(f"SELECT MIN(rowid), MAX(rowid) FROM {_ident(table)}").fetchone()
    except sqlite3.Error:
        return None
    return (int(lo), int(hi) + 1) if lo is not None else None


def _parallel_chunks(path, table: str, chunksize: int, first: int, stop: int, workers: int = 2):
    """The table's rows in rowid order, read by ``workers`` forked processes, chunk by chunk in turn.

    Turning SQLite rows into Python objects and DataFrames holds the GIL and is most of
    a load; two readers do it for the next chunks while this process types the last
    ones. Each worker reads rowid ranges ``first + k * chunksize`` in turn and makes the
    very DataFrames the in-process path makes (``_chunks`` on a range), passed back
    through a queue of one, so few chunks wait in memory. An error in a worker (a
    damaged file) is raised here, as it would be in-process.
    """
    ctx = mp.get_context("fork")
    starts = list(range(first, stop, chunksize))
    queues = [ctx.Queue(maxsize=1) for _ in range(workers)]
    procs = [ctx.Process(target=_read_ranges, args=(str(path), table, chunksize, starts[k::workers], queues[k]),
                         daemon=True) for k in range(workers)]
    for p in procs:
        p.start()
    try:
        yielded = False
        for i in range(len(starts)):
            chunk = _next_from(queues[i % workers], procs[i % workers], table)
            if len(chunk) or (i == len(starts) - 1 and not yielded):
                yielded = True
                yield chunk
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=10)
        for q in queues:
            q.close()


def _next_from(q, proc, table: str):
    while True:
        try:
            kind, payload = q.get(timeout=30)
        except queue.Empty:
            if not proc.is_alive():
                raise InputError(f"the process reading table {table!r} stopped unexpectedly (exit code "
                                 f"{proc.exitcode}); is the machine out of memory?") from None
            continue
        if kind == "error":
            raise payload
        return payload


def _read_ranges(path: str, table: str, chunksize: int, starts: list[int], out) -> None:
    try:
        conn = connect_readonly(path)
        try:
            for lo in starts:
                query = f"SELECT * FROM {_ident(table)} WHERE rowid >= {int(lo)} AND rowid < {int(lo + chunksize)}"
                parts = list(_chunks(conn, path, table, chunksize, query=query))
                out.put(("chunk", parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)))
        finally:
            conn.close()
    except Exception as exc:  # sent to the parent, which raises it where the in-process read would have
        out.put(("error", exc))


def _read_error(path, table: str, exc: sqlite3.Error) -> InputError:
    text = str(exc)
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        hint = "the file is damaged; restore it from a good copy or re-export it"
    elif "no such" in text:
        hint = f"'{table}' is a view that refers to something missing from the file"
    else:
        hint = "check that the file is a complete, readable SQLite database"
    return InputError(f"{path}: cannot read table '{table}': {text} ({hint})")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _chunks(conn: sqlite3.Connection, path, table: str, chunksize: int, query: str | None = None):
    query = query or f"SELECT * FROM {_ident(table)}"
    done = 0
    try:
        cur = conn.execute(query)
        columns = [d[0] for d in cur.description]
        first = True
        while True:
            try:
                rows = cur.fetchmany(chunksize)
            except sqlite3.OperationalError as exc:
                if "decode" not in str(exc) or conn.text_factory is _lenient_text:
                    raise
                # Text that is not UTF-8: from here on decode it leniently, so the validator
                # rejects the affected rows (the fast built-in decoding stays for clean files).
                conn.text_factory = _lenient_text
                cur = conn.execute(f"{query} LIMIT -1 OFFSET {done}")
                continue
            if rows or first:
                if conn.text_factory is _lenient_text:
                    # plain Python strings: pandas would otherwise store them as Arrow strings
                    # (its default when pyarrow is installed), which cannot hold the lone
                    # surrogates that mark undecodable bytes
                    yield pd.DataFrame(rows, columns=columns, dtype=object)
                else:
                    # object columns keep SQLite's own types (int vs text) for the validator to judge
                    yield pd.DataFrame.from_records(rows, columns=columns)
            done += len(rows)
            first = False
            if len(rows) < chunksize:
                return
    except sqlite3.Error as exc:
        raise _read_error(path, table, exc) from exc


def _lenient_text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")
