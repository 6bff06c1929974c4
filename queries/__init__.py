"""Readable SQL for the baseline metrics, run with bound parameters.

Each ``<name>.sql`` file in this package is one query. Its header comments
declare the parameters (``-- param: name = default  description``); values are
always bound by SQLite, never pasted into the text.

Examples
--------
>>> import graphfraud
>>> from graphfraud import queries
>>> case = graphfraud.load_case(graphfraud.sample_case_path())
>>> conn = queries.case_connection(case)
>>> queries.run("daily_fail_rate", conn).columns.tolist()
['day', 'logins', 'fails', 'fail_rate', 'accounts']
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..case import Case
from ..errors import InputError
from ..case.schema import TABLE_NAMES, TABLES

__all__ = ["run", "names", "query", "Query", "case_connection", "gremlin", "gremlin_names"]

_PARAM_LINE = re.compile(r"^--\s*param:\s*(\w+)\s*=\s*(\S+)\s*(.*)$")
_BIND = re.compile(r"(?<!:):(\w+)")


@dataclass(frozen=True)
class Query:
    """One SQL file: its text, its parameters with defaults, and what it is for."""

    name: str
    sql: str
    params: dict
    descriptions: dict
    summary: str


def names() -> list[str]:
    """Names of the bundled SQL queries.

    Examples
    --------
    >>> "account_signals" in names()
    True
    """
    return _bundled(".sql")


def _bundled(suffix: str) -> list[str]:
    return sorted(p.name[:-len(suffix)] for p in resources.files(__package__).iterdir() if p.name.endswith(suffix))


def gremlin_names() -> list[str]:
    """Names of the bundled Gremlin queries (``*.gremlin``, for ``%%gremlin`` notebook cells).

    Examples
    --------
    >>> "ring_members" in gremlin_names()
    True
    """
    return _bundled(".gremlin")


def gremlin(name: str) -> str:
    """The text of ``<name>.gremlin``: one traversal with ``${param}`` placeholders as graph-notebook fills them.

    The same traversals run from Python, returning DataFrames, in :mod:`graphfraud.graph.traversals`.
    """
    available = gremlin_names()
    if name not in available:
        raise InputError(f"unknown Gremlin query {name!r}; available: {', '.join(available)}")
    return resources.files(__package__).joinpath(f"{name}.gremlin").read_text(encoding="utf-8").strip()


def query(name: str) -> Query:
    """Parse the SQL file ``name`` and its declared parameters."""
    available = names()
    if name not in available:
        raise InputError(f"unknown query {name!r}; available: {', '.join(available)}")
    sql = resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
    params, desc, summary = {}, {}, []
    for line in sql.splitlines():
        m = _PARAM_LINE.match(line.strip())
        if m:
            params[m.group(1)] = _default(m.group(2))
            desc[m.group(1)] = m.group(3).strip()
        elif line.startswith("--") and not params:
            summary.append(line[2:].strip())
    used = set(_BIND.findall(_strip_comments(sql)))
    undeclared = used - set(params)
    if undeclared:  # a packaging mistake, not a user error
        raise InputError(f"query {name!r} binds undeclared parameter(s) {sorted(undeclared)}")
    return Query(name, sql, params, desc, " ".join(summary))


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def _default(text: str):
    if text.upper() == "NULL":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip("'\"")


def run(name: str, connection: sqlite3.Connection, **params) -> pd.DataFrame:
    """Run the bundled query ``name`` on ``connection`` and return a DataFrame.

    Parameters not given take their declared defaults; timestamps may be given as
    ``pandas.Timestamp`` or ``datetime`` and are bound as ISO text.

    Raises
    ------
    InputError
        unknown query name or parameter.
    """
    q = query(name)
    unknown = set(params) - set(q.params)
    if unknown:
        raise InputError(
            f"query {name!r} has no parameter(s) {sorted(unknown)}; it takes: "
            + ", ".join(f"{k} (default {v!r})" for k, v in q.params.items())
        )
    bound = {**q.params, **{k: _bindable(v) for k, v in params.items()}}
    return pd.read_sql_query(q.sql, connection, params=bound)


def _bindable(v):
    if isinstance(v, (pd.Timestamp,)) or hasattr(v, "isoformat"):
        return pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, np.generic):
        return v.item()
    return v


def case_connection(case: Case, tables: tuple[str, ...] = TABLE_NAMES,
                    prefer_source: bool = True) -> sqlite3.Connection:
    """A SQLite connection on which the bundled SQL sees exactly the *validated* case.

    When the case was loaded from a SQLite file and every table asked for came
    through untouched (``case.pristine``: nothing rejected, trimmed or reformatted),
    the file itself is opened read-only: no copy. Otherwise the validated tables
    are written to an in-memory database (timestamps as ``YYYY-MM-DD HH:MM:SS``
    text, flags 0/1, rejected rows left out).
    """
    source = Path(case.source)
    if prefer_source and set(tables) <= case.pristine and source.is_file():
        from ..loaders.sqlite_file import connect_readonly

        return _tuned(connect_readonly(source))
    conn = _tuned(sqlite3.connect(":memory:"))
    for name in tables:
        spec = TABLES[name]
        df = case.table(name)
        cols = list(spec.column_names)
        conn.execute(f"CREATE TABLE {name} (" + ", ".join(f"{c} {_sqltype(spec.column(c).kind)}" for c in cols) + ")")
        arrays = [_column_values(df[c], spec.column(c).kind) for c in cols]
        placeholders = ", ".join("?" for _ in cols)
        conn.executemany(f"INSERT INTO {name} VALUES ({placeholders})", zip(*arrays))
    conn.commit()
    return conn


def _tuned(conn: sqlite3.Connection) -> sqlite3.Connection:
    # GROUP BY over millions of logins sorts in temporary B-trees: keep them in memory
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -262144")  # 256 MiB
    return conn


def _sqltype(kind: str) -> str:
    return {"ts": "TEXT", "flag": "INTEGER", "int": "INTEGER", "float": "REAL"}.get(kind, "TEXT")


def _column_values(s: pd.Series, kind: str) -> list:
    if kind == "ts":
        codes, uniques = pd.factorize(s, use_na_sentinel=True)  # format each distinct time once
        text = np.append(pd.DatetimeIndex(uniques).strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object), None)
        return text[codes].tolist()
    if kind == "flag":
        return s.astype(np.int64).tolist()
    if kind in ("int", "float"):
        return s.astype(object).where(s.notna(), None).tolist()
    return s.astype(object).where(s.notna(), None).tolist()
