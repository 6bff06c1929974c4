"""Regression tests for inputs that used to crash, print a traceback or be misread.

Each test is named after the defect it pins: the input must end as rejected rows with a
reason, or as one GraphFraudError naming the file/table, column and line.
"""

import sqlite3

import numpy as np
import pandas as pd
import pytest

import graphfraud
from graphfraud.case import REJECTED_COLUMNS
from graphfraud.case.schema import TABLE_NAMES, TABLES
from graphfraud.errors import GraphFraudError, InputError, RejectedInputError, SchemaError

from conftest import logins, reputation

LOGIN_HEADER = "event_ts,account_id,ip,country_iso,result,mfa_used,device_id"
LOGIN_OK = "2025-08-01 10:00:00,A1,1.1.1.1,DE,FAIL,0,d1"


def csv_case(folder, **texts):
    """A CSV folder with every table header-only, except the tables given as text (or bytes)."""
    folder.mkdir(exist_ok=True)
    for name in TABLE_NAMES:
        content = texts.get(name, ",".join(TABLES[name].column_names) + "\n")
        path = folder / f"{name}.csv"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    return folder


def sqlite_case(path, **frames):
    """A SQLite case with every table empty except those given."""
    with sqlite3.connect(path) as conn:
        for name in TABLE_NAMES:
            df = frames.get(name, pd.DataFrame({c: pd.Series(dtype=object) for c in TABLES[name].column_names}))
            df.to_sql(name, conn, index=False)
    return path


def assert_counts_add_up(case):
    counts = case.row_counts()
    assert (counts["read"] == counts["used"] + counts["rejected"]).all(), counts


def reasons(case, table):
    rej = case.rejected[case.rejected["table"] == table]
    return dict(zip(rej["row"], rej["reason"]))


# ------------------------------------------------------------------ 1. timestamps


@pytest.mark.parametrize("when", ["3000-01-01", "1500-01-01", "2262-04-12 00:00:00"])
def test_timestamp_year_3000_is_a_rejected_row_not_OutOfBoundsDatetime(when, tmp_path):
    df = logins((LOGIN_OK.split(",")), (when, "A1", "1.1.1.1", "DE", "FAIL", 0, "d1"))
    for case in (graphfraud.case_from_frames(logins=df),
                 graphfraud.load_case(sqlite_case(tmp_path / "c.sqlite", logins=df)),
                 graphfraud.load_case(csv_case(tmp_path / "csv", logins=f"{LOGIN_HEADER}\n{LOGIN_OK}\n"
                                                                       f"{when},A1,1.1.1.1,DE,FAIL,0,d1\n"))):
        assert len(case.logins) == 1
        reason = reasons(case, "logins")[1]
        assert "out of range" in reason and "1677" in reason and "2262" in reason
        assert_counts_add_up(case)


def test_signup_ts_out_of_range_in_users_is_rejected():
    users = pd.DataFrame({"account_id": ["A1", "A2"], "country": ["DE", "DE"],
                          "signup_ts": ["1500-01-01", "2025-01-01"], "email_domain": ["x", "x"],
                          "is_enterprise": [0, 0]})
    case = graphfraud.case_from_frames(logins=logins(), users=users)
    assert case.users["account_id"].tolist() == ["A2"]
    assert "out of range" in reasons(case, "users")[0]


# ------------------------------------------------------------------ 2. CSV files


def test_csv_non_utf8_bytes_are_rejected_rows_naming_the_line_not_UnicodeDecodeError(tmp_path):
    raw = (f"{LOGIN_HEADER}\n{LOGIN_OK}\n").encode() + b"2025-08-01 10:00:00,A\xff\xfe2,1.1.1.1,DE,FAIL,0,d1\n"
    case = graphfraud.load_case(csv_case(tmp_path, logins=raw))
    rej = case.rejected
    assert len(case.logins) == 1 and len(rej) == 1
    assert rej.loc[0, "column"] == "account_id" and rej.loc[0, "line"] == 3
    assert "not valid UTF-8" in rej.loc[0, "reason"] and "save the file as UTF-8" in rej.loc[0, "reason"]
    assert rej.loc[0, "value"] == "A\\xff\\xfe2"  # printable, and writable as UTF-8
    rej.to_csv(tmp_path / "rejected.csv", index=False)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_csv_utf16_with_or_without_bom_is_decoded_not_garbage_columns(encoding, tmp_path):
    text = f"{LOGIN_HEADER}\r\n{LOGIN_OK}\r\n2025-08-02 10:00:00,Ä2,1.1.1.1,DE,SUCCESS,1,d1\r\n"
    case = graphfraud.load_case(csv_case(tmp_path, logins=text.encode(encoding)))
    assert case.logins["account_id"].astype(object).tolist() == ["A1", "Ä2"]
    assert case.rejected.empty


