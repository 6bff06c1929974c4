"""Numbers an analyst can trust: one period per figure, all-or-nothing outputs, no tracebacks.

Each test is named after a defect it pins (issue "Numbers an analyst can trust").
"""

from __future__ import annotations

import errno
import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest

import graphfraud
from graphfraud.act import output as output_mod
from graphfraud.act.output import OutputError, OutputFolder, atomic_write_bytes
from graphfraud.cli import main
from graphfraud.errors import BackendError, InputError

from conftest import LOGIN_COLUMNS
from test_rings import background, make_case, ring_rows


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "out"
    assert main(["analyze", "--out", str(out), "--quiet"]) == 0
    return out


def test_rule_alert_loads_count_matches_in_the_period_they_are_divided_by(sample_run, sample_case):
    rules = pd.read_csv(sample_run / "rules.csv")
    manifest = json.loads((sample_run / "manifest.json").read_text())
    window = manifest["periods"]
    assert (rules["period_start"] == window["window_start"]).all()
    assert (rules["period_end"] == window["window_end"]).all()
    assert np.allclose(rules["daily_alerts"], rules["alerts"] / rules["days"])
    # the burst rule counts accounts with a trigger *in the window*, not in the whole case
    bursts = graphfraud.detect_bursts(sample_case, since=window["window_start"], until=window["window_end"])
    burst_rule = rules.set_index("rule").loc["risky fail then EC2 burst"]
    assert burst_rule["alerts"] == bursts["account_id"].nunique()
    whole_case = pd.read_csv(sample_run / "burst_triggers.csv")["account_id"].nunique()
    assert burst_rule["alerts"] < whole_case


def test_report_states_both_periods_and_has_no_html_entities(sample_run):
    text = (sample_run / "report.md").read_text()
    assert "Analysis period: 2025-08-01 00:00:00 to 2025-09-14 23:59:00 (45.0 days)" in text
    assert "Signal window: 2025-08-31 23:59:00 to 2025-09-14 23:59:00 (14.0 days)" in text
    assert "&gt;" not in text and "&lt;" not in text and "&amp;" not in text
    assert "ring ring-" not in text


def test_campaign_victims_in_the_report_are_distinct_accounts(sample_run, sample_case):
    camp = pd.read_csv(sample_run / "campaigns.csv")
    lg = sample_case.logins
    on = lg["ip"].astype(object).isin(camp["ip"]) & (lg["result"] == "FAIL")
    distinct = lg.loc[on, "account_id"].nunique()
    text = (sample_run / "report.md").read_text()
    assert f"failed logins on {distinct:,} distinct accounts" in text
    assert distinct < camp["victims"].sum()  # the per-IP sum double-counts


def test_recommended_now_leads_with_flagged_rings_when_they_are_the_strongest_signal(sample_run):
    line = next(x for x in (sample_run / "report.md").read_text().splitlines() if "**Recommended now**" in x)
    assert line.index("flagged ring") < line.index("burst trigger")
    rate, rest = map(float, re.search(r"(\d+\.\d)% bad payments? vs (\d+\.\d)%", line).groups())
    assert rate > 5 * rest


