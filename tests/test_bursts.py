import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphfraud
from graphfraud.detect.bursts import BURST_COLUMNS
from graphfraud.errors import InputError
from naive import naive_bursts

from conftest import ec2, logins, reputation

T0 = pd.Timestamp("2025-08-01 00:00:00")
REP = reputation(("6.6.6.6", 80, 1, 0), ("5.5.5.5", 79, 1, 0))


def case_with(runs, login_rows=None):
    login_rows = login_rows or [(str(T0), "A1", "6.6.6.6", "RU", "FAIL", 0, "d")]
    return graphfraud.case_from_frames(logins=logins(*login_rows), ip_reputation=REP, ec2_activity=ec2(*runs))


def runs_at(*offsets_regions, account="A1", action="RUN_INSTANCES"):
    return [(str(T0 + pd.Timedelta(off)), account, action, region) for off, region in offsets_regions]


def test_exactly_four_runs_in_two_regions_with_the_last_at_t0_plus_24h():
    case = case_with(runs_at(("0s", "us-east-1"), ("1h", "us-east-1"), ("2h", "eu-west-1"), ("24h", "eu-west-1")))
    b = graphfraud.detect_bursts(case)
    assert list(b.columns) == BURST_COLUMNS
    assert b.to_dict("records") == [{
        "account_id": "A1", "trigger_ts": T0, "ip": "6.6.6.6", "run_count_24h": 4,
        "region_count_24h": 2, "regions": "eu-west-1,us-east-1"}]


def test_one_second_past_the_window_or_before_t0_does_not_count():
    late = runs_at(("0s", "us-east-1"), ("1h", "us-east-1"), ("2h", "eu-west-1"), ("86401s", "eu-west-1"))
    early = runs_at(("-1s", "us-east-1"), ("1h", "us-east-1"), ("2h", "eu-west-1"), ("3h", "eu-west-1"))
    assert graphfraud.detect_bursts(case_with(late)).empty
    assert graphfraud.detect_bursts(case_with(early)).empty


def test_needs_two_regions_same_account_run_instances_and_a_risky_fail():
    one_region = runs_at(*[(f"{h}h", "us-east-1") for h in range(5)])
    assert graphfraud.detect_bursts(case_with(one_region)).empty
    other_account = runs_at(*[(f"{h}h", r) for h, r in zip(range(4), ["a", "b", "a", "b"])], account="A2")
    assert graphfraud.detect_bursts(case_with(other_account)).empty
    other_action = runs_at(*[(f"{h}h", r) for h, r in zip(range(4), ["a", "b", "a", "b"])], action="TERMINATE_INSTANCES")
    assert graphfraud.detect_bursts(case_with(other_action)).empty
    good = runs_at(*[(f"{h}h", r) for h, r in zip(range(4), ["a", "b", "a", "b"])])
    for ip, result in [("5.5.5.5", "FAIL"), ("9.9.9.9", "FAIL"), ("6.6.6.6", "SUCCESS")]:  # low risk, no rep row, success
        rows = [(str(T0), "A1", ip, "RU", result, 0, "d")]
        assert graphfraud.detect_bursts(case_with(good, rows)).empty, (ip, result)
    assert len(graphfraud.detect_bursts(case_with(good))) == 1


def test_one_trigger_per_risky_fail_and_parameters():
    good = runs_at(*[(f"{h}h", r) for h, r in zip(range(4), ["a", "b", "a", "b"])])
    rows = [(str(T0), "A1", "6.6.6.6", "RU", "FAIL", 0, "d"),
            (str(T0 + pd.Timedelta("30min")), "A1", "6.6.6.6", "RU", "FAIL", 0, "d")]
    # the fail at 00:30 only sees the runs at 1h, 2h and 3h: not a trigger with min_runs=4
    b = graphfraud.detect_bursts(case_with(good, rows))
    assert b["trigger_ts"].tolist() == [T0]
    assert graphfraud.detect_bursts(case_with(good, rows), min_runs=3)["run_count_24h"].tolist() == [4, 3]
    assert graphfraud.detect_bursts(case_with(good, rows), min_regions=3).empty
    assert len(graphfraud.detect_bursts(case_with(good, rows), risk_threshold=90)) == 0
    # 00:30 + 2.5h = 03:00 takes in the run at 3h (inclusive end); with 2h it does not
    assert graphfraud.detect_bursts(case_with(good, rows), window_hours=2.5, min_runs=3)["run_count_24h"].tolist() == [3, 3]
    assert graphfraud.detect_bursts(case_with(good, rows), window_hours=2, min_runs=3)["trigger_ts"].tolist() == [T0]
    with pytest.raises(InputError, match="min_runs"):
        graphfraud.detect_bursts(case_with(good), min_runs=0)


def test_since_until_limit_the_triggers():
    good = runs_at(*[(f"{h}h", r) for h, r in zip(range(4), ["a", "b", "a", "b"])])
    assert graphfraud.detect_bursts(case_with(good), since=T0 + pd.Timedelta("1s")).empty
    assert len(graphfraud.detect_bursts(case_with(good), since=T0, until=T0)) == 1


# ------------------------------------------------------------------ property test

_minutes = st.integers(0, 3 * 24 * 60)
_login = st.tuples(_minutes, st.sampled_from(["A1", "A2", "A3"]), st.sampled_from(["6.6.6.6", "5.5.5.5", "9.9.9.9"]),
                   st.sampled_from(["FAIL", "FAIL", "SUCCESS"]))
_run = st.tuples(_minutes, st.sampled_from(["A1", "A2", "A3"]),
                 st.sampled_from(["RUN_INSTANCES", "RUN_INSTANCES", "RUN_INSTANCES", "TERMINATE_INSTANCES"]),
                 st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1", None]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_login, max_size=12), st.lists(_run, max_size=30), st.integers(1, 5), st.integers(1, 3),
       st.sampled_from([1, 24, 48]))
def test_burst_window_matches_a_direct_reading_of_the_definition(login_rows, run_rows, min_runs, min_regions, hours):
    lg = logins(*[(str(T0 + pd.Timedelta(minutes=m)), a, ip, "RU", res, 0, "d") for m, a, ip, res in login_rows])
    runs = ec2(*[(str(T0 + pd.Timedelta(minutes=m)), a, act, reg) for m, a, act, reg in run_rows])
    case = graphfraud.case_from_frames(logins=lg, ip_reputation=REP, ec2_activity=runs)
    fast = graphfraud.detect_bursts(case, min_runs=min_runs, min_regions=min_regions, window_hours=hours)
    slow = naive_bursts(case, min_runs=min_runs, min_regions=min_regions, window_hours=hours)
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
    assert (fast["run_count_24h"] >= min_runs).all() and (fast["region_count_24h"] >= min_regions).all()


def test_bursts_equal_the_loop_on_a_generated_case(synthetic):
    fast = graphfraud.detect_bursts(synthetic.case)
    slow = naive_bursts(synthetic.case)
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
    truly_compromised = set(synthetic.truth.accounts.query("compromised == 1")["account_id"])
    assert set(fast["account_id"]) <= truly_compromised