def test_csv_utf8_bom_is_stripped_silently(tmp_path):
    case = graphfraud.load_case(csv_case(tmp_path, logins=b"\xef\xbb\xbf" + f"{LOGIN_HEADER}\n{LOGIN_OK}\n".encode()))
    assert len(case.logins) == 1 and case.rejected.empty


def test_csv_zero_byte_file_is_a_schema_error_naming_the_file_not_EmptyDataError(tmp_path):
    with pytest.raises(SchemaError, match=r"users.csv is an empty file \(expected a header line: account_id"):
        graphfraud.load_case(csv_case(tmp_path, users=b""))


def test_csv_header_only_file_is_zero_rows(tmp_path):
    case = graphfraud.load_case(csv_case(tmp_path, logins=LOGIN_HEADER))
    assert len(case.logins) == 0 and case.row_counts().loc["logins", "read"] == 0


def test_csv_unterminated_quote_is_an_input_error_naming_file_and_line_not_ParserError(tmp_path):
    text = f'{LOGIN_HEADER}\n{LOGIN_OK}\n{LOGIN_OK}\n2025-08-01 10:00:00,"A1,1.1.1.1,DE,FAIL,0,d1\n{LOGIN_OK}\n'
    with pytest.raises(InputError, match=r"logins.csv: line 4: a quoted value is never closed"):
        graphfraud.load_case(csv_case(tmp_path, logins=text))


def test_csv_extra_field_mid_file_is_an_input_error_naming_file_and_line_not_ParserError(tmp_path):
    text = f'{LOGIN_HEADER}\n{LOGIN_OK}\n"2025-08-01\n10:00",A1,1,DE,FAIL,0,d1\n\n{LOGIN_OK},extra\n{LOGIN_OK}\n'
    with pytest.raises(InputError, match=r"logins.csv: line 6 has 8 fields but the header has 7"):
        graphfraud.load_case(csv_case(tmp_path, logins=text))


# ------------------------------------------------------------------ 3. SQLite files


def test_sqlite_invalid_utf8_text_is_a_rejected_row_not_OperationalError(tmp_path):
    path = sqlite_case(tmp_path / "c.sqlite", logins=logins(LOGIN_OK.split(",")))
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO logins VALUES ('2025-08-01 11:00:00', CAST(X'41FF32' AS TEXT), "
                     "'1.1.1.1', 'DE', 'FAIL', 0, 'd1')")
        conn.execute("INSERT INTO logins VALUES ('2025-08-01 12:00:00', 'A3', '1.1.1.1', 'DE', 'FAIL', 0, 'd1')")
    case = graphfraud.load_case(path, chunksize=1)
    assert case.logins["account_id"].astype(object).tolist() == ["A1", "A3"]
    assert reasons(case, "logins") == {1: "account_id is not valid UTF-8 text: 'A\\\\xff2' (save the file as UTF-8)"}
    assert case.rejected["line"].isna().all()
    assert_counts_add_up(case)


def test_sqlite_blob_in_text_column_is_used_when_utf8_and_rejected_when_not(tmp_path):
    path = sqlite_case(tmp_path / "c.sqlite")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO logins VALUES ('2025-08-01 11:00:00', X'4131', '1.1.1.1', 'DE', 'FAIL', 0, 'd1')")
        conn.execute("INSERT INTO logins VALUES ('2025-08-01 11:00:00', X'80', '1.1.1.1', 'DE', 'FAIL', 0, 'd1')")
    case = graphfraud.load_case(path)
    assert case.logins["account_id"].astype(object).tolist() == ["A1"]
    assert "not valid UTF-8" in reasons(case, "logins")[1]


def test_sqlite_corrupt_file_is_an_input_error_naming_file_and_table_not_DatabaseError(tmp_path):
    many = logins(*[(f"2025-08-01 10:{k % 60:02d}:00", f"A{k}", "1.1.1.1", "DE", "FAIL", 0, "d" * 50)
                    for k in range(3000)])
    path = sqlite_case(tmp_path / "c.sqlite", logins=many)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = bytes([0xA5]) * (len(data) - page)  # header page intact, every other page garbage
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"c.sqlite: cannot read table '\w+': .*(malformed|not a database)"):
        graphfraud.load_case(path)


