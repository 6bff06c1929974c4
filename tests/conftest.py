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
def synthetic():
    from graphfraud import synth

    return synth.generate_case(1200, seed=11, days=30, chunk_size=600)
