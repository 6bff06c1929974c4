"""Loaders: read a case from a SQLite file or a folder of CSVs into a :class:`~graphfraud.Case`.

Both read in chunks, so a case with tens of millions of logins is typed without
ever holding the raw text of all of them at once.
"""

from __future__ import annotations

from pathlib import Path

from ..case import Case, case_from_frames
from ..errors import InputError
from .csv_folder import load_csv_folder
from .sqlite_file import load_sqlite

__all__ = ["load_case", "load_sqlite", "load_csv_folder", "case_from_frames"]


def load_case(path: str | Path, chunksize: int = 1_000_000) -> Case:
    """Load a case from a SQLite file or a folder of CSVs named after the tables.

    Parameters
    ----------
    path
        a ``.sqlite``/``.db`` file in the schema of the data contract, or a folder
        holding ``users.csv``, ``logins.csv``, ``ip_reputation.csv``,
        ``ec2_activity.csv``, ``payments.csv`` and ``security_findings.csv``.
    chunksize
        rows typed at a time; lower it to trade speed for memory.

    Returns
    -------
    Case
        typed tables, with every unusable row in ``case.rejected``.

    Raises
    ------
    SchemaError
        a table or column of the contract is missing (all problems listed).
    InputError
        the path does not exist or is neither a folder nor a SQLite file.

    Examples
    --------
    >>> import graphfraud
    >>> case = graphfraud.load_case(graphfraud.sample_case_path())
    >>> int(case.row_counts().loc["logins", "rejected"])
    0
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"case not found: {p} (give a SQLite file or a folder of CSVs)")
    if p.is_dir():
        return load_csv_folder(p, chunksize=chunksize)
    with open(p, "rb") as fh:
        magic = fh.read(16)
    if magic.startswith(b"SQLite format 3"):
        return load_sqlite(p, chunksize=chunksize)
    raise InputError(f"{p} is neither a SQLite file nor a folder of CSVs")
