"""The Parquet loader: same tables, same rejections and same results as SQLite and CSV.

Cases are written with pyarrow the way data lakes hold them: one file per table, a
folder of part files (Spark's ``logins.parquet/`` with ``_SUCCESS``), hive partitions.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphfraud
from graphfraud import InputError, SchemaError
from graphfraud.case.schema import ALL_TABLE_NAMES, TABLE_NAMES, TABLES
from graphfraud.errors import GraphFraudError

from conftest import LOGIN_COLUMNS



def _write_tables(folder, tables):
    """One ``<table>.parquet`` per table (DataFrames or Arrow tables) in a new ``folder``."""
    folder.mkdir()
    for name, t in tables.items():
        pq.write_table(t if isinstance(t, pa.Table) else pa.Table.from_pandas(t, preserve_index=False),
                       folder / f"{name}.parquet")
    return folder

def sqlite_tables(path=None) -> dict[str, pd.DataFrame]:
    """The raw tables of a SQLite case, values as stored (timestamps are text)."""
    with sqlite3.connect(path or graphfraud.sample_case_path()) as conn:
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {name: pd.read_sql_query(f"SELECT * FROM {name}", conn) for name in ALL_TABLE_NAMES if name in have}


def typed(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """The table as a data lake types it: Arrow timestamps and booleans instead of text and 0/1."""
    df = df.copy()
    for col in TABLES[name].columns:
        if col.kind == "ts":
            df[col.name] = pd.to_datetime(df[col.name])
        elif col.kind == "flag":
            df[col.name] = df[col.name].astype(bool)
    return df


def write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)


def write_case(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        write(df, folder / f"{name}.parquet")
    return folder


def empty_tables() -> dict[str, pd.DataFrame]:
    return {n: pd.DataFrame({c: pd.Series(dtype=object) for c in TABLES[n].column_names}) for n in TABLE_NAMES}


def assert_same_tables(a, b, check_dtype=True):
    for name in TABLE_NAMES:
        x, y = a.table(name), b.table(name)
        if not check_dtype:
            x, y = x.astype(object), y.astype(object)
        pd.testing.assert_frame_equal(x, y, obj=name)


@pytest.fixture(scope="module")
def raw():
    return sqlite_tables()


# ------------------------------------------------------------------ round trips

def test_text_parquet_case_loads_exactly_as_the_sqlite_case(tmp_path, raw, sample_case):
    case = graphfraud.load_case(write_case(tmp_path / "pq", raw))
    assert_same_tables(sample_case, case)
    assert case.rejected.empty
    assert case.row_counts()["read"].tolist() == sample_case.row_counts()["read"].tolist()


def test_typed_parquet_case_loads_as_the_sqlite_case(tmp_path, raw, sample_case):
    tables = {name: typed(name, df) for name, df in raw.items()}
    assert pq.read_schema(write_case(tmp_path / "pq", tables) / "logins.parquet").field("event_ts").type == \
        pa.timestamp("us")
    case = graphfraud.load_case(tmp_path / "pq", chunksize=4000)
    assert_same_tables(sample_case, case, check_dtype=False)
    assert case.rejected.empty


def test_aware_timestamps_and_dates_become_naive_utc(tmp_path):
    tables = empty_tables()
    tables["users"] = pa.table({
        "account_id": ["A1", "A2"],
        "country": ["DE", "FR"],
        "signup_ts": pa.array([dt.date(2025, 5, 3), None], pa.date32()),
        "email_domain": ["x.de", "y.fr"],
        "is_enterprise": pa.array([1, 0], pa.int8()),
    })
    tables["logins"] = pa.table({
        "event_ts": pa.array([dt.datetime(2025, 8, 1, 2, 22, tzinfo=ZoneInfo("Europe/Berlin"))] * 2,
                             pa.timestamp("ms", tz="Europe/Berlin")),
        "account_id": pa.array([1001, 1002], pa.int64()),  # integer ids become text
        "ip": ["1.1.1.1", "1.1.1.1"], "country_iso": ["DE", "DE"], "result": ["fail", "SUCCESS"],
        "mfa_used": [True, False], "device_id": ["d1", "d2"],
    })
    case = graphfraud.load_case(_write_tables(tmp_path / "pq", tables))
    assert case.users["signup_ts"].tolist()[0] == pd.Timestamp("2025-05-03")
    assert pd.isna(case.users["signup_ts"].tolist()[1])
    assert case.users["is_enterprise"].tolist() == [True, False]
    # stored as 02:22 Berlin time (UTC+2 in August): 00:22 UTC
    assert case.logins["event_ts"].tolist() == [pd.Timestamp("2025-08-01 00:22")] * 2
    assert case.logins["account_id"].astype(object).tolist() == ["1001", "1002"]
    assert case.logins["result"].astype(object).tolist() == ["FAIL", "SUCCESS"]


def test_a_small_case_gives_the_same_analysis_from_sqlite_and_parquet(tmp_path):
    from graphfraud.cli import main
    from graphfraud.synth import write_case as synth_case

    db = tmp_path / "small.sqlite"
    synth_case(db, 200, seed=3, days=21)
    tables = sqlite_tables(db)
    write_case(tmp_path / "pq", {n: typed(n, df) for n, df in tables.items()})
    assert main(["analyze", "--db", str(db), "--out", str(tmp_path / "a"), "-q", "--no-cases"]) == 0
    assert main(["analyze", "--parquet", str(tmp_path / "pq"), "--out", str(tmp_path / "b"), "-q", "--no-cases"]) == 0
    outputs = sorted(p.name for p in (tmp_path / "a").glob("*.csv"))
    assert "account_signals.csv" in outputs and "rings.csv" in outputs
    for name in outputs:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# ------------------------------------------------------------------ part files

def test_a_folder_of_part_files_reads_in_natural_order(tmp_path, raw, sample_case):
    folder = write_case(tmp_path / "pq", {n: df for n, df in raw.items() if n != "logins"})
    logins = raw["logins"]
    bounds = np.linspace(0, len(logins), 12).astype(int)
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        write(logins.iloc[lo:hi], folder / "logins" / f"part-{k}.parquet")  # part-10 after part-9, not after part-1
    (folder / "logins" / "_SUCCESS").write_text("")
    (folder / "logins" / ".part-0.parquet.crc").write_bytes(b"\x00")
    case = graphfraud.load_case(folder, chunksize=5000)
    assert_same_tables(sample_case, case, check_dtype=False)


def test_spark_style_table_folder_named_table_dot_parquet(tmp_path, raw, sample_case):
    folder = write_case(tmp_path / "pq", {n: df for n, df in raw.items() if n != "payments"})
    pay = raw["payments"]
    write(pay.iloc[:5000], folder / "payments.parquet" / "part-00000-abc.snappy.parquet")
    write(pay.iloc[5000:], folder / "payments.parquet" / "part-00001-abc.snappy.parquet")
    case = graphfraud.load_case(folder)
    pd.testing.assert_frame_equal(case.payments, sample_case.payments)


def test_hive_partition_folders_supply_a_column_the_files_lack(tmp_path, raw, sample_case):
    folder = write_case(tmp_path / "pq", {n: df for n, df in raw.items() if n != "logins"})
    for (day, result), part in raw["logins"].groupby([raw["logins"]["event_ts"].str[:10], "result"]):
        write(part.drop(columns="result"), folder / "logins" / f"day={day}" / f"result={result}" / "part-0.parquet")
    case = graphfraud.load_case(folder)
    key = ["event_ts", "account_id", "ip", "device_id", "result"]

    def ordered(df):
        return df.astype(object).sort_values(key).reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(case.logins), ordered(sample_case.logins))


def test_rejected_rows_of_later_parts_are_numbered_within_the_table(tmp_path):
    tables = empty_tables()
    folder = write_case(tmp_path / "pq", {n: df for n, df in tables.items() if n != "logins"})
    rows = [("2025-08-01 10:00:00", "A1", "1.1.1.1", "DE", "FAIL", 0, "d1")] * 3
    write(pd.DataFrame(rows, columns=LOGIN_COLUMNS), folder / "logins" / "part-0.parquet")
    bad = rows[:1] + [("2025-08-01 10:00:00", "A1", "1.1.1.1", "DE", "LOCKED", 0, "d1")]
    write(pd.DataFrame(bad, columns=LOGIN_COLUMNS), folder / "logins" / "part-1.parquet")
    case = graphfraud.load_case(folder)
    rej = case.rejected
    assert rej[["table", "row", "column", "line"]].values.tolist() == [["logins", 4, "result", 5]]
    assert case.row_counts().loc["logins"].tolist() == [5, 4, 1]


def test_part_folder_problems(tmp_path, raw):
    folder = write_case(tmp_path / "pq", raw)
    write(raw["logins"], folder / "logins" / "part-0.parquet")  # logins.parquet and logins/ both
    (folder / "ec2_activity.parquet").unlink()
    (folder / "ec2_activity").mkdir()  # an empty part folder
    write(raw["payments"], folder / "payments" / "part-0.parquet")
    (folder / "payments.parquet").unlink()
    (folder / "payments" / "notes.txt").write_text("exported by ...")
    with pytest.raises(SchemaError) as err:
        graphfraud.load_case(folder, format="parquet")
    problems = "\n".join(err.value.problems)
    assert "table 'logins' is given twice: logins.parquet and logins/" in problems
    assert "table 'ec2_activity': the folder" in problems and "holds no .parquet files" in problems
    assert "table 'payments': payments/ holds files that are not Parquet (payments/notes.txt)" in problems
    assert len(err.value.problems) == 3


# ------------------------------------------------------------------ bad values and schemas

def test_bad_values_are_rejected_with_their_reasons_and_line(tmp_path):
    tables = empty_tables()
    tables["logins"] = pa.table({
        "event_ts": ["2025-08-01 10:00:00", "yesterday", "2025-08-01 10:00:00", "2025-08-01 10:00:00",
                     "2025-08-01 10:00:00", "2025-08-01 10:00:00"],
        "account_id": ["A1", "A1", "A1", None, "A1", "A1"],
        "ip": ["1.1.1.1"] * 6,
        "country_iso": ["DE"] * 6,
        "result": ["FAIL", "FAIL", "MAYBE", "FAIL", "FAIL", "FAIL"],
        "mfa_used": pa.array([0, 0, 0, 0, 7, 1], pa.int64()),
        "device_id": ["d1"] * 6,
    })
    tables["ec2_activity"] = pa.table({
        "event_ts": pa.array([dt.datetime(2025, 8, 1), dt.datetime(1500, 1, 1), None], pa.timestamp("us")),
        "account_id": ["A1", "A1", "A1"], "action": ["RUN_INSTANCES"] * 3, "instance_id": ["i-1"] * 3,
        "region": ["eu-west-1"] * 3,
    })
    tables["ip_reputation"] = pa.table({
        "ip": ["1.1.1.1", "2.2.2.2", "3.3.3.3"],
        "risk_score": pa.array([90, 101, 50], pa.int64()), "asn": pa.array([1, 2, 3], pa.int64()),
        "is_tor": pa.array([False, True, None], pa.bool_()),
    })
    tables["payments"] = pa.table({
        "payment_ts": ["2025-08-01 10:00:00"] * 2, "account_id": ["A1", "A1"], "method": ["CARD"] * 2,
        "amount_usd": pa.array([10.5, float("inf")]), "status": ["PAID", "PAID"],
    })
    # text that is not UTF-8 (Parquet readers do not check it)
    offsets = pa.array([0, 2, 5], pa.int32()).buffers()[1]
    not_utf8 = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"A1\xffA2")])
    tables["security_findings"] = pa.table({
        "finding_ts": ["2025-08-02 00:00:00"] * 2, "account_id": not_utf8, "type": ["BRUTE_FORCE"] * 2,
        "severity": ["HIGH"] * 2,
    })
    case = graphfraud.load_case(_write_tables(tmp_path / "pq", tables))
    reasons = {(t, r): reason for t, r, reason in case.rejected[["table", "row", "reason"]].itertuples(index=False)}
    assert reasons == {
        ("logins", 1): "unparseable timestamp 'yesterday'",
        ("logins", 2): "unknown result value 'MAYBE' (expected SUCCESS or FAIL)",
        ("logins", 3): "account_id is missing (required)",
        ("logins", 4): "mfa_used must be 0 or 1, got '7'",
        ("ec2_activity", 1): "timestamp out of range '1500-01-01 00:00:00' (pandas handles 1677-09-21 to 2262-04-11)",
        ("ec2_activity", 2): "event_ts is missing (required)",
        ("ip_reputation", 1): "risk_score out of range 0-100: '101'",
        ("ip_reputation", 2): "is_tor is missing (expected 0 or 1)",
        ("payments", 1): "amount_usd is not a finite number: 'inf'",
        ("security_findings", 1): "account_id is not valid UTF-8 text: '\\\\xffA2' (save the file as UTF-8)",
    }
    assert (case.rejected["line"] == case.rejected["row"] + 1).all()
    counts = case.row_counts()
    assert (counts["read"] == counts["used"] + counts["rejected"]).all()
    assert case.rejection_summary().loc["logins", "rejected"] == 4


def test_missing_column_and_wrong_column_types_are_one_schema_error(tmp_path, raw):
    tables = dict(raw)
    tables["logins"] = raw["logins"].drop(columns=["device_id"])
    tables["users"] = raw["users"].assign(signup_ts=np.arange(len(raw["users"])))  # epoch numbers: ambiguous
    folder = write_case(tmp_path / "pq", tables)
    with pytest.raises(SchemaError) as err:
        graphfraud.load_case(folder)
    assert err.value.problems == [
        "users.parquet: table 'users': column 'signup_ts' is stored as int64; expected a timestamp, a date or "
        "ISO-8601 text (signup time), so every row would be rejected",
        "logins.parquet: table 'logins': column 'device_id' is missing (expected text identifier: device fingerprint)",
    ]


def test_a_problem_shared_by_many_parts_is_one_line(tmp_path, raw):
    folder = write_case(tmp_path / "pq", {n: df for n, df in raw.items() if n != "logins"})
    for k in range(5):
        write(raw["logins"].iloc[k::5].drop(columns=["mfa_used"]), folder / "logins" / f"part-{k}.parquet")
    with pytest.raises(SchemaError) as err:
        graphfraud.load_case(folder)
    assert err.value.problems == [
        "logins/part-0.parquet, logins/part-1.parquet, logins/part-2.parquet and 2 more: table 'logins': "
        "column 'mfa_used' is missing (expected 0/1 flag: MFA was used)"]


def test_a_file_that_is_not_parquet_is_an_input_error_naming_file_and_table(tmp_path, raw):
    folder = write_case(tmp_path / "pq", raw)
    (folder / "payments.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match=r"payments.parquet: table 'payments': cannot be read as Parquet"):
        graphfraud.load_case(folder)


def test_format_is_recognised_and_ambiguity_is_an_error(tmp_path, raw):
    folder = write_case(tmp_path / "pq", raw)
    (folder / "notes.csv").write_text("a,b\n")  # not a table: does not make the folder CSV
    assert len(graphfraud.load_case(folder).users) == len(raw["users"])
    raw["users"].to_csv(folder / "users.csv", index=False)
    with pytest.raises(InputError, match="holds both CSV and Parquet tables"):
        graphfraud.load_case(folder)
    assert len(graphfraud.load_case(folder, format="parquet").users) == len(raw["users"])
    with pytest.raises(InputError, match=r"holds no case tables"):
        graphfraud.load_case(_empty(tmp_path))
    with pytest.raises(InputError, match=r"holds no Parquet tables .*; it is CSV: read it with format='csv'"):
        graphfraud.load_case(_csv_only(tmp_path, raw), format="parquet")
    with pytest.raises(InputError, match=r"unknown format 'parket'; did you mean 'parquet'\?"):
        graphfraud.load_case(folder, format="parket")


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def _csv_only(tmp_path: Path, raw) -> Path:
    folder = tmp_path / "csv"
    folder.mkdir()
    raw["users"].to_csv(folder / "users.csv", index=False)
    return folder


# ------------------------------------------------------------------ property tests

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_good_ts = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1))
_ts = st.one_of(_good_ts.map(lambda d: ("ok", d)),
                st.sampled_from([("bad", "garbage"), ("bad", "2025-13-45"), ("bad", ""), ("bad", None)]))
_acct = st.sampled_from([("ok", "A1"), ("ok", "A2"), ("bad", ""), ("bad", None), ("bad", "  ")])
_result = st.sampled_from([("ok", "SUCCESS"), ("ok", "fail"), ("bad", "LOCKED"), ("bad", None)])
_flag = st.sampled_from([("ok", 0), ("ok", 1), ("bad", 2), ("bad", None)])
_row = st.tuples(_ts, _acct, st.sampled_from(["1.1.1.1", None]), _result, _flag)


def _login_table(rows, ts_as: str, flag_as: str) -> pa.Table:
    ts = [v for (_, v), *_ in rows]
    if ts_as == "timestamp":
        # a timestamp column holds no text: what was text is null there
        ts_arr = pa.array([v if isinstance(v, dt.datetime) else None for v in ts], pa.timestamp("us"))
    else:
        ts_arr = pa.array([v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime) else v for v in ts],
                          pa.string())
    flags = [f for *_, (_, f) in rows]
    flag_arr = pa.array([None if f is None else str(f) for f in flags], pa.string()) if flag_as == "text" else \
        pa.array(flags, pa.int64())
    return pa.table({
        "event_ts": ts_arr,
        "account_id": pa.array([a for _, (_, a), *_ in rows], pa.string()),
        "ip": pa.array([r[2] for r in rows], pa.string()),
        "country_iso": pa.array(["DE"] * len(rows), pa.string()),
        "result": pa.array([r[3][1] for r in rows], pa.string()),
        "mfa_used": flag_arr,
        "device_id": pa.array(["d1"] * len(rows), pa.string()),
    })


@SETTINGS
@given(st.lists(_row, max_size=40), st.sampled_from(["text", "timestamp"]), st.sampled_from(["text", "int"]),
       st.lists(st.integers(0, 40), max_size=3), st.integers(1, 50))
def test_every_row_is_used_or_rejected_with_a_reason(rows, ts_as, flag_as, cuts, chunksize):
    table = _login_table(rows, ts_as, flag_as)
    expected_ok = [i for i, r in enumerate(rows) if r[0][0] == r[1][0] == r[3][0] == r[4][0] == "ok"]
    with tempfile.TemporaryDirectory() as d:
        folder = write_case(Path(d), {n: df for n, df in empty_tables().items() if n != "logins"})
        bounds = sorted({0, len(rows), *[min(c, len(rows)) for c in cuts]})
        for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
            (folder / "logins").mkdir(exist_ok=True)
            pq.write_table(table.slice(lo, hi - lo), folder / "logins" / f"part-{k}.parquet")
        if len(bounds) == 1:  # no rows: one empty part
            (folder / "logins").mkdir(exist_ok=True)
            pq.write_table(table, folder / "logins" / "part-0.parquet")
        case = graphfraud.load_case(folder, chunksize=chunksize)
    assert len(case.logins) == len(expected_ok)
    rej = case.rejected
    assert set(rej["row"]) == set(range(len(rows))) - set(expected_ok)
    assert not rej["reason"].isna().any() and (rej["table"] == "logins").all()
    assert (rej["line"] == rej["row"] + 1).all()
    counts = case.row_counts().loc["logins"]
    assert counts["read"] == counts["used"] + counts["rejected"] == len(rows)
    assert set(case.logins["result"].astype(object)) <= {"SUCCESS", "FAIL"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TABLE_NAMES), st.binary(max_size=300), st.booleans())
def test_arbitrary_bytes_as_a_parquet_file_load_or_raise_a_library_error(table, content, with_magic):
    with tempfile.TemporaryDirectory() as d:
        folder = write_case(Path(d), empty_tables())
        (folder / f"{table}.parquet").write_bytes(b"PAR1" + content + b"PAR1" if with_magic else content)
        try:
            case = graphfraud.load_case(folder)
        except GraphFraudError as exc:
            assert str(exc)
            return
        counts = case.row_counts()
        assert (counts["read"] == counts["used"] + counts["rejected"]).all()