def test_manifest_lists_every_output_with_rows_and_sha256(sample_run):
    manifest = json.loads((sample_run / "manifest.json").read_text())
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {p.relative_to(sample_run).as_posix() for p in sample_run.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(listed) == on_disk
    for rel, f in listed.items():
        assert hashlib.sha256((sample_run / rel).read_bytes()).hexdigest() == f["sha256"]
    assert listed["account_signals.csv"]["rows"] == len(pd.read_csv(sample_run / "account_signals.csv"))
    assert manifest["seed"] == 0 and manifest["version"] == graphfraud.__version__
    assert manifest["input_fingerprint"].startswith("sha256:")


def test_identical_input_and_seed_give_byte_identical_outputs(sample_run, tmp_path):
    again = tmp_path / "again"
    assert main(["analyze", "--out", str(again), "--quiet"]) == 0
    assert (again / "manifest.json").read_bytes() == (sample_run / "manifest.json").read_bytes()


def test_a_rerun_removes_outputs_of_the_previous_run_it_does_not_write_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    assert main(["analyze", "--out", str(out), "--quiet"]) == 0
    assert (out / "cases" / "index.csv").exists()
    (out / "my_notes.txt").write_text("mine")
    assert main(["analyze", "--out", str(out), "--quiet", "--no-cases"]) == 0
    assert not (out / "cases").exists()
    assert (out / "my_notes.txt").read_text() == "mine"


def test_a_write_that_fails_leaves_the_old_file_and_no_partial_one(tmp_path, monkeypatch):
    target = tmp_path / "rules.json"
    target.write_text("old")

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output_mod.os, "fsync", full_disk)
    with pytest.raises(OutputError, match="disk is full"):
        atomic_write_bytes(target, b"new" * 1000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["rules.json"]


def test_a_folder_being_written_has_no_manifest(tmp_path):
    out = tmp_path / "out"
    OutputFolder(out).finish({})
    assert (out / "manifest.json").exists()
    OutputFolder(out)  # a new run starts
    assert not (out / "manifest.json").exists()


def _quiet_case():
    """Honest accounts only: nothing shared, so no ring of 2+ accounts."""
    return make_case(background(np.random.default_rng(3), n=30, logins=5))


def test_no_ring_in_the_period_finishes_with_empty_ring_files(tmp_path):
    res = graphfraud.analyze(_quiet_case(), tmp_path / "out")
    assert res.rings.summary.empty and res.rings.flagged.empty
    assert list(pd.read_csv(tmp_path / "out" / "ring_summary.csv").columns)[:3] == ["ring_id", "size", "verdict"]
    assert "no ring was found" in (tmp_path / "out" / "report.md").read_text()


def test_period_with_no_logins_is_one_clear_message():
    with pytest.raises(InputError, match="no logins between since 2030-01-01"):
        graphfraud.analyze(_quiet_case(), None, since="2030-01-01", until="2030-02-01")


def test_ring_first_and_last_seen_are_real_login_times_not_slot_bounds():
    rng = np.random.default_rng(1)
    ring = [f"R{i:03d}" for i in range(6)]
    rows = background(rng) + ring_rows(rng, ring, ["77.0.0.1", "77.0.0.2"], days=[2, 6, 11, 17, 23])
    res = graphfraud.find_rings(make_case(rows, [("77.0.0.1", 85, 1, 0), ("77.0.0.2", 90, 1, 1)]))
    row = res.flagged.iloc[0]
    ring_logins = pd.DataFrame(rows, columns=LOGIN_COLUMNS)
    ring_logins = ring_logins[ring_logins["account_id"].isin(ring)]
    assert row["first_seen"] == pd.Timestamp(ring_logins["event_ts"].min())
    assert row["last_seen"] == pd.Timestamp(ring_logins["event_ts"].max())
    assert "co-active" in row["top_evidence"] and "member pairs x time slots" in row["top_evidence"]


@pytest.mark.parametrize("args, message", [
    (["--window-days", "inf"], "argument --window-days: must be a positive finite number"),
    (["--window-days", "0"], "argument --window-days: must be a positive finite number"),
    (["--seed", "-1"], "argument --seed: must be from 0 to 4294967295"),
    (["--as-of", "yesterday"], "argument --as-of: 'yesterday' is not a timestamp"),
    (["--since", "3000-01-01"], "argument --since: '3000-01-01' is out of range"),
    (["--until", "2025-13-45"], "argument --until: '2025-13-45' is not a timestamp"),
    (["--alert-budget", "nan"], "argument --alert-budget"),
    (["--top-share", "2"], "argument --top-share: must be in (0, 1]"),
])
def test_bad_cli_arguments_are_one_message_naming_the_flag(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "--out", str(tmp_path / "o"), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_since_later_than_until_is_reported_before_loading(tmp_path, capsys):
    assert main(["analyze", "--out", str(tmp_path / "o"), "--since", "2025-09-10", "--until", "2025-09-01"]) == 2
    err = capsys.readouterr().err
    assert "--since (2025-09-10 00:00:00) is later than --until" in err and "loading" not in err


def test_out_that_is_a_file_is_reported_before_the_analysis(tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    assert main(["analyze", "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "loading" not in err
    assert main(["analyze", "--out", str(f / "sub")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_gremlite_path_that_is_a_folder_or_not_sqlite_is_a_clear_message(tmp_path, capsys):
    assert main(["analyze", "--out", str(tmp_path / "o"), "--graph", f"gremlite://{tmp_path}"]) == 2
    assert "is a folder" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite at all")
    assert main(["analyze", "--out", str(tmp_path / "o"), "--graph", f"gremlite://{junk}"]) == 2
    assert "is not a SQLite file" in capsys.readouterr().err


def test_a_refused_gremlin_connection_is_one_message():
    with pytest.raises(BackendError, match="cannot reach the Gremlin server at ws://127.0.0.1:9/gremlin"):
        graphfraud.connect("ws://127.0.0.1:9/gremlin")


def test_an_unexpected_error_is_one_line_without_a_traceback(monkeypatch, tmp_path, capsys):
    def boom(*a, **k):
        raise ValueError("something broke")

    monkeypatch.setattr("graphfraud.pipeline.analyze", boom)
    monkeypatch.delenv("GRAPHFRAUD_DEBUG", raising=False)
    assert main(["analyze", "--out", str(tmp_path / "o"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "internal error: ValueError: something broke" in err and "Traceback" not in err


def test_version_and_every_default_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"graphfraud {graphfraud.__version__}"
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = capsys.readouterr().out
    for default in ("(default: 14", "(default: 0)", "(default: 50", "(default: louvain)", "(default: None)"):
        assert default in text


def test_a_signal_window_with_no_logins_is_an_error_naming_as_of(tmp_path, capsys):
    assert main(["analyze", "--as-of", "2030-01-01", "--out", str(tmp_path / "o"), "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "no logins in the signal window" in err and "--as-of" in err and "Traceback" not in err
