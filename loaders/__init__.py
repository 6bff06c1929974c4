"""Loaders: read a case from a SQLite file, a folder of CSVs or a folder of Parquet files into a :class:`~graphfraud.Case`.

All read in chunks, so a case with tens of millions of logins is typed without
ever holding the raw text of all of them at once, and all hand their rows to the
same validator: the same value is used or rejected, with the same reason, whatever
the format.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from ..case import Case, case_from_frames
from ..case.schema import ALL_TABLE_NAMES, TABLE_NAMES
from ..errors import InputError
from .csv_folder import load_csv_folder
from .parquet_folder import load_parquet_folder
from .sqlite_file import load_sqlite

__all__ = ["load_case", "load_sqlite", "load_csv_folder", "load_parquet_folder", "case_from_frames", "FORMATS"]

#: the input formats by name, as ``load_case(format=...)`` and the command's flags name them
FORMATS = {"sqlite": load_sqlite, "csv": load_csv_folder, "parquet": load_parquet_folder}


def load_case(path: str | Path, chunksize: int = 1_000_000, format: str | None = None) -> Case:
    """Load a case from a SQLite file, a folder of CSVs or a folder of Parquet files.

    Parameters
    ----------
    path
        a ``.sqlite``/``.db`` file in the schema of the data contract, or a folder
        holding one file per table (``users``, ``logins``, ``ip_reputation``,
        ``ec2_activity``, ``payments``, ``security_findings``): ``<table>.csv``, or
        ``<table>.parquet`` (a file, or a folder of part files; a ``<table>/`` folder
        of part files works too).
    chunksize
        rows typed at a time; lower it to trade speed for memory.
    format
        ``"sqlite"``, ``"csv"`` or ``"parquet"``; by default it is recognised: a file
        starting with SQLite's header is SQLite, a folder with ``.csv`` files CSV, a
        folder with Parquet tables Parquet.

    Returns
    -------
    Case
        typed tables, with every unusable row in ``case.rejected``.

    Raises
    ------
    SchemaError
        a table or column of the contract is missing (all problems listed).
    InputError
        the path does not exist, is not of the format asked for, or cannot be
        recognised (a folder with both CSV and Parquet files is ambiguous).

    Examples
    --------
    >>> import graphfraud
    >>> case = graphfraud.load_case(graphfraud.sample_case_path())
    >>> int(case.row_counts().loc["logins", "rejected"])
    0
    >>> graphfraud.load_case(graphfraud.sample_case_path(), format="parquett")
    Traceback (most recent call last):
    ...
    graphfraud.errors.InputError: unknown format 'parquett'; did you mean 'parquet'? (formats: sqlite, csv, parquet)
    """
    if format is not None and format not in FORMATS:
        close = difflib.get_close_matches(str(format), FORMATS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown format {format!r}{hint} (formats: {', '.join(FORMATS)})")
    p = Path(path)
    if not p.exists():
        raise InputError(f"case not found: {p} (give a SQLite file, a folder of CSVs or a folder of Parquet files)")
    found = _formats_of(p)
    if format is None:
        if len(found) > 1:
            raise InputError(f"{p} holds both CSV and Parquet tables; keep one format per folder, or say which to "
                             "read (format='csv' or format='parquet'; --csv or --parquet on the command line)")
        if not found:
            raise InputError(f"{p} holds no case tables: expected one <table>.csv or <table>.parquet per table "
                             f"({', '.join(TABLE_NAMES)})" if p.is_dir() else
                             f"{p} is neither a SQLite file nor a folder of CSV or Parquet files")
        format = found.pop()
    elif format == "sqlite" and p.is_dir():
        raise InputError(f"{p} is a folder, not a SQLite file{_hint(found)}")
    elif format != "sqlite" and not p.is_dir():
        raise InputError(f"{p} is a file, not a folder of {_SHOWN[format]} files{_hint(found)}")
    elif format != "sqlite" and format not in found:
        # one line, not six "table is missing" problems: most likely the wrong folder or flag
        raise InputError(f"{p} holds no {_SHOWN[format]} tables (expected one <table>.{format} per table: "
                         f"{', '.join(TABLE_NAMES)}){_hint(found)}")
    return FORMATS[format](p, chunksize=chunksize)


_SHOWN = {"sqlite": "SQLite", "csv": "CSV", "parquet": "Parquet"}
_FLAG = {"sqlite": "--db", "csv": "--csv", "parquet": "--parquet"}


def _hint(found: set[str]) -> str:
    return "".join(f"; it is {_SHOWN[f]}: read it with format={f!r} ({_FLAG[f]} on the command line)"
                   for f in sorted(found)[:1])


def _formats_of(p: Path) -> set[str]:
    """The formats a path holds: ``{"sqlite"}`` for a SQLite file; for a folder, the formats of its table files.

    Only files named after a contract table count, so a folder of Parquet tables
    with a stray ``notes.csv`` (or an analysis's output CSVs) is still Parquet.
    """
    if not p.is_dir():
        with open(p, "rb") as fh:
            return {"sqlite"} if fh.read(16).startswith(b"SQLite format 3") else set()
    found = set()
    for entry in p.iterdir():
        stem, _, ext = entry.name.lower().rpartition(".")
        if ext == "csv" and stem in ALL_TABLE_NAMES and entry.is_file():
            found.add("csv")
        elif ext == "parquet" and stem in ALL_TABLE_NAMES:
            found.add("parquet")  # a file, or a folder of part files (Spark names it <table>.parquet/)
        elif entry.name.lower() in ALL_TABLE_NAMES and entry.is_dir() and any(
                q.name.lower().endswith(".parquet") for q in entry.rglob("*")):
            found.add("parquet")
    return found
