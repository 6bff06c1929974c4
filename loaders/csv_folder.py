"""Read a case from a folder of CSV files, one per contract table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..case import Case, load_tables, resolve_columns
from ..errors import SchemaError
from ..case.schema import TABLE_NAMES, TABLES

__all__ = ["load_csv_folder"]


def load_csv_folder(folder: str | Path, chunksize: int = 1_000_000) -> Case:
    """Load ``<table>.csv`` for each contract table from ``folder``.

    Every value is read as text and typed by the validator, so ``007`` stays an
    id and a bad timestamp is a rejected row, not a silently different column type.
    """
    folder = Path(folder)
    files = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    problems, paths = [], {}
    for name in TABLE_NAMES:
        p = files.get(f"{name}.csv")
        if p is None:
            problems.append(
                f"table '{name}' is missing: no {name}.csv in {folder} "
                f"(expected columns: {', '.join(TABLES[name].column_names)})"
            )
            continue
        paths[name] = p
        header = pd.read_csv(p, nrows=0).columns
        problems += resolve_columns(TABLES[name], header)[1]
    if problems:
        raise SchemaError(problems, str(folder))
    sources = {name: _chunks(paths[name], chunksize) for name in TABLE_NAMES}
    return load_tables(sources, str(folder))


def _chunks(path: Path, chunksize: int):
    reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], chunksize=chunksize)
    with reader:
        yield from reader
