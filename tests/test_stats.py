import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import graphfraud
from graphfraud.errors import InputError
from graphfraud.act.stats import PAYMENT_TEST_COLUMNS

from conftest import logins


def case_with_payments(outcomes: dict[str, list[str]]):
    rows = [("2025-08-01", a, "CARD", 10.0, s) for a, statuses in outcomes.items() for s in statuses]
    pay = pd.DataFrame(rows, columns=["payment_ts", "account_id", "method", "amount_usd", "status"])
    return graphfraud.case_from_frames(logins=logins(), payments=pay)


def cohort_case(n_f, bad_f, n_r, bad_r):
    out = {}
    for i in range(n_f):
        out[f"F{i}"] = ["PAID", "CHARGEBACK"] if i < bad_f else ["PAID"]
    for i in range(n_r):
        out[f"R{i}"] = ["DECLINED"] if i < bad_r else ["PAID", "PAID"]
    return graphfraud.case_from_frames(logins=logins(), payments=pd.DataFrame(
        [("2025-08-01", a, "CARD", 1.0, s) for a, ss in out.items() for s in ss],
        columns=["payment_ts", "account_id", "method", "amount_usd", "status"])), [f"F{i}" for i in range(n_f)]


def test_z_test_when_every_expected_cell_is_at_least_five():
    case, flagged = cohort_case(40, 12, 200, 20)
    t = graphfraud.payment_outcome_test(case, flagged)
    assert t.method == "two-proportion z-test"
    assert (t.n_flagged, t.bad_flagged, t.n_rest, t.bad_rest) == (40, 12, 200, 20)
    p1, p2, pool = 12 / 40, 20 / 200, 32 / 240
    z = (p1 - p2) / math.sqrt(pool * (1 - pool) * (1 / 40 + 1 / 200))
    assert t.statistic == pytest.approx(z)
    assert t.pvalue == pytest.approx(2 * stats.norm.sf(abs(z)))
    # a z-test is the square root of the uncorrected chi-square test
    chi2 = stats.chi2_contingency([[12, 28], [20, 180]], correction=False)
    assert t.pvalue == pytest.approx(chi2.pvalue)
    assert t.relative_risk == pytest.approx(3.0)
    assert t.warning == ""


def test_fisher_and_a_warning_when_the_cohort_is_small():
    case, flagged = cohort_case(3, 2, 100, 5)
    t = graphfraud.payment_outcome_test(case, flagged)
    assert t.method == "Fisher's exact test"
    assert t.pvalue == pytest.approx(stats.fisher_exact([[2, 1], [5, 95]]).pvalue)
    assert "only 3 flagged account(s) with payments" in t.warning
    assert "below 5" in t.why_method


def test_flagged_accounts_without_payments_are_counted_not_tested():
    case, _ = cohort_case(0, 0, 10, 1)
    t = graphfraud.payment_outcome_test(case, ["GHOST", "GHOST", "R0"])
    assert t.n_flagged == 1 and t.flagged_without_payments == 1 and t.n_rest == 9
    t0 = graphfraud.payment_outcome_test(case, ["GHOST"])
    assert t0.method == "none" and math.isnan(t0.pvalue)
    assert "no flagged accounts have payments" in t0.warning


def test_account_level_outcome_and_custom_bad_statuses():
    case = case_with_payments({"A": ["PAID", "DECLINED"], "B": ["PAID"], "C": ["CHARGEBACK"]})
    t = graphfraud.payment_outcome_test(case, ["A"], bad_statuses=("CHARGEBACK",))
    assert (t.bad_flagged, t.bad_rest, t.n_rest) == (0, 1, 2)


def test_wilson_interval_known_values():
    lo, hi = graphfraud.wilson_interval(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    assert graphfraud.wilson_interval(10, 10)[1] == 1.0
    assert all(math.isnan(x) for x in graphfraud.wilson_interval(0, 0))


def test_benjamini_hochberg_matches_scipy():
    p = np.array([0.001, 0.2, 0.03, 0.04, 0.5, 0.012])
    np.testing.assert_allclose(graphfraud.benjamini_hochberg(p), stats.false_discovery_control(p))


def test_several_cohorts_get_bh_and_the_documented_columns():
    case, flagged = cohort_case(40, 12, 200, 20)
    df = graphfraud.payment_outcome_tests(case, {"big": flagged, "small": flagged[:2], "none": []})
    assert list(df.columns[: len(PAYMENT_TEST_COLUMNS)]) == PAYMENT_TEST_COLUMNS
    assert df["method"].tolist() == ["two-proportion z-test", "Fisher's exact test", "none"]
    ok = df["pvalue"].notna()
    np.testing.assert_allclose(df.loc[ok, "pvalue_bh"], stats.false_discovery_control(df.loc[ok, "pvalue"]))
    with pytest.raises(InputError):
        graphfraud.payment_outcome_tests(case, {})
