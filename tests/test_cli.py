import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import graphfraud
from graphfraud.detect.bursts import BURST_COLUMNS
from graphfraud.cli import main
from graphfraud.detect.signals import SIGNAL_COLUMNS
from graphfraud.act.stats import PAYMENT_TEST_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
# the subprocesses import the checkout under test, installed or not
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

EXPECTED_FILES = {
    "account_signals.csv": SIGNAL_COLUMNS,
    "burst_triggers.csv": BURST_COLUMNS,
    "payment_tests.csv": PAYMENT_TEST_COLUMNS,
    "baseline_daily_fail_rate.csv": ["day", "logins", "fails", "fail_rate", "accounts"],
    "baseline_top_failing_ips.csv": ["ip", "fails", "successes", "accounts_failed", "first_fail", "last_fail",
                                     "risk_score", "asn", "is_tor"],
    "baseline_ip_risk_distribution.csv": ["risk_bucket", "ips", "tor_ips", "logins", "fails", "fail_rate"],
    "rejected_rows.csv": ["table", "row", "column", "value", "reason", "line"],
    "rings.csv": ["ring_id", "account_id"],
    "campaigns.csv": ["ip", "victims", "failures", "successes", "first_seen", "last_seen", "risk_score", "is_tor",
                      "asn", "accounts_with_success"],
}


def test_analyze_on_the_bundled_sample_writes_every_output(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", "--out", str(out), "--quiet"]) == 0
    for name, columns in EXPECTED_FILES.items():
        assert list(pd.read_csv(out / name, nrows=0).columns) == columns, name
    tests = pd.read_csv(out / "payment_tests.csv")
    assert tests["cohort"].tolist() == ["accounts with a burst trigger", "top 5% by composite",
                                        "members of flagged rings"]
    from graphfraud.rings import SUMMARY_COLUMNS

    summary = pd.read_csv(out / "ring_summary.csv")
    assert list(summary.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    flagged = summary[summary["flagged"]]
    assert len(flagged) >= 1
    index = pd.read_csv(out / "cases" / "index.csv")
    assert sorted(index["ring_id"]) == sorted(flagged["ring_id"])
    for rid in flagged["ring_id"]:
        assert (out / "cases" / rid / "case.json").exists()
    rules = pd.read_csv(out / "rules.csv")
    assert 2 <= rules["selected"].sum() <= 3
    assert "## Rings" in (out / "report.md").read_text() and "## Proposed rules" in (out / "report.md").read_text()
    assert pd.read_csv(out / "rejected_rows.csv").empty
    report = (out / "report.md").read_text()
    assert "## Executive summary" in report and "daily_fail_rate.png" in report
    report = (out / "report.md").read_text()
    bullets = [l for l in report.split("## Executive summary")[1].split("![")[0].splitlines() if l.startswith("- ")]
    assert 6 <= len(bullets) <= 8
    assert (out / "daily_fail_rate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = capsys.readouterr().out
    assert "burst triggers" in summary and "accounts with signals" in summary


def test_analyze_counts_rejected_rows_from_a_messy_csv_case(tmp_path):
    import sqlite3

    from graphfraud.case.schema import TABLE_NAMES

    folder = tmp_path / "csv"
    folder.mkdir()
    with sqlite3.connect(graphfraud.sample_case_path()) as conn:
        for name in TABLE_NAMES:
            df = pd.read_sql_query(f"SELECT * FROM {name}", conn)
            if name == "logins":
                df.loc[3, "event_ts"] = "31/12/2025"
                df.loc[5, "result"] = "LOCKED"
            df.to_csv(folder / f"{name}.csv", index=False)
    assert main(["analyze", "--csv", str(folder), "--out", str(tmp_path / "o"), "-q"]) == 0
    rej = pd.read_csv(tmp_path / "o" / "rejected_rows.csv")
    assert rej[["table", "row", "column"]].values.tolist() == [["logins", 3, "event_ts"], ["logins", 5, "result"]]
    assert "2 input row(s) rejected" in (tmp_path / "o" / "report.md").read_text()


def test_schema_error_is_one_message_and_exit_2_not_a_traceback(tmp_path, capsys):
    (tmp_path / "users.csv").write_text("account_id\nA1\n")
    assert main(["analyze", "--csv", str(tmp_path), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("graphfraud: error: the case in")
    assert "table 'logins' is missing" in err and "column 'signup_ts' is missing" in err
    assert "Traceback" not in err


def test_console_script_runs_as_a_module(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "graphfraud.cli", "generate", "--accounts", "120", "--seed", "4",
                           "--days", "21", "--out", str(tmp_path / "g.sqlite")], capture_output=True, text=True,
                          env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "g.truth.sqlite").exists()
    assert len(graphfraud.load_case(tmp_path / "g.sqlite").users) == 120


def test_quickstart_example_runs():
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True, text=True,
                          cwd=ROOT, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert "risky-fail -> EC2 burst trigger(s)" in proc.stdout


def test_ring_case_example_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ring_case.py"), str(graphfraud.sample_case_path()),
                           str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=ENV)
    assert proc.returncode == 0, proc.stderr
    folders = [p for p in tmp_path.iterdir() if p.name.startswith("ring-")]
    assert len(folders) == 1 and (folders[0] / "case.json").exists() and (tmp_path / "top_ring.html").exists()


def test_analyze_time_window_limits_rings_and_bursts(tmp_path):
    assert main(["analyze", "--out", str(tmp_path), "-q", "--no-cases", "--until", "2025-08-03"]) == 0
    bursts = pd.read_csv(tmp_path / "burst_triggers.csv")
    assert (pd.to_datetime(bursts["trigger_ts"]) <= "2025-08-03").all()
    summary = pd.read_csv(tmp_path / "ring_summary.csv")
    assert not summary["flagged"].any()  # two days of data cannot show co-activity on 2+ days
    assert not (tmp_path / "cases").exists()


def test_a_case_path_without_its_flag_gets_a_hint_naming_the_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(graphfraud.sample_case_path())])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and "--db FILE, --csv DIR or --parquet DIR" in err
