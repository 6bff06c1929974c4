"""The real-time commands: score (a stream, killed mid-way), backtest, and their errors."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from graphfraud.cli import main

PROFILES = pd.DataFrame({"account_id": ["A1", "A2"], "avg_amount_30d": [100.0, 50.0], "payment_count_30d": [10, 3],
                         "last_device_id": ["d1", "d2"], "last_country": ["DE", "FR"],
                         "signup_ts": ["2024-01-01", "2025-08-30"], "risk_level": ["LOW", "HIGH"]})


def _event(i: int, amount: float = 20.0) -> dict:
    return {"event_id": f"e{i}", "event_ts": str(pd.Timestamp("2025-09-01") + pd.Timedelta(seconds=i)),
            "user_id": "A1" if i % 2 else "A2", "transaction_amount": amount, "ip_address": f"10.0.0.{i % 7}"}


@pytest.fixture
def profile_file(tmp_path):
    path = tmp_path / "profiles.csv"
    PROFILES.to_csv(path, index=False)
    return path


def test_score_reads_jsonl_and_csv_and_answers_every_line(tmp_path, profile_file, capsys):
    events = tmp_path / "ev.jsonl"
    events.write_text("\n".join([json.dumps(_event(1, 6000)), "{oops", json.dumps({"event_id": "x", "user_id": "A1"}),
                                 json.dumps(_event(2))]) + "\n")
    args = ["score", "--profiles", str(profile_file), "--events", str(events), "--log", str(tmp_path / "d.sqlite"),
            "--alerts", str(tmp_path / "a.jsonl")]
    assert main(args) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [o.get("decision") or o["field"] for o in out] == ["BLOCK", "event", "amount", "BLOCK"]
    csv_file = tmp_path / "ev.csv"
    pd.DataFrame([_event(3), _event(4)]).to_csv(csv_file, index=False)
    assert main(args[:4] + [str(csv_file)] + args[5:]) == 0
    assert [json.loads(x)["event_id"] for x in capsys.readouterr().out.splitlines()] == ["e3", "e4"]
    # a second run answers from the log
    assert main(args) == 0
    captured = capsys.readouterr()
    assert all(json.loads(x).get("duplicate", True) for x in captured.out.splitlines())
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 3  # e1, e2 and e4 (A2: HIGH risk, 2 days old)


@pytest.mark.parametrize("argv, message", [
    (["--events", "nope.jsonl"], "no such file"),
    (["--events", "-", "--rules", "missing.json"], "does not exist"),
    (["--events", "-", "--log", "mysql://x"], "only SQLite"),
    (["--events", "-", "--warm", "soon"], "--warm must be a duration"),
])
def test_score_errors_name_the_flag_without_a_traceback(argv, message, profile_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["score", "--profiles", str(profile_file), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_acknowledged_decision_is_lost_when_the_process_is_killed(tmp_path, profile_file):
    """Kill -9 the scorer mid-stream: every decision it printed is in the log, and the rest can be resent."""
    log = tmp_path / "d.sqlite"
    cmd = [sys.executable, "-m", "graphfraud.cli", "score", "--profiles", str(profile_file), "--events", "-",
           "--log", str(log), "--alerts", str(tmp_path / "a.jsonl"), "--batch", "64"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1)
    acked = []
    try:
        for chunk in range(40):
            proc.stdin.write("".join(json.dumps(_event(chunk * 50 + i)) + "\n" for i in range(50)))
            proc.stdin.flush()
            if chunk == 10:
                while len(acked) < 300:
                    acked.append(json.loads(proc.stdout.readline())["event_id"])
                os.kill(proc.pid, signal.SIGKILL)  # mid-batch: more events are written than answered
                break
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    stored = {r[0] for r in sqlite3.connect(log).execute("SELECT event_id FROM decisions")}
    assert set(acked) <= stored
    # the producer resends everything not acknowledged, and the log dedupes
    again = subprocess.run(cmd, input="".join(json.dumps(_event(i)) + "\n" for i in range(550)), text=True,
                           capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr
    dup = [json.loads(x)["duplicate"] for x in again.stdout.splitlines()]
    assert len(dup) == 550 and sum(dup) == len(stored)
    assert sqlite3.connect(log).execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 550


def test_score_emits_a_partial_batch_as_soon_as_the_input_pauses(tmp_path, profile_file):
    cmd = [sys.executable, "-m", "graphfraud.cli", "score", "--profiles", str(profile_file), "--events", "-",
           "--log", str(tmp_path / "d.sqlite"), "--alerts", str(tmp_path / "a.jsonl"), "--batch", "1000"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            bufsize=1)
    try:
        proc.stdin.write(json.dumps(_event(1)) + "\n")
        proc.stdin.flush()
        t0 = time.monotonic()
        line = proc.stdout.readline()  # one event, far below --batch: answered without waiting for more
        assert json.loads(line)["event_id"] == "e1" and time.monotonic() - t0 < 30
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_backtest_writes_the_report(tmp_path, capsys):
    out = tmp_path / "bt"
    assert main(["backtest", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "bad payments   precision" in text and "alerts/day" in text
    summary = pd.read_csv(out / "backtest.csv")
    assert summary["rule"].iloc[-1] == "all rules" and "amount over 5x the 30-day mean" in set(summary["rule"])
    assert (summary["period_start"].nunique(), summary["days"].nunique()) == (1, 1)
    report = (out / "backtest.md").read_text()
    assert "## Decision mix" in report and "look-ahead" in report
    daily = pd.read_csv(out / "backtest_daily.csv")
    assert daily["alerts"].sum() == summary["review"].iloc[-1] + summary["block"].iloc[-1]
    # the measured period is the case's activity (from the first login), every day of it in the daily table
    assert summary["period_start"].iloc[0].startswith("2025-08-01") and len(daily) == 45
    assert summary["alerts_per_day"].iloc[-1] == pytest.approx(summary["alerts"].iloc[-1] / summary["days"].iloc[-1],
                                                               rel=1e-3)


def test_backtest_rules_file_errors_are_plain(tmp_path, capsys):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps([{"name": "x", "when": [{"feature": "__import__('os')", "op": ">", "value": 1}]}]))
    assert main(["backtest", "--rules", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown feature" in err and "Traceback" not in err