def test_sqlite_broken_view_is_an_input_error_naming_file_and_table_not_OperationalError(tmp_path):
    path = sqlite_case(tmp_path / "c.sqlite")
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE logins")
        conn.execute("CREATE VIEW logins AS SELECT * FROM raw_logins")
    with pytest.raises(InputError, match=r"c.sqlite: cannot read table 'logins': no such table: .*raw_logins.*view"):
        graphfraud.load_case(path)


# ------------------------------------------------------------------ 4. degenerate cases


def test_data_quality_when_no_login_has_an_ip_is_not_IndexError():
    case = graphfraud.case_from_frames(logins=logins(("2025-08-01", "A1", None, "DE", "FAIL", 0, "d1")))
    dq = case.data_quality()
    assert dq["logins_without_ip"] == 1 and dq["logins_without_reputation"] == 0


def test_every_case_method_works_on_an_empty_case():
    case = graphfraud.case_from_frames(logins=logins())
    assert case.row_counts()["read"].sum() == 0
    assert set(case.data_quality().values()) == {0}
    assert case.impossible_orders().empty and case.bad_payments().empty
    assert case.rejection_summary()["rejected"].sum() == 0
    assert case.check_rejections() == []
    assert list(case.rejected.columns) == REJECTED_COLUMNS


# ------------------------------------------------------------------ 5. ambiguous columns


def test_two_columns_matching_one_contract_name_is_a_schema_error_naming_both_not_first_wins(tmp_path):
    df = logins(LOGIN_OK.split(","))
    df.insert(0, "Account_ID", ["A9"])
    with pytest.raises(SchemaError, match=r"columns 'Account_ID' and 'account_id' both match 'account_id'"):
        graphfraud.case_from_frames(logins=df)
    df = df.rename(columns={"Account_ID": " account_id"})
    with pytest.raises(SchemaError, match=r"columns ' account_id' and 'account_id' both match 'account_id'"):
        graphfraud.load_case(sqlite_case(tmp_path / "c.sqlite", logins=df))


def test_duplicate_column_labels_in_a_dataframe_are_a_schema_error():
    df = logins(LOGIN_OK.split(","))
    df = pd.concat([df, df[["ip"]]], axis=1)
    with pytest.raises(SchemaError, match=r"columns 'ip' and 'ip' both match 'ip'"):
        graphfraud.case_from_frames(logins=df)


def test_csv_duplicate_header_is_a_schema_error_not_account_id_dot_1(tmp_path):
    text = f"{LOGIN_HEADER},account_id\n{LOGIN_OK},A9\n"
    with pytest.raises(SchemaError, match=r"logins.csv: .*columns 'account_id' and 'account_id' both match"):
        graphfraud.load_case(csv_case(tmp_path, logins=text))


# ------------------------------------------------------------------ 6. numbers


def test_asn_1e30_and_ints_beyond_int64_are_rejected_not_wrapped_to_int64_min(tmp_path):
    rep = reputation(("1.1.1.1", 90, 1e30, 0), ("2.2.2.2", 50, 2**53 + 1, 0), ("3.3.3.3", 10, 64500, 0),
                     ("4.4.4.4", 10, 10**30, 0), ("5.5.5.5", 10, "99999999999999999999999", 0))
    case = graphfraud.case_from_frames(logins=logins(), ip_reputation=rep)
    assert case.ip_reputation["asn"].tolist() == [64500]
    assert all("too large to be stored exactly" in r for r in reasons(case, "ip_reputation").values())
    text = "ip,risk_score,asn,is_tor\n1.1.1.1,90,1e30,0\n2.2.2.2,1,9223372036854775808,0\n3.3.3.3,1,7,1\n"
    case = graphfraud.load_case(csv_case(tmp_path, ip_reputation=text))
    assert case.ip_reputation["asn"].tolist() == [7]
    assert set(case.rejected["line"]) == {2, 3}


@pytest.mark.parametrize("value, expected", [("inf", "not a finite number"), ("-inf", "not a finite number"),
                                             ("Infinity", "not a finite number"), ("1e400", "not a finite number"),
                                             ("nan", "not a number"), ("NaN", "not a number")])
def test_amount_usd_inf_nan_text_and_1e400_are_rejected_rows(value, expected, tmp_path):
    text = (f"payment_ts,account_id,method,amount_usd,status\n2025-08-01,A1,CARD,12.5,PAID\n"
            f"2025-08-01,A1,CARD,{value},PAID\n")
    case = graphfraud.load_case(csv_case(tmp_path, payments=text))
    assert case.payments["amount_usd"].tolist() == [12.5]
    reason = reasons(case, "payments")[1]
    assert reason == f"amount_usd is {expected}: {value!r}"


