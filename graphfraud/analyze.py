"""``analyze``: the whole foundation run on a case, written to an output folder."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import queries
from .bursts import detect_bursts
from .case import REJECTED_COLUMNS, Case
from .errors import InputError
from .progress import Progress
from .signals import account_signals
from .stats import PAYMENT_TEST_COLUMNS, payment_outcome_tests

__all__ = ["AnalysisResult", "analyze", "top_share_accounts"]


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Everything one ``analyze`` run produced; ``files`` maps output names to paths."""

    case: Case
    signals: pd.DataFrame
    bursts: pd.DataFrame
    payment_tests: pd.DataFrame
    baselines: dict[str, pd.DataFrame]
    params: dict
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)


def top_share_accounts(signals: pd.DataFrame, share: float = 0.05, column: str = "composite") -> list[str]:
    """The top ``share`` of accounts by ``column`` (at least one; ties broken by account id).

    Examples
    --------
    >>> s = pd.DataFrame({"account_id": ["a", "b", "c"], "composite": [0.1, 0.9, 0.9]})
    >>> top_share_accounts(s, 0.5)
    ['b', 'c']
    """
    if not 0 < share <= 1:
        raise InputError(f"share must be in (0, 1], got {share!r}")
    if not len(signals):
        return []
    k = max(1, math.ceil(share * len(signals)))
    ranked = signals.sort_values([column, "account_id"], ascending=[False, True], kind="stable")
    return ranked["account_id"].head(k).tolist()


def analyze(
    case: Case,
    out_dir: str | Path | None = "graphfraud-out",
    window_days: float = 14,
    as_of=None,
    top_share: float = 0.05,
    top_ips: int = 20,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Signals, bursts, baseline SQL metrics and payment tests for ``case``.

    With ``out_dir`` set, writes ``account_signals.csv``, ``burst_triggers.csv``,
    ``payment_tests.csv``, the three ``baseline_*.csv``, ``rejected_rows.csv``,
    ``report.md`` and ``daily_fail_rate.png`` there (the folder is created).

    Examples
    --------
    >>> import graphfraud
    >>> from graphfraud.analyze import analyze
    >>> res = analyze(graphfraud.load_case(graphfraud.sample_case_path()), out_dir=None)
    >>> res.payment_tests["cohort"].tolist()
    ['accounts with a burst trigger', 'top 5% by composite']
    """
    from .report import write_report

    progress = progress or Progress(quiet=True)
    with progress.stage("account signals"):
        signals = account_signals(case, window_days=window_days, as_of=as_of)
    as_of_ts = signals.attrs.get("as_of")
    params = {
        "window_days": window_days,
        "as_of": str(as_of_ts) if as_of_ts is not None else None,
        "window_start": str(signals.attrs.get("window_start")),
        "top_share": top_share,
        "source": case.source,
    }
    with progress.stage("risky fail -> EC2 burst detector"):
        bursts = detect_bursts(case)
    with progress.stage("baseline SQL metrics"):
        conn = queries.case_connection(case, tables=("logins", "ip_reputation"))
        try:
            baselines = {
                "daily_fail_rate": queries.run("daily_fail_rate", conn),
                "top_failing_ips": queries.run("top_failing_ips", conn, limit=top_ips),
                "ip_risk_distribution": queries.run("ip_risk_distribution", conn),
            }
        finally:
            conn.close()
    with progress.stage("payment-outcome tests"):
        cohorts = {
            "accounts with a burst trigger": bursts["account_id"].unique().tolist(),
            f"top {top_share:.0%} by composite": top_share_accounts(signals, top_share),
        }
        tests = payment_outcome_tests(case, cohorts)
    result = AnalysisResult(case, signals, bursts, tests, baselines, params)
    if out_dir is None:
        return result
    out = Path(out_dir)
    with progress.stage(f"writing {out}"):
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "account_signals": _csv(signals, out / "account_signals.csv"),
            "burst_triggers": _csv(bursts, out / "burst_triggers.csv"),
            "payment_tests": _csv(tests[PAYMENT_TEST_COLUMNS], out / "payment_tests.csv"),
            "baseline_daily_fail_rate": _csv(baselines["daily_fail_rate"], out / "baseline_daily_fail_rate.csv"),
            "baseline_top_failing_ips": _csv(baselines["top_failing_ips"], out / "baseline_top_failing_ips.csv"),
            "baseline_ip_risk_distribution": _csv(baselines["ip_risk_distribution"],
                                                  out / "baseline_ip_risk_distribution.csv"),
            "rejected_rows": _csv(case.rejected[REJECTED_COLUMNS], out / "rejected_rows.csv"),
        }
        result = AnalysisResult(case, signals, bursts, tests, baselines, params, out, files)
        files.update(write_report(result, out))
    return result


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    return path
