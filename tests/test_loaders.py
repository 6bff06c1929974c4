import sqlite3

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphfraud
from graphfraud import SchemaError
from graphfraud.errors import InputError
from graphfraud.case.schema import TABLE_NAMES, TABLES

from conftest import LOGIN_COLUMNS, logins, reputation


def write_sqlite(case_frames: dict, path):
    with sqlite3.connect(path) as conn:
        for name, df in case_frames.items():
            df.to_sql(name, conn, index=False)


def full_frames(login_df):
    """All six tables, the others empty but with their columns."""
    frames = {n: pd.DataFrame({c: pd.Series(dtype=object) for c in TABLES[n].column_names}) for n in TABLE_NAMES}
    frames["logins"] = login_df
    return frames


def test_schema_error_lists_every_problem_at_once(tmp_path):
    frames = full_frames(logins(("2025-08-01 10:00", "A1", "1.1.1.1", "DE", "FAIL", 0, "d1")))
    frames["logins"] = frames["logins"].drop(columns=["device_id", "mfa_used"])
    del frames["payments"]
    write_sqlite(frames, tmp_path / "c.sqlite")
    with pytest.raises(SchemaError) as err:
        graphfraud.load_case(tmp_path / "c.sqlite")
    problems = err.value.problems
    assert len(problems) == 3
    assert any("table 'payments' is missing" in p for p in problems)
    assert any("table 'logins': column 'device_id' is missing" in p for p in problems)
    assert any("column 'mfa_used' is missing (expected 0/1 flag" in p for p in problems)


def test_csv_folder_without_logins_is_a_schema_error_naming_the_table(tmp_path):
    frames = full_frames(logins())
    for name, df in frames.items():
        if name != "logins":
            df.to_csv(tmp_path / f"{name}.csv", index=False)
    with pytest.raises(SchemaError, match=r"table 'logins' is missing: no logins.csv"):
        graphfraud.load_case(tmp_path)


def test_missing_path_and_non_sqlite_file_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="case not found"):
        graphfraud.load_case(tmp_path / "nope.sqlite")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="neither a SQLite file nor a folder"):
        graphfraud.load_case(tmp_path / "x.txt")


def test_bad_rows_are_rejected_with_table_row_column_and_reason():
    df = logins(
        ("2025-08-01 10:00:00", "A1", "1.1.1.1", "DE", "FAIL", 0, "d1"),      # ok
        ("yesterday", "A1", "1.1.1.1", "DE", "FAIL", 0, "d1"),                # bad timestamp
        ("2025-08-01 10:00:00", "A1", "1.1.1.1", "DE", "MAYBE", 0, "d1"),     # unknown result
        ("2025-08-01 10:00:00", None, "1.1.1.1", "DE", "FAIL", 0, "d1"),      # null key
        ("2025-08-01 10:00:00", "  ", "1.1.1.1", "DE", "FAIL", 0, "d1"),      # blank key
        ("2025-08-01 10:00:00", "A2", "1.1.1.1", "DE", "success", 2, "d1"),   # bad flag
        ("2025-08-01 10:00:00", "A2", None, None, "success", "1", None),      # ok: optional nulls
    )
    case = graphfraud.case_from_frames(logins=df)
    rej = case.rejected
    assert len(case.logins) == 2
    assert rej["row"].tolist() == [1, 2, 3, 4, 5]
    assert rej["table"].unique().tolist() == ["logins"]
    reasons = dict(zip(rej["row"], rej["reason"]))
    assert reasons[1] == "unparseable timestamp 'yesterday'"
    assert reasons[2] == "unknown result value 'MAYBE' (expected SUCCESS or FAIL)"
    assert reasons[3] == reasons[4] == "account_id is missing (required)"
    assert reasons[5] == "mfa_used must be 0 or 1, got '2'"
    assert case.row_counts().loc["logins"].tolist() == [7, 2, 5]


def test_reputation_range_and_duplicate_keys_are_rejected():
    rep = reputation(("1.1.1.1", 90, 1, 0), ("2.2.2.2", 101, 1, 0), ("1.1.1.1", 10, 1, 0), ("3.3.3.3", "high", 1, 0),
                     ("4.4.4.4", 50.5, None, "yes"))
    case = graphfraud.case_from_frames(logins=logins(), ip_reputation=rep)
    reasons = dict(zip(case.rejected["row"], case.rejected["reason"]))
    assert reasons == {
        1: "risk_score out of range 0-100: '101'",
        2: "duplicate ip; the first occurrence (row 0) is kept",
        3: "risk_score is not a number: 'high'",
        4: "risk_score must be a whole number, got '50.5'",
    }
    assert case.ip_reputation["ip"].tolist() == ["1.1.1.1"]
    assert case.ip_reputation["risk_score"].tolist() == [90]


def test_login_ip_without_reputation_is_kept_and_counted():
    df = logins(("2025-08-01 10:00", "A1", "9.9.9.9", "DE", "FAIL", 0, "d1"),
                ("2025-08-01 11:00", "A1", "1.1.1.1", "DE", "FAIL", 0, "d1"))
    case = graphfraud.case_from_frames(logins=df, ip_reputation=reputation(("1.1.1.1", 90, 1, 0)))
    assert len(case.logins) == 2
    assert case.data_quality()["logins_without_reputation"] == 1
    assert case.data_quality()["accounts_not_in_users"] == 1


