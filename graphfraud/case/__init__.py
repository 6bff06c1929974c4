"""Stage 1, load: the case and its validation.

The loaders (``graphfraud.loaders``: SQLite file, CSV folder, Parquet folder) read raw tables;
everything here turns them into one typed :class:`Case`, with every unusable
row recorded in ``Case.rejected``. Nothing downstream re-validates.

Modules: ``schema`` (the data contract as data), ``validate`` (raw tables to
typed columns, rejected rows), ``model`` (the :class:`Case`), ``period`` (the analysis period and the
signal window every number refers to), ``arrays``
(vectorised views of a case shared by the later stages: time windows, codes).
"""

from .model import REJECTED_COLUMNS, Case
from .period import Period, Periods, parse_time, resolve_periods
from .schema import ALL_TABLE_NAMES, BAD_PAYMENT_STATUSES, OPTIONAL_TABLE_NAMES, TABLE_NAMES, TABLES, Column, TableSpec
from .validate import case_from_frames, load_tables, resolve_columns

__all__ = ["Case", "case_from_frames", "load_tables", "resolve_columns", "REJECTED_COLUMNS", "TABLES",
           "TABLE_NAMES", "OPTIONAL_TABLE_NAMES", "ALL_TABLE_NAMES", "BAD_PAYMENT_STATUSES", "Column", "TableSpec", "Period", "Periods", "resolve_periods", "parse_time"]
