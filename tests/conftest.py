"""Shared fixtures: tiny hand-built cases and the reference case when ../shared is present."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import graphfraud

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))  # naive.py: the per-account oracle

REFERENCE_DB = ROOT.parent / "shared" / "data" / "aws_fraud_case" / "aws_fraud_case.sqlite"
REFERENCE_DIR = REFERENCE_DB.parent

LOGIN_COLUMNS = ["event_ts", "account_id", "ip", "country_iso", "result", "mfa_used", "device_id"]


def logins(*rows) -> pd.DataFrame:
    """``logins(("2025-08-01 10:00", "A1", "1.1.1.1", "DE", "FAIL", 0, "d1"), ...)``."""
    return pd.DataFrame(list(rows), columns=LOGIN_COLUMNS)


def reputation(*rows) -> pd.DataFrame:
    """``reputation(("1.1.1.1", 90, 64500, 0), ...)``: ip, risk_score, asn, is_tor."""
    return pd.DataFrame(list(rows), columns=["ip", "risk_score", "asn", "is_tor"])


def six_table_tables(path=None) -> dict[str, pd.DataFrame]:
    """A case's raw tables in the six-table form: no blocklist or fx_rates, payments without the money-side columns.

    The sample carries the money side; this is how every case looked before it (a USD amount per payment).
    """
    import sqlite3

    import numpy as np

    with sqlite3.connect(path or graphfraud.sample_case_path()) as conn:
        t = {n: pd.read_sql_query(f"SELECT * FROM {n}", conn) for n in graphfraud.case.TABLE_NAMES}
    p = t["payments"]
    if "currency" in p:  # the money side's amounts, in USD as an older case gives them
        rates = graphfraud.detect.transaction_flags.payment_amounts_usd(graphfraud.load_case(path or graphfraud.sample_case_path()))
        p["amount_usd"] = np.round(rates, 2)
    core = [c.name for c in graphfraud.case.TABLES["payments"].columns if c.absent != "omit"]
    t["payments"] = p[core]
    return t


def ec2(*rows) -> pd.DataFrame:
    """``ec2(("2025-08-01 11:00", "A1", "RUN_INSTANCES", "eu-west-1"), ...)``."""
    df = pd.DataFrame(list(rows), columns=["event_ts", "account_id", "action", "region"])
    df["instance_id"] = [f"i-{k}" for k in range(len(df))]
    return df


@pytest.fixture(scope="session")
def reference_db() -> Path:
    if not REFERENCE_DB.exists():
        pytest.skip("reference case ../shared/data/aws_fraud_case is not present (it lives beside the repo, not in it)")
    return REFERENCE_DB


@pytest.fixture(scope="session")
def reference_case(reference_db):
    return graphfraud.load_case(reference_db)


@pytest.fixture(scope="session")
def sample_case():
    return graphfraud.load_case(graphfraud.sample_case_path())


@pytest.fixture(scope="session")
def six_table_case():
    """The sample case as an older six-table case (no money side)."""
    return graphfraud.case_from_frames(**six_table_tables())


@pytest.fixture(scope="session")
def synthetic():
    from graphfraud import synth

    return synth.generate_case(1200, seed=11, days=30, chunk_size=600)


CASE_SINCE = "2025-08-05 00:00:00"


@pytest.fixture(scope="module")
def analysed_since(synthetic):
    """The synthetic case analysed over an analysis period that starts after its first login."""
    import graphfraud
    from graphfraud.case import resolve_periods

    case = synthetic.case
    signals = graphfraud.account_signals(case)
    bursts = graphfraud.detect_bursts(case, since=CASE_SINCE)
    rings = graphfraud.find_rings(case, since=CASE_SINCE, signals=signals, bursts=bursts)
    assert len(rings.flagged) >= 2
    return case, signals, bursts, rings, resolve_periods(case, CASE_SINCE)


@pytest.fixture(scope="module")
def opened_cases(analysed_since, tmp_path_factory):
    """Every flagged ring's case folder for ``analysed_since``: the folder and cases/index."""
    from graphfraud.act.cases import open_ring_cases

    case, signals, bursts, rings, periods = analysed_since
    out = tmp_path_factory.mktemp("cases")
    return out, open_ring_cases(case, rings, out, signals, bursts, periods=periods)


# The fast subset is `pytest -m "not slow"` (under a minute on 2 cores). These are the
# tests that take seconds each: larger generated cases, the embedded Gremlin store,
# subprocesses, headless Chromium, whole README and notebook runs. Listed here, in one
# place, so a test file never has to know.
SLOW = (
    "test_readme.py::",
    "test_gremlin_end_to_end.py::",
    "test_burst_window_matches_a_direct_reading_of_the_definition",
    "test_bursts_equal_the_loop_on_a_generated_case",
    "test_vectorised_signals_equal_the_per_account_loop",
    "[gremlite://]",
    "test_rings_match_exactly_on_every_store",
    "test_any_logins_round_trip_through_the_in_memory_store",
    "test_every_login_row_is_used_or_rejected_exactly_once",
    "test_page_renders_in_headless_chromium",
    "test_case_page_renders_from_its_folder_in_headless_chromium",
    "test_ring_case_example_runs",
    "test_quickstart_example_runs",
    "test_console_script_runs_as_a_module",
    "test_a_rerun_removes_outputs_of_the_previous_run",
    "test_identical_input_and_seed_give_byte_identical_outputs",
    "test_analyze_counts_rejected_rows_from_a_messy_csv_case",
    "test_loader_properties.py::",
    "test_gremlite_bulk.py::",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(s in item.nodeid for s in SLOW):
            item.add_marker(pytest.mark.slow)
