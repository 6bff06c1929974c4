"""``--parquet DIR`` on the command line: the same run as ``--db``, and one-line errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

import graphfraud
from graphfraud.case.schema import TABLE_NAMES
from graphfraud.cli import main

from test_cli import ENV


@pytest.fixture(scope="module")
def parquet_case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pq")
    with sqlite3.connect(graphfraud.sample_case_path()) as conn:
        for name in TABLE_NAMES:
            pd.read_sql_query(f"SELECT * FROM {name}", conn).to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def test_analyze_reads_a_parquet_folder(parquet_case, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", "--parquet", str(parquet_case), "--out", str(out), "-q", "--no-cases"]) == 0
    assert pd.read_csv(out / "rejected_rows.csv").empty
    signals = pd.read_csv(out / "account_signals.csv")
    assert len(signals) > 1000
    assert f"graphfraud analyze: {parquet_case}" in capsys.readouterr().out


def test_export_reads_a_parquet_folder(parquet_case, tmp_path):
    assert main(["export", "neptune-csv", "--parquet", str(parquet_case), "--out", str(tmp_path / "n"), "-q"]) == 0
    assert (tmp_path / "n" / "manifest.json").exists()


def _csv_folder(p):
    (p / "users.csv").write_text("account_id\n")
    return p


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "holds no Parquet tables (expected one <table>.parquet per table"),
    (lambda p: p / "missing", "case not found"),
    (_csv_folder, "holds no Parquet tables"),
], ids=["empty folder", "no such folder", "a CSV folder"])
def test_a_bad_parquet_folder_is_one_line_exit_2_and_no_traceback(tmp_path, make, message):
    folder = make(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "graphfraud.cli", "analyze", "--parquet", str(folder),
                           "--out", str(tmp_path / "o"), "-q"], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 2
    assert proc.stderr.startswith("graphfraud: error: ") and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_a_damaged_parquet_file_names_file_and_table(parquet_case, tmp_path, capsys):
    folder = tmp_path / "pq"
    folder.mkdir()
    for p in parquet_case.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "logins.parquet").write_bytes(b"PAR1")
    assert main(["analyze", "--parquet", str(folder), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "logins.parquet: table 'logins': cannot be read as Parquet" in err and "Traceback" not in err


def test_source_flags_are_mutually_exclusive_and_checked_before_loading(parquet_case, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", "--parquet", str(parquet_case), "--csv", str(parquet_case)])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    # the same pre-load checks as --db/--csv: an empty period stops before the case is read
    assert main(["analyze", "--parquet", str(tmp_path / "missing"), "--since", "2025-09-01", "--until",
                 "2025-08-01", "--out", str(tmp_path / "o")]) == 2
    assert "the analysis period is empty" in capsys.readouterr().err
    # a flag names its format: a Parquet folder given to --csv says what it is
    assert main(["analyze", "--csv", str(parquet_case), "--out", str(tmp_path / "o"), "-q"]) == 2
    assert "it is Parquet: read it with format='parquet' (--parquet on the command line)" in capsys.readouterr().err
