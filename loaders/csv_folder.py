"""Read a case from a folder of CSV files, one per contract table."""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..case import Case, load_tables, resolve_columns
from ..case.schema import ALL_TABLE_NAMES, TABLES
from ..errors import InputError, SchemaError

__all__ = ["load_csv_folder"]

_SNIFF = 4096
# Undecodable bytes become lone surrogates: the validator rejects those rows (naming the
# value with \x escapes) instead of the whole load failing on one bad byte.
_ERRORS = "surrogateescape"


def load_csv_folder(folder: str | Path, chunksize: int = 1_000_000) -> Case:
    """Load ``<table>.csv`` for each contract table from ``folder``.

    Every value is read as text and typed by the validator, so ``007`` stays an
    id and a bad timestamp is a rejected row, not a silently different column type.
    Files are UTF-8 (a byte-order mark is skipped); UTF-16 with or without a BOM is
    detected and decoded. Blank lines are rows (rejected as ``"blank line"``), and
    ``case.rejected.line`` gives the physical line where a rejected record starts.

    Raises
    ------
    SchemaError
        a file is missing or empty, or its header lacks (or repeats) a contract column.
    InputError
        a line cannot be parsed (wrong number of fields, a quote never closed),
        naming the file and line.
    """
    folder = Path(folder)
    files = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    problems, paths, encodings = [], {}, {}
    for name in ALL_TABLE_NAMES:
        p = files.get(f"{name}.csv")
        expected = ", ".join(TABLES[name].column_names)
        if p is None and TABLES[name].optional:
            continue
        if p is None:
            problems.append(f"table '{name}' is missing: no {name}.csv in {folder} (expected columns: {expected})")
            continue
        encodings[name] = enc = _encoding(p)
        header = _header(p, enc)
        if header is None:
            problems.append(f"table '{name}': {p} is an empty file (expected a header line: {expected})")
            continue
        if not any(h.strip() for h in header):
            problems.append(f"table '{name}': the first line of {p} is blank (expected a header line: {expected})")
            continue
        paths[name] = p
        problems += [f"{p.name}: {prob}" for prob in resolve_columns(TABLES[name], header)[1]]
    if problems:
        raise SchemaError(problems, str(folder))
    sources = {name: _chunks(paths[name], encodings[name], chunksize) for name in paths}
    locate = {name: (lambda rows, p=paths[name], e=encodings[name]: _record_lines(p, e, rows))
              for name in paths}
    return load_tables(sources, str(folder), locate=locate)


def _encoding(path: Path) -> str:
    """UTF-8 (BOM skipped) unless the file starts with a UTF-16/32 BOM or looks like BOM-less UTF-16."""
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if len(head) >= 4:
        # ASCII text saved as UTF-16 has a zero in every other byte
        even, odd = head[0::2], head[1::2]
        if odd.count(0) >= 0.4 * len(odd) and even.count(0) == 0:
            return "utf-16-le"
        if even.count(0) >= 0.4 * len(even) and odd.count(0) == 0:
            return "utf-16-be"
    return "utf-8"


def _open(path: Path, encoding: str):
    return open(path, encoding=encoding, errors=_ERRORS, newline="")


def _header(path: Path, encoding: str) -> list[str] | None:
    """The raw header fields, read with the csv module (pandas would rename a repeated name)."""
    try:
        with _open(path, encoding) as fh:
            return next(csv.reader(fh), None)
    except (csv.Error, UnicodeError) as exc:
        raise InputError(f"{path}: line 1 (the header) cannot be read as CSV: {exc}") from exc


def _chunks(path: Path, encoding: str, chunksize: int):
    try:
        # object, not str: with pyarrow installed pandas would store str as Arrow strings,
        # which cannot hold the lone surrogates that mark undecodable bytes
        reader = pd.read_csv(path, dtype=object, keep_default_na=False, na_values=[""], chunksize=chunksize,
                             skip_blank_lines=False, encoding=encoding, encoding_errors=_ERRORS)
        with reader:
            yield from reader
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError, ValueError, OverflowError) as exc:
        raise _parse_error(path, encoding, exc) from exc


def _parse_error(path: Path, encoding: str, exc: Exception) -> InputError:
    """One sentence naming the file and the physical line of the first malformed record."""
    text = str(exc)
    header = _header(path, encoding) or []
    line, fields = _first_long_record(path, encoding, len(header))
    if "EOF inside string" in text or "EOF while" in text:
        start = _last_record_line(path, encoding)
        where = f"line {start}" if start else "a line"
        return InputError(f"{path}: {where}: a quoted value is never closed (a '\"' without its closing '\"'); "
                          "fix the quoting and load again")
    m = re.search(r"Expected (\d+) fields in line \d+, saw (\d+)", text)
    if m and line:
        return InputError(f"{path}: line {line} has {fields} fields but the header has {len(header)} "
                          "(a stray delimiter, or a value with a comma that is not quoted?)")
    if m:
        return InputError(f"{path}: a line has {m.group(2)} fields but the header has {m.group(1)} ({text.strip()})")
    hint = " (it looks like UTF-16: save it as UTF-8)" if encoding.startswith("utf-16") else ""
    return InputError(f"{path}: cannot be read as CSV: {text.strip()}{hint}")


def _scan(path: Path, encoding: str):
    """``(record index, first physical line, fields)`` per record after the header."""
    with _open(path, encoding) as fh:
        reader = csv.reader(fh)
        try:
            next(reader)
            end = reader.line_num
            for i, rec in enumerate(reader):
                yield i, end + 1, rec
                end = reader.line_num
        except (csv.Error, UnicodeError):
            return


def _first_long_record(path: Path, encoding: str, n: int) -> tuple[int | None, int]:
    for _, line, rec in _scan(path, encoding):
        if len(rec) > n:
            return line, len(rec)
    return None, 0


def _last_record_line(path: Path, encoding: str) -> int | None:
    last = None
    for _, line, _ in _scan(path, encoding):
        last = line
    return last


def _record_lines(path: Path, encoding: str, rows: np.ndarray) -> np.ndarray:
    """Physical start line (1-based) of the data records at ``rows`` (sorted); 0 where not found.

    Runs only when a table has rejections, and stops at the last rejected record, so a
    clean load never scans the file twice.
    """
    out = np.zeros(len(rows), dtype=np.int64)
    if not len(rows):
        return out
    k, last = 0, int(rows[-1])
    for i, line, _ in _scan(path, encoding):
        while k < len(rows) and rows[k] == i:
            out[k] = line
            k += 1
        if i >= last:
            break
    return out
