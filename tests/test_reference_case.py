"""The real case in ../shared: the numbers the data contract promises analysts."""

import pandas as pd
import pytest

import graphfraud
from graphfraud import queries
from graphfraud.cli import main

from conftest import REFERENCE_DIR


def test_reference_signals_bursts_and_fisher(reference_case):
    assert reference_case.rejected.empty
    signals = graphfraud.account_signals(reference_case)
    assert len(signals) == 300
    bursts = graphfraud.detect_bursts(reference_case)
    assert len(bursts) == 2 and set(bursts["account_id"]) == {"A100232"}
    assert (bursts["run_count_24h"] >= 4).all() and (bursts["region_count_24h"] >= 2).all()
    t = graphfraud.payment_outcome_test(reference_case, bursts["account_id"])
    assert t.n_flagged == 1 and t.method == "Fisher's exact test"
    assert "too few to conclude" in t.warning


def test_reference_sql_signals_match(reference_case):
    sql = queries.run("account_signals", queries.case_connection(reference_case))
    pd.testing.assert_frame_equal(sql, graphfraud.account_signals(reference_case), check_dtype=False)


def test_reference_sql_also_runs_on_the_file_itself(reference_db, reference_case):
    from graphfraud.loaders.sqlite_file import connect_readonly

    with connect_readonly(reference_db) as conn:
        daily = queries.run("daily_fail_rate", conn)
    assert daily["logins"].sum() == len(reference_case.logins) == 18122


def test_reference_csv_folder_has_no_logins_and_says_so(reference_db, capsys):
    with pytest.raises(graphfraud.SchemaError, match="table 'logins' is missing"):
        graphfraud.load_case(REFERENCE_DIR)
    assert main(["analyze", "--csv", str(REFERENCE_DIR), "-q"]) == 2
    assert "no logins.csv" in capsys.readouterr().err


def test_reference_analyze_command(reference_db, tmp_path):
    assert main(["analyze", "--db", str(reference_db), "--out", str(tmp_path), "-q"]) == 0
    bursts = pd.read_csv(tmp_path / "burst_triggers.csv")
    assert bursts["account_id"].tolist() == ["A100232", "A100232"]
    tests = pd.read_csv(tmp_path / "payment_tests.csv").set_index("cohort")
    assert tests.loc["accounts with a burst trigger", "method"] == "Fisher's exact test"
    assert tests.loc["accounts with a burst trigger", "n_flagged"] == 1
    assert isinstance(tests.loc["accounts with a burst trigger", "warning"], str)
