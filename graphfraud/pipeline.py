"""``analyze``: the whole foundation run on a case, written to an output folder."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import queries
from .graph.stores import GraphBackend, connect
from .detect.bursts import detect_bursts
from .case import REJECTED_COLUMNS, Case
from .errors import InputError
from .progress import Progress
from .detect.signals import account_signals
from .act.stats import PAYMENT_TEST_COLUMNS, payment_outcome_tests

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
    rings: object = None
    rules: pd.DataFrame | None = None
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
    ring_method: str = "louvain",
    resolution: float = 1.0,
    seed: int = 0,
    daily_alert_budget: float = 50,
    open_cases: bool = True,
    since=None,
    until=None,
    graph="networkx",
    load_graph: bool = True,
) -> AnalysisResult:
    """Signals, bursts, baseline SQL metrics and payment tests for ``case``.

    With ``out_dir`` set, writes ``account_signals.csv``, ``burst_triggers.csv``,
    ``payment_tests.csv``, the three ``baseline_*.csv``, ``rejected_rows.csv``,
    ``rings.csv``, ``ring_summary.csv``, ``campaigns.csv``, ``hubs.csv``,
    ``rules.csv`` (and ``rules.json``), ``report.md`` and ``daily_fail_rate.png``
    there, and a case folder per flagged ring under ``cases/`` with
    ``cases/index.csv`` (the folder is created; re-running overwrites).
    ``since``/``until`` limit the burst triggers, rings and campaigns to logins in
    that period ("what did this look like last week"); signals use their own window.

    ``graph`` is the store the rings are found in: a URL for
    :func:`graphfraud.connect` (``"networkx"``, ``"gremlite:///path.db"``,
    ``"wss://..."``) or an open :class:`~graphfraud.graph.stores.GraphBackend`. The
    case is upserted into it first (``load_graph=False`` skips that, for a graph
    already bulk-loaded), the evidence is read back from it, and ring id, score
    and flag are written onto its account vertices. Every store gives the same
    ``rings.csv`` and ``ring_summary.csv``.

    Examples
    --------
    >>> import graphfraud
    >>> from graphfraud.pipeline import analyze
    >>> res = analyze(graphfraud.load_case(graphfraud.sample_case_path()), out_dir=None)
    >>> res.payment_tests["cohort"].tolist()
    ['accounts with a burst trigger', 'top 5% by composite', 'members of flagged rings']
    """
    from .act.cases import open_ring_cases
    from .case import resolve_periods
    from .act.report import write_report
    from .act.rules import account_features, propose_rules, Rule, save_rules

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
        "daily_alert_budget": daily_alert_budget,
    }
    with progress.stage("risky fail -> EC2 burst detector"):
        bursts = detect_bursts(case, since=since, until=until)
    backend = graph if isinstance(graph, GraphBackend) else connect(graph)
    params["graph"] = backend.url
    if load_graph:
        with progress.stage(f"loading the graph into {backend.url}"):
            params["graph_load"] = backend.load_case(case, since=since, until=until, progress=progress)
    with progress.stage(f"rings ({ring_method}, seed {seed}) from {backend.url}"):
        rings = backend.find_rings(case, since=since, until=until, method=ring_method, resolution=resolution,
                                   seed=seed, signals=signals, bursts=bursts)
        params["rings"] = rings.params
    with progress.stage("rule proposals"):
        features = account_features(case, signals, bursts, rings, rings.campaigns)
        rules = propose_rules(features, case, window_days, daily_alert_budget)
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
            "members of flagged rings": rings.rings.loc[rings.rings["ring_id"].isin(rings.flagged["ring_id"]),
                                                        "account_id"].tolist(),
        }
        tests = payment_outcome_tests(case, cohorts)
    result = AnalysisResult(case, signals, bursts, tests, baselines, params, rings, rules)
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
            "rings": _csv(rings.rings, out / "rings.csv"),
            "ring_summary": _csv(rings.summary, out / "ring_summary.csv"),
            "campaigns": _csv(rings.campaigns, out / "campaigns.csv"),
            "hubs": _csv(rings.hubs, out / "hubs.csv"),
            "rules": _csv(rules, out / "rules.csv"),
        }
        chosen = [Rule.from_dict(r) for r in _selected_rule_dicts(rules)]
        files["rules_json"] = save_rules(chosen, out / "rules.json")
        result = AnalysisResult(case, signals, bursts, tests, baselines, params, rings, rules, out, files)
        files.update(write_report(result, out))
    if open_cases and len(rings.flagged):
        with progress.stage(f"opening {len(rings.flagged)} ring case(s)"):
            periods = resolve_periods(case, since, until, window_days, as_of)
            index = open_ring_cases(case, rings, out / "cases", signals, bursts, periods=periods)
            files["cases_index"] = _csv(index, out / "cases" / "index.csv")
    return result


def _selected_rule_dicts(rules: pd.DataFrame) -> list[dict]:
    from .act.rules import candidate_rules

    chosen = set(rules.loc[rules["selected"], "rule"])
    return [r.to_dict() for r in candidate_rules() if r.name in chosen]


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    return path
