import pandas as pd
import pytest

import graphfraud
from graphfraud import queries
from graphfraud.errors import InputError
from graphfraud.detect.signals import SIGNAL_COLUMNS


def test_bundled_queries_and_their_parameters():
    assert queries.names() == ["account_signals", "daily_fail_rate", "ip_risk_distribution", "top_failing_ips"]
    q = queries.query("account_signals")
    assert q.params["window_days"] == 14 and q.params["as_of"] is None and q.params["w_fail"] == 0.4
    with pytest.raises(InputError, match="unknown query 'nope'; available: account_signals"):
        queries.query("nope")


def test_unknown_parameter_is_a_clear_error(sample_case):
    conn = queries.case_connection(sample_case, ("logins",))
    with pytest.raises(InputError, match=r"has no parameter\(s\) \['sinse'\]; it takes: since"):
        queries.run("daily_fail_rate", conn, sinse="2025-08-01")


def test_values_are_bound_not_pasted(sample_case):
    conn = queries.case_connection(sample_case, ("logins", "ip_reputation"))
    evil = "2025-08-01' OR '1'='1"
    out = queries.run("daily_fail_rate", conn, since="2099-01-01", until=evil)
    assert out.empty
    assert queries.run("top_failing_ips", conn, limit=3).shape[0] == 3


@pytest.mark.parametrize("window_days,as_of", [(14, None), (3, "2025-09-01 12:00:00"), (45, None)])
def test_sql_signals_equal_pandas_signals(sample_case, window_days, as_of):
    conn = queries.case_connection(sample_case)
    sql = queries.run("account_signals", conn, window_days=window_days, as_of=as_of and pd.Timestamp(as_of))
    pdx = graphfraud.account_signals(sample_case, window_days=window_days, as_of=as_of)
    assert list(sql.columns) == SIGNAL_COLUMNS
    pd.testing.assert_frame_equal(sql, pdx, check_dtype=False)


def test_sql_signals_with_custom_weights(synthetic):
    conn = queries.case_connection(synthetic.case)
    w = {"failed_login_rate": 0.1, "new_country_rate": 0.2, "tor": 0.3, "high_risk_ip_share": 0.4}
    sql = queries.run("account_signals", conn, w_fail=0.1, w_new_country=0.2, w_tor=0.3, w_high_risk=0.4,
                      high_risk=70)
    pdx = graphfraud.account_signals(synthetic.case, weights=w, high_risk_threshold=70)
    pd.testing.assert_frame_equal(sql, pdx, check_dtype=False)


def test_baseline_numbers_add_up(sample_case):
    conn = queries.case_connection(sample_case, ("logins", "ip_reputation"))
    daily = queries.run("daily_fail_rate", conn)
    assert daily["logins"].sum() == len(sample_case.logins)
    assert daily["fails"].sum() == (sample_case.logins["result"] == "FAIL").sum()
    dist = queries.run("ip_risk_distribution", conn)
    assert dist["logins"].sum() == sample_case.logins["ip"].notna().sum()
    assert dist["risk_bucket"].tolist()[-1] == "unknown"  # the sample has IPs without reputation
    assert dist.set_index("risk_bucket").loc["unknown", "logins"] == sample_case.data_quality()["logins_without_reputation"]
    top = queries.run("top_failing_ips", conn, limit=5)
    assert top["fails"].is_monotonic_decreasing


def _db_file(conn):
    return conn.execute("PRAGMA database_list").fetchall()[0][2]


def test_sql_runs_on_the_source_file_only_when_it_holds_exactly_the_validated_rows(tmp_path, sample_case):
    import sqlite3

    assert sample_case.pristine == frozenset(sample_case.tables_present())
    conn = queries.case_connection(sample_case, ("logins", "ip_reputation"))
    assert _db_file(conn) == str(graphfraud.sample_case_path().resolve())

    messy = tmp_path / "messy.sqlite"
    with sqlite3.connect(graphfraud.sample_case_path()) as src, sqlite3.connect(messy) as dst:
        src.backup(dst)
        dst.execute("UPDATE logins SET result = 'fail' WHERE rowid = 1")          # normalised, not rejected
        dst.execute("UPDATE logins SET event_ts = 'never' WHERE rowid = 2")      # rejected
        dst.execute("UPDATE ip_reputation SET ip = ' ' || ip || ' ' WHERE rowid = 1")  # trimmed
    case = graphfraud.load_case(messy)
    assert "logins" not in case.pristine and "ip_reputation" not in case.pristine and "users" in case.pristine
    conn = queries.case_connection(case, ("logins", "ip_reputation"))
    assert _db_file(conn) == ""  # in-memory copy of the validated rows
    daily = queries.run("daily_fail_rate", conn)
    assert daily["logins"].sum() == len(case.logins) == len(sample_case.logins) - 1
    assert daily["fails"].sum() == (case.logins["result"] == "FAIL").sum()
    pd.testing.assert_frame_equal(queries.run("account_signals", conn), graphfraud.account_signals(case),
                                  check_dtype=False)


