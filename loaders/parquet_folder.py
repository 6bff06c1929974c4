"""Read a case from a folder of Parquet files, one table per file or per folder of part files."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa  # pandas imports it already when it is installed
import pyarrow.compute as pc

from ..case import Case, load_tables, resolve_columns
from ..case.schema import ALL_TABLE_NAMES, TABLES, TableSpec
from ..errors import InputError, SchemaError

__all__ = ["load_parquet_folder"]

# Spark and Hive write _SUCCESS, _metadata and .crc files beside the parts; pyarrow skips these too
_HIDDEN = ("_", ".")
# what Hive writes for a null partition value
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# how many part files a problem shared by many parts names before "and N more"
_NAMED_PARTS = 3


@dataclass(frozen=True)
class _Part:
    """One Parquet file of a table, with the ``key=value`` folders above it (hive partitioning)."""

    table: str
    path: Path
    shown: str  # the path relative to the case folder, as problems name it
    partition: tuple[tuple[str, str | None], ...]


def load_parquet_folder(folder: str | Path, chunksize: int = 1_000_000) -> Case:
    """Load each contract table from ``<table>.parquet`` or ``<table>/`` in ``folder``.

    A table is a single Parquet file, or a folder of part files (``logins/part-0.parquet``,
    Spark's ``logins.parquet/part-00000-....snappy.parquet``, hive-partitioned
    ``logins/day=2025-08-01/...``). Part files are read in natural path order
    (``part-2`` before ``part-10``); a ``key=value`` folder supplies column ``key``
    to the files below it when they lack it. Names are matched ignoring case, and
    columns other than the contract's are not read.

    Values are judged by the same validator as CSV and SQLite: a bad value is a
    rejected row with its reason. Timestamps may be Arrow timestamps (an aware one is
    converted to UTC), dates, or text in the contract's ISO-8601 form. ``row`` of a
    rejected record is its 0-based position in the table (the part files one after
    the other, in the order above) and ``line`` is that position counted from 1.

    Parameters
    ----------
    folder
        the case folder.
    chunksize
        rows typed at a time; lower it to trade speed for memory.

    Returns
    -------
    Case
        typed tables, with every unusable row in ``case.rejected``.

    Raises
    ------
    SchemaError
        a table or column is missing, a column is given twice, or a column's Parquet
        type cannot hold its contract kind (a timestamp stored as an integer, a flag as
        a date): every problem at once, naming table, column and file.
    InputError
        a file is not readable as Parquet, naming the file and table.

    Examples
    --------
    >>> import sqlite3, tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> import graphfraud
    >>> folder = Path(tempfile.mkdtemp())
    >>> with sqlite3.connect(graphfraud.sample_case_path()) as conn:
    ...     for name in ALL_TABLE_NAMES:
    ...         pd.read_sql_query(f"SELECT * FROM {name}", conn).to_parquet(folder / f"{name}.parquet")
    >>> case = load_parquet_folder(folder)
    >>> len(case.users), len(case.rejected)
    (1500, 0)
    """
    folder = Path(folder)
    parts, problems = {}, []
    for name in ALL_TABLE_NAMES:
        found, missing = _table_parts(folder, name)
        if missing and TABLES[name].optional and missing.startswith(f"table '{name}' is missing"):
            continue
        if missing:
            problems.append(missing)
            continue
        parts[name] = found
        problems += _schema_problems(TABLES[name], found)
    if problems:
        raise SchemaError(problems, str(folder))
    sources = {name: _frames(TABLES[name], parts[name], chunksize) for name in parts}
    # row and line differ only in counting from 0 or 1: a Parquet file has no physical lines
    locate = {name: (lambda rows: np.asarray(rows, dtype=np.int64) + 1) for name in parts}
    return load_tables(sources, str(folder), locate=locate)


def _table_parts(folder: Path, table: str) -> tuple[list[_Part], str | None]:
    """The Parquet files of ``table`` in reading order, or a sentence saying why there are none."""
    entries = {p.name.lower(): p for p in folder.iterdir()}
    expected = ", ".join(TABLES[table].column_names)
    candidates = [p for p in (entries.get(f"{table}.parquet"), entries.get(table)) if p is not None
                  and (p.is_dir() or p.name.lower().endswith(".parquet"))]
    if not candidates:
        return [], (f"table '{table}' is missing: no {table}.parquet file or {table}/ folder of part files in "
                    f"{folder} (expected columns: {expected})")
    if len(candidates) > 1:
        return [], (f"table '{table}' is given twice: {candidates[0].name} and {candidates[1].name}/ "
                    "(keep one, or the rows would be counted twice)")
    top = candidates[0]
    if top.is_file():
        return [_Part(table, top, top.name, ())], None
    files, strays = [], []
    for p in sorted(top.rglob("*"), key=lambda q: _natural(q.relative_to(top))):
        rel = p.relative_to(top)
        if not p.is_file() or any(s.startswith(_HIDDEN) for s in rel.parts):
            continue
        if p.name.lower().endswith(".parquet"):
            files.append(_Part(table, p, str(p.relative_to(folder)), _partition(rel)))
        else:
            strays.append(str(p.relative_to(folder)))
    if strays:
        # reading around them would drop their rows without a word
        return [], (f"table '{table}': {top.name}/ holds files that are not Parquet ({_some(strays)}); move them "
                    "out, or prefix them with '_' or '.' to have them skipped")
    if not files:
        return [], f"table '{table}': the folder {top} holds no .parquet files (expected columns: {expected})"
    return files, None


def _natural(rel: Path) -> tuple:
    """Sort key in which ``part-2`` comes before ``part-10``."""
    return tuple(tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", s) if t)
                 for s in rel.parts)


def _partition(rel: Path) -> tuple[tuple[str, str | None], ...]:
    """``key=value`` folders between the table's folder and the file (values URL-decoded, as Hive writes them)."""
    pairs = []
    for segment in rel.parts[:-1]:
        key, eq, value = segment.partition("=")
        if eq and key:
            value = unquote(value)
            pairs.append((unquote(key), None if value == _HIVE_NULL else value))
    return tuple(pairs)