def test_numeric_inf_from_frames_and_sqlite_is_rejected_and_risk_score_inf_too(tmp_path):
    pay = pd.DataFrame({"payment_ts": ["2025-08-01"] * 3, "account_id": ["A1"] * 3, "method": ["CARD"] * 3,
                        "amount_usd": [1.0, np.inf, -np.inf], "status": ["PAID"] * 3})
    rep = reputation(("1.1.1.1", np.inf, 1, 0), ("2.2.2.2", 5.0, -np.inf, 0))
    for case in (graphfraud.case_from_frames(logins=logins(), payments=pay, ip_reputation=rep),
                 graphfraud.load_case(sqlite_case(tmp_path / "c.sqlite", payments=pay, ip_reputation=rep))):
        assert case.payments["amount_usd"].tolist() == [1.0]
        assert case.ip_reputation.empty
        assert all("not a finite number" in r for r in case.rejected["reason"])
        assert_counts_add_up(case)


# ------------------------------------------------------------------ 7. lines


def test_rejected_line_is_the_physical_csv_line_with_embedded_newlines_and_blank_lines(tmp_path):
    lines = [
        LOGIN_HEADER,                                              # line 1
        '2025-08-01 10:00:00,A1,"1.1.1.1",DE,FAIL,0,"dev\nice"',   # lines 2-3: ok
        "",                                                        # line 4: blank -> rejected
        '2025-08-01 10:00:00,A1,1.1.1.1,"D\n\nE",MAYBE,0,d1',      # lines 5-7: bad result
        LOGIN_OK,                                                  # line 8: ok
        "later,A1,1.1.1.1,DE,FAIL,0,d1",                           # line 9: bad timestamp
    ]
    case = graphfraud.load_case(csv_case(tmp_path, logins="\n".join(lines) + "\n"), chunksize=2)
    rej = case.rejected
    assert list(rej.columns) == REJECTED_COLUMNS
    assert rej[["row", "line", "reason"]].values.tolist() == [
        [1, 4, "blank line"],
        [2, 5, "unknown result value 'MAYBE' (expected SUCCESS or FAIL)"],
        [4, 9, "unparseable timestamp 'later'"],
    ]
    assert case.row_counts().loc["logins"].tolist() == [5, 2, 3]


def test_blank_line_is_one_rejected_row_not_silently_skipped(tmp_path):
    case = graphfraud.load_case(csv_case(tmp_path, logins=f"{LOGIN_HEADER}\n{LOGIN_OK}\n\n,,,,,,\n{LOGIN_OK}\n"))
    assert reasons(case, "logins") == {1: "blank line", 2: "blank line"}
    assert case.rejected["column"].tolist() == ["", ""]
    assert case.row_counts().loc["logins"].tolist() == [4, 2, 2]


# ------------------------------------------------------------------ 8. impossible orders


def test_sample_chargeback_before_signup_is_found(sample_case):
    orders = sample_case.impossible_orders()
    assert list(orders.columns) == ["table", "row", "account_id", "event_ts", "signup_ts", "problem"]
    hit = orders[(orders["account_id"] == "A101412") & (orders["problem"] == "chargeback before signup")]
    assert len(hit) >= 1
    row = hit.iloc[0]
    pay = sample_case.payments.loc[row["row"]]
    assert pay["account_id"] == "A101412" and pay["status"] == "CHARGEBACK" and pay["payment_ts"] < row["signup_ts"]
    dq = sample_case.data_quality()
    assert dq["chargebacks_before_signup"] >= 1
    assert dq["payments_before_signup"] >= dq["chargebacks_before_signup"]
    assert len(sample_case.payments) == sample_case.row_counts().loc["payments", "read"]  # kept, not rejected


