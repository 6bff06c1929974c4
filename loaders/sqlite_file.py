"""Read a case from a SQLite file in the contract's schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from ..case import Case, load_tables, resolve_columns
from ..errors import InputError, SchemaError
from ..case.schema import TABLE_NAMES, TABLES

__all__ = ["load_sqlite", "connect_readonly"]


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """Open a SQLite file read-only (the loader never writes to a user's case)."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:  # pragma: no cover - depends on the file system
        raise InputError(f"cannot open {path} as SQLite: {exc}") from exc


def load_sqlite(path: str | Path, chunksize: int = 1_000_000) -> Case:
    """Load the six contract tables from a SQLite file.

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
        for name in TABLE_NAMES:
            if name not in present:
                problems.append(f"table '{name}' is missing (expected columns: {', '.join(TABLES[name].column_names)})")
                continue
            names[name] = present[name]
            # PRAGMA takes no bound parameters; the name comes from sqlite_master, quoted as an identifier.
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({_ident(present[name])})")]
            problems += resolve_columns(TABLES[name], cols)[1]
        if problems:
            raise SchemaError(problems, str(path))
        sources = {name: _chunks(conn, names[name], chunksize) for name in TABLE_NAMES}
        return load_tables(sources, str(path))
    finally:
        conn.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _chunks(conn: sqlite3.Connection, table: str, chunksize: int):
    cur = conn.execute(f"SELECT * FROM {_ident(table)}")
    columns = [d[0] for d in cur.description]
    first = True
    while True:
        rows = cur.fetchmany(chunksize)
        if rows or first:
            # object columns keep SQLite's own types (int vs text) for the validator to judge
            yield pd.DataFrame.from_records(rows, columns=columns)
        first = False
        if len(rows) < chunksize:
            return
