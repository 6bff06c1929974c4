import pandas as pd
import pytest

import graphfraud
from graphfraud.errors import InputError
from graphfraud.detect.signals import SIGNAL_COLUMNS
from naive import naive_signals

from conftest import logins, reputation

AS_OF = "2025-08-15 00:00:00"  # window [2025-08-01 00:00, 2025-08-15 00:00]


def signals_of(case, **kw):
    return graphfraud.account_signals(case, as_of=AS_OF, **kw).set_index("account_id")


def test_window_edges_are_inclusive_and_history_is_strictly_before():
    case = graphfraud.case_from_frames(logins=logins(
        ("2025-07-31 23:59:59", "A1", "1.1.1.1", "DE", "SUCCESS", 1, "d0"),  # history
        ("2025-08-01 00:00:00", "A1", "1.1.1.1", "DE", "FAIL", 0, "d0"),     # window start: in
        ("2025-08-15 00:00:00", "A1", "1.1.1.1", "FR", "SUCCESS", 1, "d1"),  # as_of: in
        ("2025-08-15 00:00:01", "A1", "1.1.1.1", "US", "FAIL", 0, "d9"),     # after as_of: ignored
    ))
    s = signals_of(case).loc["A1"]
    assert s["logins"] == 2
    assert s["failed_login_rate"] == 0.5
    assert s["mfa_rate"] == 0.5
    assert s["new_country_rate"] == 0.5      # FR new, DE seen in history
    assert s["device_count"] == 2
    assert s["device_churn"] == 0.5          # d1 new, d0 seen


def test_account_without_history_has_rates_of_one_and_inactive_accounts_are_absent():
    case = graphfraud.case_from_frames(logins=logins(
        ("2025-08-10 10:00", "NEW", "1.1.1.1", "DE", "SUCCESS", 0, "d1"),
        ("2025-07-01 10:00", "OLD", "1.1.1.1", "DE", "SUCCESS", 0, "d1"),
    ))
    s = signals_of(case)
    assert list(s.index) == ["NEW"]
    assert s.loc["NEW", "new_country_rate"] == 1.0
    assert s.loc["NEW", "device_churn"] == 1.0
    assert s.loc["NEW", "composite"] == pytest.approx(0.3)


def test_unknown_ip_counts_in_denominator_but_is_never_risky_or_tor():
    case = graphfraud.case_from_frames(
        logins=logins(
            ("2025-07-01 10:00", "A1", "1.1.1.1", "DE", "SUCCESS", 1, "d1"),
            ("2025-08-10 10:00", "A1", "6.6.6.6", "DE", "FAIL", 0, "d1"),   # risk 80: high risk, tor
            ("2025-08-10 11:00", "A1", "7.7.7.7", "DE", "FAIL", 0, "d1"),   # risk 79: not high risk
            ("2025-08-10 12:00", "A1", "9.9.9.9", "DE", "SUCCESS", 0, "d1"),  # no reputation row
            ("2025-08-10 13:00", "A1", None, None, "SUCCESS", 0, None),     # no ip, no country, no device
        ),
        ip_reputation=reputation(("6.6.6.6", 80, 1, 1), ("7.7.7.7", 79, 1, 0)),
    )
    s = signals_of(case).loc["A1"]
    assert s["logins"] == 4
    assert s["high_risk_ip_share"] == 0.25
    assert s["tor_login_count"] == 1
    assert s["new_country_rate"] == 0.0
    assert s["device_count"] == 1 and s["device_churn"] == 0.0
    assert s["composite"] == pytest.approx(0.4 * 0.5 + 0.3 * 0 + 0.2 * 1 + 0.1 * 0.25)


def test_history_without_any_known_country_in_window_gives_zero():
    case = graphfraud.case_from_frames(logins=logins(
        ("2025-07-01 10:00", "A1", "1.1.1.1", "DE", "SUCCESS", 0, "d1"),
        ("2025-08-10 10:00", "A1", "1.1.1.1", None, "SUCCESS", 0, None),
    ))
    s = signals_of(case).loc["A1"]
    assert s["new_country_rate"] == 0.0 and s["device_churn"] == 0.0 and s["device_count"] == 0


def test_custom_weights_threshold_and_window():
    case = graphfraud.case_from_frames(
        logins=logins(("2025-08-14 10:00", "A1", "7.7.7.7", "DE", "FAIL", 0, "d1"),
                      ("2025-08-01 10:00", "A1", "7.7.7.7", "DE", "SUCCESS", 0, "d1")),
        ip_reputation=reputation(("7.7.7.7", 60, 1, 0)),
    )
    s = graphfraud.account_signals(case, window_days=2, as_of=AS_OF, weights={"failed_login_rate": 1.0},
                                   high_risk_threshold=50).set_index("account_id").loc["A1"]
    assert s["logins"] == 1 and s["high_risk_ip_share"] == 1.0 and s["new_country_rate"] == 0.0
    assert s["composite"] == pytest.approx(1.0 * 1 + 0.1 * 1.0)


def test_bad_parameters_are_clear_errors():
    case = graphfraud.case_from_frames(logins=logins(("2025-08-14 10:00", "A1", "7.7.7.7", "DE", "FAIL", 0, "d1")))
    with pytest.raises(InputError, match=r"unknown composite weight\(s\) \['fail'\]"):
        graphfraud.account_signals(case, weights={"fail": 1})
    with pytest.raises(InputError, match="window_days must be positive"):
        graphfraud.account_signals(case, window_days=0)
    with pytest.raises(InputError, match="no logins"):
        graphfraud.account_signals(graphfraud.case_from_frames(logins=logins()))


def test_columns_and_default_as_of_is_latest_login(sample_case):
    s = graphfraud.account_signals(sample_case)
    assert list(s.columns) == SIGNAL_COLUMNS
    assert s.attrs["as_of"] == sample_case.logins["event_ts"].max()
    assert s["account_id"].is_unique and s["account_id"].is_monotonic_increasing
    for col in ["failed_login_rate", "new_country_rate", "mfa_rate", "device_churn", "high_risk_ip_share", "composite"]:
        assert s[col].between(0, 1).all(), col


@pytest.mark.parametrize("window_days,as_of", [(14, None), (7, "2025-08-20 12:00:00"), (30, None)])
def test_vectorised_signals_equal_the_per_account_loop(synthetic, window_days, as_of):
    fast = graphfraud.account_signals(synthetic.case, window_days=window_days, as_of=as_of)
    slow = naive_signals(synthetic.case, window_days=window_days, as_of=as_of)
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow, check_dtype=False)
