"""Payment-outcome tests: do flagged accounts have more chargebacks and declines?"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..case import Case
from ..errors import InputError
from ..case.arrays import text_isin
from ..case.schema import BAD_PAYMENT_STATUSES

__all__ = [
    "PaymentTest",
    "payment_outcome_test",
    "payment_outcome_tests",
    "wilson_interval",
    "benjamini_hochberg",
    "PAYMENT_TEST_COLUMNS",
]

PAYMENT_TEST_COLUMNS = [
    "cohort",
    "method",
    "statistic",
    "pvalue",
    "pvalue_bh",
    "n_flagged",
    "bad_flagged",
    "n_rest",
    "bad_rest",
    "relative_risk",
    "warning",
]

# Below this many flagged accounts a significant p-value still rests on a handful of people.
SMALL_COHORT = 30


@dataclass(frozen=True)
class PaymentTest:
    """Result of comparing the bad-payment rate of flagged accounts with the rest.

    Counts are of *accounts with at least one payment*: an account is "bad" when
    any of its payments has a bad status. ``method`` is ``"two-proportion z-test"``
    when every expected cell of the 2x2 table is at least 5, ``"Fisher's exact
    test"`` otherwise, and ``"none"`` when a group is empty. ``statistic`` is the
    z score or Fisher's (conditional MLE-free, sample) odds ratio. ``warning`` is a
    plain sentence when the result should not be used to conclude anything.
    """

    method: str
    statistic: float
    pvalue: float
    n_flagged: int
    bad_flagged: int
    n_rest: int
    bad_rest: int
    rate_flagged: float
    rate_rest: float
    ci_flagged: tuple[float, float]
    ci_rest: tuple[float, float]
    relative_risk: float
    flagged_without_payments: int
    warning: str
    why_method: str

    def as_dict(self) -> dict:
        return asdict(self)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (well behaved at 0, 1 and small n).

    Examples
    --------
    >>> lo, hi = wilson_interval(0, 10)
    >>> round(lo, 3), round(hi, 3)
    (0.0, 0.278)
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = _st.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at p = 0 or 1 the bound is exactly 0 or 1; float rounding would give 0.9999999
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (float(lo), float(hi))


def benjamini_hochberg(pvalues: Iterable[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN stays NaN and is not counted as a test.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, float("nan"), 0.03]).round(3).tolist()
    [0.03, 0.04, nan, 0.04]
    """
    p = np.asarray(list(pvalues), dtype=float)
    out = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    q = p[ok]
    order = np.argsort(q)
    ranked = q[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    res = np.empty(m)
    res[order] = adjusted
    out[ok] = res
    return out


def _account_outcomes(case: Case, bad_statuses: Iterable[str]) -> pd.Series:
    pay = case.payments
    bad = pay["status"].astype(object).isin([s.upper() for s in bad_statuses])
    return bad.groupby(pay["account_id"].astype(object).to_numpy()).any()


def payment_outcome_test(
    case: Case,
    flagged_accounts: Iterable[str],
    bad_statuses: Iterable[str] = BAD_PAYMENT_STATUSES,
    alpha: float = 0.05,
    _outcomes: pd.Series | None = None,
) -> PaymentTest:
    """Compare the bad-payment rate of ``flagged_accounts`` with every *other* account that has payments.

    Parameters
    ----------
    case
        the loaded case.
    flagged_accounts
        account ids in the cohort (duplicates and accounts without payments are fine).
    bad_statuses
        payment statuses that count as a bad outcome.
    alpha
        significance level used only for the wording of warnings.

    Returns
    -------
    PaymentTest

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> pay = pd.DataFrame({"payment_ts": ["2025-08-01"] * 4, "account_id": ["A", "B", "C", "D"],
    ...     "method": ["CARD"] * 4, "amount_usd": [10.0] * 4,
    ...     "status": ["CHARGEBACK", "PAID", "PAID", "DECLINED"]})
    >>> logins = pd.DataFrame(columns=["event_ts", "account_id", "ip", "country_iso", "result",
    ...     "mfa_used", "device_id"])
    >>> t = graphfraud.payment_outcome_test(graphfraud.case_from_frames(logins=logins, payments=pay), ["A"])
    >>> t.method, t.n_flagged, t.bad_flagged, t.n_rest, t.bad_rest
    ("Fisher's exact test", 1, 1, 3, 1)
    """
    outcomes = _account_outcomes(case, bad_statuses) if _outcomes is None else _outcomes
    flagged = pd.Index(pd.unique(pd.Series(list(flagged_accounts), dtype=object).dropna()))
    in_flag = text_isin(outcomes.index, flagged)
    n_f, bad_f = int(in_flag.sum()), int(outcomes[in_flag].sum())
    n_r, bad_r = int((~in_flag).sum()), int(outcomes[~in_flag].sum())
    without = int((~text_isin(flagged, outcomes.index)).sum())
    rate_f = bad_f / n_f if n_f else math.nan
    rate_r = bad_r / n_r if n_r else math.nan
    rr = _relative_risk(bad_f, n_f, bad_r, n_r)

    warnings = []
    if n_f == 0 or n_r == 0:
        method, stat, p = "none", math.nan, math.nan
        who = "flagged accounts" if n_f == 0 else "other accounts"
        why = f"no {who} have payments, so there is nothing to compare"
        warnings.append(why)
    else:
        table = np.array([[bad_f, n_f - bad_f], [bad_r, n_r - bad_r]])
        expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
        if (expected >= 5).all():
            method = "two-proportion z-test"
            stat, p = _z_test(bad_f, n_f, bad_r, n_r)
            why = f"every expected cell of the 2x2 table is >= 5 (smallest {expected.min():.1f})"
        else:
            method = "Fisher's exact test"
            res = _st.fisher_exact(table, alternative="two-sided")
            stat, p = float(res.statistic), float(res.pvalue)
            why = f"an expected cell of the 2x2 table is below 5 ({expected.min():.2f}), so the z-test's normal approximation does not hold"
        if n_f < SMALL_COHORT:
            warnings.append(
                f"only {n_f} flagged account(s) with payments: the difference is significant (p < {alpha:.2g}) but "
                "its size rests on few people" if p < alpha and n_f >= 5 else
                f"only {n_f} flagged account(s) with payments: too few to conclude anything about payment outcomes")
    return PaymentTest(
        method=method,
        statistic=float(stat),
        pvalue=float(p),
        n_flagged=n_f,
        bad_flagged=bad_f,
        n_rest=n_r,
        bad_rest=bad_r,
        rate_flagged=rate_f,
        rate_rest=rate_r,
        ci_flagged=wilson_interval(bad_f, n_f),
        ci_rest=wilson_interval(bad_r, n_r),
        relative_risk=rr,
        flagged_without_payments=without,
        warning="; ".join(warnings),
        why_method=why,
    )


def _z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, float(2 * _st.norm.sf(abs(z)))


def _relative_risk(bad_f: int, n_f: int, bad_r: int, n_r: int) -> float:
    if n_f == 0 or n_r == 0:
        return math.nan
    rate_f, rate_r = bad_f / n_f, bad_r / n_r
    if rate_r == 0:
        return math.inf if rate_f > 0 else math.nan
    return rate_f / rate_r


def payment_outcome_tests(
    case: Case,
    cohorts: Mapping[str, Iterable[str]],
    bad_statuses: Iterable[str] = BAD_PAYMENT_STATUSES,
) -> pd.DataFrame:
    """Test several cohorts at once and add Benjamini-Hochberg adjusted p-values.

    Returns one row per cohort with columns ``cohort, method, statistic, pvalue,
    pvalue_bh, n_flagged, bad_flagged, n_rest, bad_rest, relative_risk, warning``
    followed by the rates, their Wilson 95% intervals and ``why_method``.
    """
    if not cohorts:
        raise InputError("payment_outcome_tests needs at least one cohort")
    bad_statuses = tuple(bad_statuses)
    outcomes = _account_outcomes(case, bad_statuses)
    rows = []
    for name, accounts in cohorts.items():
        t = payment_outcome_test(case, accounts, bad_statuses, _outcomes=outcomes)
        d = t.as_dict()
        d["cohort"] = name
        d["ci_flagged_low"], d["ci_flagged_high"] = d.pop("ci_flagged")
        d["ci_rest_low"], d["ci_rest_high"] = d.pop("ci_rest")
        rows.append(d)
    df = pd.DataFrame(rows)
    df["pvalue_bh"] = benjamini_hochberg(df["pvalue"])
    extra = [c for c in df.columns if c not in PAYMENT_TEST_COLUMNS]
    return df[PAYMENT_TEST_COLUMNS + extra]