def test_events_before_signup_are_counted_per_table():
    users = pd.DataFrame({"account_id": ["A1", "A2"], "country": ["DE", "DE"],
                          "signup_ts": ["2025-08-01", None], "email_domain": ["x", "x"], "is_enterprise": [0, 0]})
    lg = logins(("2025-07-31", "A1", "1.1.1.1", "DE", "FAIL", 0, "d"), ("2025-08-02", "A1", "1.1.1.1", "DE", "FAIL", 0, "d"),
                ("2025-01-01", "A2", "1.1.1.1", "DE", "FAIL", 0, "d"), ("2025-01-01", "A3", "1.1.1.1", "DE", "FAIL", 0, "d"))
    pay = pd.DataFrame({"payment_ts": ["2025-07-01", "2025-07-02", "2025-09-01"], "account_id": ["A1"] * 3,
                        "method": ["CARD"] * 3, "amount_usd": [1.0] * 3, "status": ["CHARGEBACK", "PAID", "CHARGEBACK"]})
    fnd = pd.DataFrame({"finding_ts": ["2025-07-01"], "account_id": ["A1"], "type": ["X"], "severity": ["HIGH"]})
    case = graphfraud.case_from_frames(logins=lg, users=users, payments=pay, security_findings=fnd)
    dq = case.data_quality()
    assert (dq["logins_before_signup"], dq["payments_before_signup"], dq["chargebacks_before_signup"],
            dq["findings_before_signup"]) == (1, 2, 1, 1)
    assert case.impossible_orders()[["table", "row", "problem"]].values.tolist() == [
        ["logins", 0, "login before signup"],
        ["payments", 0, "chargeback before signup"],
        ["payments", 1, "payment before signup"],
        ["security_findings", 0, "finding before signup"],
    ]


# ------------------------------------------------------------------ 9. mostly rejected tables


def _reputation_mostly_bad(bad: int, good: int):
    rows = [(f"10.0.0.{k}", "high", 1, 0) for k in range(bad)] + [(f"10.1.0.{k}", 5, 1, 0) for k in range(good)]
    rows[0] = ("10.0.0.0", 50, 1e30, 0)
    return graphfraud.case_from_frames(logins=logins(), ip_reputation=reputation(*rows))


def test_table_nearly_all_rejected_is_a_RejectedInputError_naming_table_columns_and_reason():
    case = _reputation_mostly_bad(9, 1)
    summary = case.rejection_summary()
    assert summary.loc["ip_reputation", ["read", "rejected", "share", "top_columns"]].tolist() == [
        10, 9, 0.9, "risk_score 8; asn 1"]
    with pytest.raises(RejectedInputError) as err:
        case.check_rejections()
    msg = str(err.value)
    assert "ip_reputation: 9 of 10 rows (90%) were rejected" in msg
    assert "risk_score 8; asn 1" in msg and "risk_score is not a number: 'high'" in msg and "fix the source" in msg
    assert err.value.tables == ["ip_reputation"] and isinstance(err.value, InputError)
    assert err.value.summary.loc["ip_reputation", "rejected"] == 9


def test_some_rejections_are_warnings_and_empty_tables_are_not_errors():
    case = _reputation_mostly_bad(1, 9)
    assert case.check_rejections() == [
        "ip_reputation: 1 of 10 rows (10.0%) rejected, mostly in asn 1 "
        "(e.g. asn is too large to be stored exactly (limit ±2**53): '1e+30')"]
    assert case.check_rejections(warn_share=0.2) == []
    with pytest.raises(RejectedInputError):
        case.check_rejections(stop_share=0.1)
    with pytest.raises(InputError, match="warn_share"):
        case.check_rejections(stop_share=0.1, warn_share=0.5)


def test_errors_stay_in_the_hierarchy():
    assert issubclass(RejectedInputError, GraphFraudError)


def test_sqlite_read_by_two_reader_processes_equals_the_plain_read(monkeypatch):
    from graphfraud.loaders import sqlite_file

    parallel = graphfraud.load_case(graphfraud.sample_case_path(), chunksize=4000)
    monkeypatch.setattr(sqlite_file, "_cores", lambda: 1)
    plain = graphfraud.load_case(graphfraud.sample_case_path(), chunksize=4000)
    for name in graphfraud.case.TABLE_NAMES:
        pd.testing.assert_frame_equal(parallel.table(name), plain.table(name), obj=name)
    assert parallel.pristine == plain.pristine and parallel.input_rows == plain.input_rows


def test_sqlite_corrupt_file_read_by_reader_processes_is_the_same_input_error(tmp_path):
    many = logins(*[(f"2025-08-01 10:{k % 60:02d}:00", f"A{k}", "1.1.1.1", "DE", "FAIL", 0, "d" * 50)
                    for k in range(3000)])
    path = sqlite_case(tmp_path / "c.sqlite", logins=many)
    with sqlite3.connect(path) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    data[size * (pages // 2):] = bytes([0xA5]) * (len(data) - size * (pages // 2))  # the second half garbage
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"c.sqlite: cannot read table '\w+'"):
        graphfraud.load_case(path, chunksize=100)