def _some(names: Sequence[str]) -> str:
    more = f" and {len(names) - _NAMED_PARTS} more" if len(names) > _NAMED_PARTS else ""
    return ", ".join(names[:_NAMED_PARTS]) + more


# ------------------------------------------------------------------ schema

def _is_text(t) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
            or pa.types.is_large_binary(t) or _is_view(t))


def _is_view(t) -> bool:
    # string_view/binary_view arrived in pyarrow 16
    return any(getattr(pa.types, f, lambda _: False)(t) for f in ("is_string_view", "is_binary_view"))


def _is_number(t) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _is_flag(t) -> bool:
    return pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t)


def _is_time(t) -> bool:
    return pa.types.is_timestamp(t) or pa.types.is_date(t)


# Parquet types each kind accepts besides text (judged value by value) and all-null columns.
# Anything else would turn every value of the column into the same rejection, so it is a
# SchemaError naming the column instead. An epoch number is no timestamp: seconds or milliseconds?
_ACCEPTS = {
    "id": (pa.types.is_integer, "text or an integer"),
    "text": (pa.types.is_integer, "text or an integer"),
    "enum": (lambda t: False, "text"),
    "ts": (_is_time, "a timestamp, a date or ISO-8601 text"),
    "flag": (_is_flag, "a boolean, 0/1 or text"),
    "int": (_is_number, "a number or text"),
    "float": (_is_number, "a number or text"),
}


def _value_type(t):
    return t.value_type if pa.types.is_dictionary(t) else t


def _type_ok(kind: str, t) -> bool:
    t = _value_type(t)
    return pa.types.is_null(t) or _is_text(t) or _ACCEPTS[kind][0](t)


def _schema(part: _Part):
    import pyarrow.parquet as pq  # ~0.1 s to import: only when a Parquet case is read

    try:
        return pq.read_schema(part.path)
    except (pa.ArrowException, OSError) as exc:
        raise _read_error(part, exc) from exc


def _read_error(part: _Part, exc: Exception) -> InputError:
    return InputError(f"{part.path}: table '{part.table}': cannot be read as Parquet ({exc}); "
                      "re-export the file, or remove it")


def _columns(part: _Part, schema) -> list[str]:
    """The file's columns, then the partition keys it lacks (a file's own column wins over its folder)."""
    names = list(schema.names)
    have = {n.strip().lower() for n in names}
    return names + [k for k, _ in part.partition if k.strip().lower() not in have]


def _schema_problems(spec: TableSpec, parts: list[_Part]) -> list[str]:
    """Every column problem of every part; a problem shared by many parts is one line naming a few."""
    where: dict[str, list[str]] = {}
    for part in parts:
        schema = _schema(part)
        mapping, problems = resolve_columns(spec, _columns(part, schema))
        for col in spec.columns:
            name = mapping.get(col.name)
            if name is None or name not in schema.names:
                continue  # missing (already a problem), or from a partition folder: text
            t = schema.field(name).type
            if not _type_ok(col.kind, t):
                problems.append(f"table '{spec.name}': column '{col.name}' is stored as {t}; expected "
                                f"{_ACCEPTS[col.kind][1]} ({col.description}), so every row would be rejected")
        for p in problems:
            where.setdefault(p, []).append(part.shown)
    return [f"{_some(files)}: {p}" for p, files in where.items()]