def test_types_column_names_and_timestamp_forms():
    df = logins(("2025-08-01T10:00:00Z", 1001, " 1.1.1.1 ", "DE", "fail", True, "d1"),
                ("2025-08-02", "A2", "1.1.1.1", "DE", "SUCCESS", "0", "d1"))
    df.columns = [c.upper() for c in df.columns]
    case = graphfraud.case_from_frames(logins=df)
    lg = case.logins
    assert str(lg["event_ts"].dtype) == "datetime64[ns]"
    assert lg["event_ts"].tolist() == [pd.Timestamp("2025-08-01 10:00"), pd.Timestamp("2025-08-02")]
    assert lg["account_id"].astype(object).tolist() == ["1001", "A2"]
    assert lg["ip"].astype(object).tolist() == ["1.1.1.1", "1.1.1.1"]
    assert lg["mfa_used"].tolist() == [True, False]
    assert lg["result"].astype(object).tolist() == ["FAIL", "SUCCESS"]


def test_sqlite_and_csv_loaders_agree(tmp_path, sample_case):
    folder = tmp_path / "csv"
    folder.mkdir()
    with sqlite3.connect(graphfraud.sample_case_path()) as conn:
        for name in TABLE_NAMES:
            pd.read_sql_query(f"SELECT * FROM {name}", conn).to_csv(folder / f"{name}.csv", index=False)
    from_csv = graphfraud.load_case(folder, chunksize=7000)
    for name in TABLE_NAMES:
        a, b = sample_case.table(name), from_csv.table(name)
        pd.testing.assert_frame_equal(a.astype(object), b.astype(object), check_dtype=False, obj=name)


def test_chunked_loading_gives_the_same_case(tmp_path, sample_case):
    small = graphfraud.load_case(graphfraud.sample_case_path(), chunksize=3333)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(sample_case.table(name).astype(object), small.table(name).astype(object))


def test_case_from_frames_rejects_non_frames():
    with pytest.raises(SchemaError, match="must be a pandas DataFrame"):
        graphfraud.case_from_frames(logins=logins(), users=[1, 2])


# ------------------------------------------------------------------ property tests

_good_ts = st.datetimes(min_value=pd.Timestamp("2020-01-01").to_pydatetime(),
                        max_value=pd.Timestamp("2030-01-01").to_pydatetime()).map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S"))
_ts = st.one_of(_good_ts, st.sampled_from(["", "garbage", "2025-13-45", None]))
_acct = st.one_of(st.sampled_from(["A1", "A2", "A3"]), st.sampled_from(["", None, "   "]))
_result = st.sampled_from(["SUCCESS", "FAIL", "fail", "Success", "", None, "LOCKED"])
_flag = st.sampled_from([0, 1, "0", "1", "true", 2, "x", None])
_row = st.tuples(_ts, _acct, st.sampled_from(["1.1.1.1", None, "2.2.2.2"]), st.sampled_from(["DE", None]),
                 _result, _flag, st.sampled_from(["d1", None]))


def _valid(row) -> bool:
    ts, acct, _, _, result, flag, _ = row
    return (ts not in ("", "garbage", "2025-13-45", None) and acct not in ("", None, "   ")
            and result in ("SUCCESS", "FAIL", "fail", "Success") and flag in (0, 1, "0", "1", "true"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_row, max_size=40))
def test_every_login_row_is_used_or_rejected_exactly_once(rows):
    case = graphfraud.case_from_frames(logins=pd.DataFrame(rows, columns=LOGIN_COLUMNS))
    rejected_rows = set(case.rejected["row"])
    expected_valid = [i for i, r in enumerate(rows) if _valid(r)]
    assert len(case.logins) == len(expected_valid)
    assert rejected_rows == set(range(len(rows))) - set(expected_valid)
    counts = case.row_counts().loc["logins"]
    assert counts["read"] == counts["used"] + counts["rejected"] == len(rows)
    assert set(case.logins["result"].astype(object)) <= {"SUCCESS", "FAIL"}
    assert not case.rejected["reason"].isna().any()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1.1.1.1", "2.2.2.2", "3.3.3.3", ""]),
                          st.one_of(st.integers(-5, 105), st.sampled_from(["x", None])),
                          st.sampled_from([0, 1, "1", None])), max_size=20))
def test_reputation_keys_end_up_unique_and_in_range(rows):
    rep = pd.DataFrame([(ip, r, 1, t) for ip, r, t in rows], columns=["ip", "risk_score", "asn", "is_tor"])
    case = graphfraud.case_from_frames(logins=logins(), ip_reputation=rep)
    out = case.ip_reputation
    assert out["ip"].is_unique
    assert ((out["risk_score"] >= 0) & (out["risk_score"] <= 100)).all()
    assert case.row_counts().loc["ip_reputation", "used"] + case.row_counts().loc["ip_reputation", "rejected"] == len(rows)