# ------------------------------------------------------------------ baselines on codes == the SQL


def _sql_baselines(case, limit=20, **window):
    conn = queries.case_connection(case, ("logins", "ip_reputation"))
    try:
        return {"daily_fail_rate": queries.run("daily_fail_rate", conn, **window),
                "top_failing_ips": queries.run("top_failing_ips", conn, limit=limit, **window),
                "ip_risk_distribution": queries.run("ip_risk_distribution", conn, **window)}
    finally:
        conn.close()


def _coded_baselines(case, limit=20, **window):
    from graphfraud.act import baselines as bl

    return {"daily_fail_rate": bl.daily_fail_rate(case, **window),
            "top_failing_ips": bl.top_failing_ips(case, limit=limit, **window),
            "ip_risk_distribution": bl.ip_risk_distribution(case, **window)}


@pytest.mark.parametrize("window", [{}, {"since": "2025-08-10 00:00:00", "until": "2025-08-20 12:00:00"}])
def test_coded_baselines_equal_the_sql(sample_case, synthetic, window):
    for case in (sample_case, synthetic.case):
        sql, coded = _sql_baselines(case, **window), _coded_baselines(case, **window)
        for name in sql:
            pd.testing.assert_frame_equal(coded[name], sql[name], check_dtype=True, obj=name)


def _tiny_logins(rows):
    return pd.DataFrame(rows, columns=["event_ts", "account_id", "ip", "country_iso", "result", "mfa_used",
                                       "device_id"])


def test_coded_baselines_equal_the_sql_on_ties_nulls_and_unrated_ips():
    logins = _tiny_logins([
        ("2025-08-01 10:00:00", "A", "1.1.1.1", "DE", "FAIL", 0, "d1"),
        ("2025-08-01 10:05:00", "B", "1.1.1.1", "DE", "FAIL", 0, "d2"),
        ("2025-08-01 11:00:00", "A", "2.2.2.2", "DE", "FAIL", 0, "d1"),
        ("2025-08-01 11:01:00", "A", "2.2.2.2", "DE", "FAIL", 0, "d1"),   # ties 1.1.1.1 on fails, fewer accounts
        ("2025-08-03 09:00:00", "C", "0.0.0.9", "FR", "FAIL", 0, "d3"),   # no reputation row
        ("2025-08-03 09:00:00", "C", None, "FR", "SUCCESS", 1, "d3"),      # no IP at all
        ("2025-08-03 23:59:59", "B", "1.1.1.1", "DE", "SUCCESS", 0, "d2"),
    ])
    rep = pd.DataFrame({"ip": ["1.1.1.1", "2.2.2.2", "3.3.3.3"], "risk_score": [19, 100, 40],
                        "asn": [None, 7, 8], "is_tor": [0, 1, 0]})
    case = graphfraud.case_from_frames(logins=logins, ip_reputation=rep)
    for limit in (1, 2, 20):
        sql, coded = _sql_baselines(case, limit=limit), _coded_baselines(case, limit=limit)
        for name in sql:
            pd.testing.assert_frame_equal(coded[name], sql[name], check_dtype=True, obj=name)
    assert coded["top_failing_ips"]["ip"].tolist() == ["1.1.1.1", "2.2.2.2", "0.0.0.9"]


def test_coded_baselines_on_an_empty_window_equal_the_sql(sample_case):
    window = {"since": "2030-01-01 00:00:00"}
    sql, coded = _sql_baselines(sample_case, **window), _coded_baselines(sample_case, **window)
    for name in sql:
        assert len(coded[name]) == len(sql[name]) == 0
        assert list(coded[name].columns) == list(sql[name].columns)