# ------------------------------------------------------------------ reading

def _frames(spec: TableSpec, parts: list[_Part], chunksize: int) -> Iterator[pd.DataFrame]:
    """The table as DataFrames of about ``chunksize`` rows with the contract's column names.

    Consecutive batches of the same Arrow types are joined, so a folder of many small
    part files is typed in a few large chunks rather than one small chunk per file.
    """
    pending, rows = [], 0
    for batch in _batches(spec, parts, chunksize):
        if pending and (batch.schema != pending[0].schema or rows + batch.num_rows > chunksize):
            yield _to_pandas(spec, pending)
            pending, rows = [], 0
        pending.append(batch)
        rows += batch.num_rows
    if pending:
        yield _to_pandas(spec, pending)


def _to_pandas(spec: TableSpec, batches: list) -> pd.DataFrame:
    try:
        # a dictionary column of several batches becomes one categorical (pyarrow unifies the dictionaries)
        return pa.Table.from_batches(batches).to_pandas()
    except pa.ArrowException as exc:
        raise InputError(f"table '{spec.name}': the Parquet values cannot be converted ({exc}); "
                         "re-export the table") from exc


def _batches(spec: TableSpec, parts: list[_Part], chunksize: int):
    import pyarrow.parquet as pq  # ~0.1 s to import: only when a Parquet case is read

    # an optional column that some parts have and others lack is null in the others (every batch alike)
    names = [c for c in spec.column_names if any(c in resolve_columns(spec, _columns(p, _schema(p)))[0]
                                                 for p in parts)]
    for part in parts:
        schema = _schema(part)
        mapping = resolve_columns(spec, _columns(part, schema))[0]
        stored = [mapping[c] for c in names if c in mapping and mapping[c] in schema.names]
        # text arrives dictionary-encoded: the validator then cleans each distinct value once
        text = [n for n in stored if _is_text(_value_type(schema.field(n).type))]
        try:
            pf = pq.ParquetFile(part.path, read_dictionary=text)
            with pf:
                for batch in pf.iter_batches(batch_size=chunksize, columns=stored):
                    arrays = [(batch.column(mapping[c]) if mapping[c] in schema.names
                               else _constant(dict(part.partition)[mapping[c]], batch.num_rows))
                              if c in mapping else pa.nulls(batch.num_rows, pa.string()) for c in names]
                    arrays = [_prepare(a, spec.column(c).kind) for a, c in zip(arrays, names)]
                    yield pa.RecordBatch.from_arrays(arrays, names=names)
        except (pa.ArrowException, OSError) as exc:
            raise _read_error(part, exc) from exc


def _constant(value: str | None, n: int):
    """A partition folder's value for every row of a batch."""
    indices = pa.nulls(n, pa.int32()) if value is None else pa.array(np.zeros(n, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array([] if value is None else [value], pa.string()))


def _prepare(arr, kind: str):
    """Arrow column -> what the validator takes: text stays text, typed values keep their type."""
    t = arr.type
    if pa.types.is_dictionary(t) and not _is_text(t.value_type):
        arr, t = arr.dictionary_decode(), t.value_type
    if pa.types.is_dictionary(t):
        return _valid_text(arr)
    if _is_text(t):
        return _valid_text(arr)
    if pa.types.is_integer(t) and kind in ("id", "text"):
        return pc.cast(arr, pa.string())  # exact, unlike the float pandas makes of an int column with nulls
    if pa.types.is_date(t):
        return pc.cast(arr, pa.timestamp("s" if pa.types.is_date32(t) else "ms"))
    if pa.types.is_decimal(t):
        return pc.cast(arr, pa.float64())  # pandas would make Python Decimal objects
    return arr


def _valid_text(arr):
    """Text as is, or as bytes where it is not valid UTF-8.

    Parquet readers do not check UTF-8, and pandas cannot take a bad string; as bytes
    the validator decodes it and rejects the row naming the bytes.
    """
    values = arr.dictionary if pa.types.is_dictionary(arr.type) else arr
    if _is_view(values.type) or pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        return arr
    try:
        values.validate(full=True)
        return arr
    except pa.ArrowInvalid:
        pass
    binary = pa.large_binary() if pa.types.is_large_string(values.type) else pa.binary()
    if pa.types.is_dictionary(arr.type):
        return pa.DictionaryArray.from_arrays(arr.indices, arr.dictionary.cast(binary))
    return arr.cast(binary)
