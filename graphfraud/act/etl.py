"""The data-lake side of the transaction ETL: transactions, customers and rejected rows as Parquet or CSV.

Parquet is laid out as Athena, DuckDB and ``pyarrow.dataset`` read it without a
schema file: one folder per table, transactions partitioned Hive-style by day
(``transactions/day=2025-08-01/part-0.parquet``; the ``day`` column lives in the
folder name, not in the file), timestamps as milliseconds (Athena does not read
nanoseconds). Every file goes through :class:`~graphfraud.act.output.OutputFolder`:
written atomically, listed with its row count and sha256 in ``manifest.json``,
and a partition a previous run wrote that this run did not is removed.

Examples
--------
>>> import tempfile, graphfraud
>>> case = graphfraud.load_case(graphfraud.sample_case_path())
>>> result = run_etl(case)
>>> manifest = write_etl(result, tempfile.mkdtemp(), format="csv")
>>> sorted(f["path"] for f in manifest["files"])
['customers.csv', 'rejected_rows.csv', 'transactions.csv']
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..case import REJECTED_COLUMNS, Case
from ..detect.transaction_flags import TransactionParams, customer_aggregates, transactions
from ..errors import InputError
from .output import OutputFolder

__all__ = ["EtlResult", "run_etl", "write_etl", "ETL_FORMATS"]

ETL_FORMATS = ("parquet", "csv")


@dataclass(frozen=True, eq=False)
class EtlResult:
    """What the ETL produced: ``transactions``, ``customers`` and every ``rejected`` payment row with its reason.

    ``rejected`` holds the rows the loader rejected from ``payments``, ``blocklist``
    and ``fx_rates`` (by source row; a rejected rate or listing changes the
    conversions and flags) and the payments the conversion rejected (``row`` =
    position in the validated table); ``stage`` tells which.
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame
    rejected: pd.DataFrame
    params: TransactionParams
    source: str

    def period(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """First and last payment time the tables cover."""
        ts = self.transactions["payment_ts"]
        return (ts.min(), ts.max()) if len(ts) else (None, None)


def run_etl(case: Case, params: TransactionParams | None = None, **overrides) -> EtlResult:
    """Transactions, customer aggregates and rejected rows of a case (see :func:`~graphfraud.transactions`)."""
    p = params or TransactionParams(**overrides)
    tx, conv = transactions(case, p, with_rejected=True)
    loaded = case.rejected[case.rejected["table"].isin(["payments", "blocklist", "fx_rates"]).to_numpy()]
    rejected = pd.concat([loaded.assign(stage="load"), conv.assign(stage="conversion")], ignore_index=True)
    return EtlResult(tx, customer_aggregates(case, tx), rejected[["stage", *REJECTED_COLUMNS]], p, case.source)


def write_etl(result: EtlResult, out: str | Path, format: str = "parquet") -> dict:
    """Write the ETL's tables into ``out`` and return the manifest.

    ``format="parquet"``: ``transactions/day=YYYY-MM-DD/part-0.parquet``,
    ``customers/part-0.parquet``, ``rejected/part-0.parquet``;
    ``format="csv"``: ``transactions.csv``, ``customers.csv``, ``rejected_rows.csv``.
    """
    if format not in ETL_FORMATS:
        raise InputError(f"unknown ETL format {format!r} (formats: {', '.join(ETL_FORMATS)})")
    folder = OutputFolder(out)
    tx = result.transactions
    if format == "csv":
        folder.csv("transactions.csv", tx)
        folder.csv("customers.csv", result.customers)
        folder.csv("rejected_rows.csv", result.rejected)
    else:
        day = pd.Categorical(tx["day"])
        codes, names = day.codes, np.asarray(day.categories, dtype=object)
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1], True]) if len(tx) else [0]
        body = tx.drop(columns="day")
        schema = _schema(body)  # one schema for every day, or readers that unify partitions fail
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            rows = order[lo:hi]
            folder.bytes(f"transactions/day={names[codes[rows[0]]]}/part-0.parquet",
                         _parquet(body.iloc[rows], schema), rows=len(rows))
        folder.bytes("customers/part-0.parquet", _parquet(result.customers), rows=len(result.customers))
        folder.bytes("rejected/part-0.parquet", _parquet(result.rejected), rows=len(result.rejected))
    first, last = result.period()
    tiers = tx["risk_tier"].value_counts().to_dict() if len(tx) else {}
    return folder.finish({
        "tool": "graphfraud etl", "input": result.source, "format": format,
        "period": {"first_payment": first, "last_payment": last},
        "rows": {"transactions": len(tx), "customers": len(result.customers), "rejected": len(result.rejected)},
        "risk_tiers": {k: int(v) for k, v in tiers.items()},
        "parameters": result.params.as_dict()})


def _schema(df: pd.DataFrame):
    """The Arrow schema of ``df``; a column with no value at all is typed as text, not as ``null``."""
    import pyarrow as pa

    schema = pa.Schema.from_pandas(df, preserve_index=False)
    for i, f in enumerate(schema):
        # a categorical's whole dictionary would be written into every day's file: plain text instead
        # (Parquet dictionary-encodes each file's own values)
        if pa.types.is_null(f.type) or pa.types.is_large_string(f.type) or pa.types.is_dictionary(f.type):
            schema = schema.set(i, pa.field(f.name, pa.string()))
    return schema.remove_metadata()


def _parquet(df: pd.DataFrame, schema=None) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = df.reset_index(drop=True)
    table = pa.Table.from_pandas(df, schema=schema or _schema(df), preserve_index=False)
    buf = io.BytesIO()
    # milliseconds: Athena (Presto/Trino) and Hive cannot read nanosecond timestamps
    pq.write_table(table, buf, coerce_timestamps="ms", allow_truncated_timestamps=True, compression="snappy")
    return buf.getvalue()
