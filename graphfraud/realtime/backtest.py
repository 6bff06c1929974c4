"""Backtest a ruleset: replay a case's payments and logins in time order through the scorer, then measure.

This is how an analyst checks a proposed rule before turning it on: per rule
and overall, the alerts per day over the replayed period, precision and recall
against security findings (by account) and bad payments (by payment), and the
decision mix.

Profiles start empty at the first replayed event and are built by the replay
itself (no look-ahead). The graph's context (rings, exposure, campaign IPs,
risk levels from the signals) comes from one analysis of the same case, so
graph-aware rules see rings found over the whole period: the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..case import Case
from ..case.schema import BAD_PAYMENT_STATUSES
from ..detect.micro import METRICS
from ..errors import InputError
from .context import GraphContext, context_from_result, ip_reputation_lookup
from .profiles import FxRates, Profiles, risk_levels
from .ruleset import Ruleset, default_ruleset, graph_rules
from .events import case_events
from .scorer import Scorer, _resolve_rules

__all__ = ["backtest", "BacktestResult", "write_backtest", "BACKTEST_COLUMNS"]

BACKTEST_COLUMNS = ["rule", "definition", "points", "alerts", "alerts_per_day", "accounts", "period_start",
                    "period_end", "days", "precision_bad_payments", "recall_bad_payments", "precision_findings",
                    "recall_findings", "findings_alerted_before", "approve", "review", "block"]

#: features a replay computes without an analysis (profiles built by the replay, velocity, IP reputation)
_PROFILE_FEATURES = ({"amount", "amount_usd", "avg_amount_30d", "payment_count_30d", "amount_to_avg_30d",
                      "account_age_days", "new_customer", "device_changed", "country_changed", "is_payment",
                      "ip_risk", "ip_tor", "ip_spike_now", "device_spike_now", "account_spike_now", "spike_now"}
                     | {m.name for m in METRICS} | {m.name + "_spike" for m in METRICS})


@dataclass(eq=False)
class BacktestResult:
    """``summary`` (one row per rule and an ``all rules`` row), ``daily`` alerts, the alerted ``decisions``."""

    summary: pd.DataFrame
    daily: pd.DataFrame
    decisions: pd.DataFrame
    rejected: pd.DataFrame
    ruleset: Ruleset
    period: tuple
    events: int
    notes: list = field(default_factory=list)


def _scorer(case: Case, ruleset: Ruleset | None, analysis) -> tuple[Scorer, list[str]]:
    notes = []
    rs = _resolve_rules(ruleset, default_ruleset().with_rules(graph_rules(), name="default+graph"))
    needed = {f for r in rs.rules for f, _, _ in r.when} - _PROFILE_FEATURES
    ctx, risk = GraphContext(ip_risk=ip_reputation_lookup(case)), None
    if analysis is None and (needed or ruleset is None):
        from ..pipeline import analyze  # the context of graph-aware rules needs an analysis of the case

        analysis = analyze(case, out_dir=None)
    if analysis is not None:
        ctx = context_from_result(analysis)
        risk = risk_levels(analysis.signals.set_index("account_id")["composite"])
        notes.append(f"graph context (rings, ring infrastructure, campaign IPs, exposure), risk levels and the "
                     f"analysis's per-account features (burst triggers, micro spikes, signals) come from one "
                     f"analysis of the case over {analysis.periods.analysis.label()}: rules on them see the whole "
                     "period (look-ahead), and so does 'findings alerted before' for them; profile and velocity "
                     "features do not")
    profiles = Profiles.from_case(case, as_of=None, risk=risk)
    return Scorer(profiles, ctx, rs, FxRates(case.fx_rates)), notes


def backtest(case: Case, rules=None, analysis=None, since=None) -> BacktestResult:
    """Replay ``case`` through ``rules`` (a :class:`Ruleset`, a file, or None: default + graph-aware rules).

    ``analysis``: an :class:`~graphfraud.AnalysisResult` of the case for the
    graph's context; None runs one in memory when the rules need it.
    ``since``: the start of the measured period (default: the first login, where
    the case's activity starts); earlier events are replayed, so profiles and
    windows are built, but not counted.

    Examples
    --------
    >>> import graphfraud
    >>> from graphfraud.realtime import default_ruleset
    >>> case = graphfraud.load_case(graphfraud.sample_case_path())
    >>> bt = backtest(case, default_ruleset())
    >>> bt.summary["rule"].iloc[-1], bt.period[0] == str(case.logins["event_ts"].min())
    ('all rules', True)
    """
    if not isinstance(case, Case):
        raise InputError(f"backtest needs a Case (graphfraud.load_case), got {type(case).__name__}")
    scorer, notes = _scorer(case, rules, analysis)
    events = case_events(case)
    scored = scorer.score_frame(events, reasons=False)
    rejected = scored.attrs["rejected"]
    if len(rejected):
        notes.append(f"{len(rejected):,} event(s) could not be scored and are not in the figures "
                     f"(first reason: {rejected['field'].iloc[0]}: {rejected['reason'].iloc[0]})")
    status = events["status"].to_numpy(dtype=object)[scored["row"].to_numpy()]
    scored["bad_payment"] = np.isin(status, BAD_PAYMENT_STATUSES)
    since = _since(case, since)
    ts_all = pd.to_datetime(scored["event_ts"])
    before = int((ts_all < since).sum()) if since is not None else 0
    if before:
        notes.append(f"{before:,} event(s) before {since} (the first login) were replayed to build profiles and "
                     "windows but are not counted")
        scored = scored[(ts_all >= since).to_numpy()].reset_index(drop=True)
    ts = pd.to_datetime(scored["event_ts"])
    start, end = (ts.min(), ts.max()) if len(ts) else (None, None)
    days = max((end - start) / pd.Timedelta(days=1), 1 / 24) if start is not None else math.nan
    findings = case.security_findings.groupby(case.security_findings["account_id"].astype(str))["finding_ts"].min()
    rows = [_measure(r.name, _definition(r), p, r.matches(scored), scored, ts, findings, start, end, days)
            for r, p in zip(scorer.ruleset.rules, scorer.ruleset.points)]
    alerted = scored["decision"].to_numpy() != "APPROVE"
    rows.append(_measure("all rules", f"score >= {scorer.ruleset.review:g} (REVIEW or BLOCK), mode "
                                      f"{scorer.ruleset.mode}", math.nan, alerted, scored, ts, findings, start, end, days))
    summary = pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
    day = ts.dt.floor("D")
    daily = (pd.DataFrame({"day": day, "review": scored["decision"].eq("REVIEW"), "block": scored["decision"].eq("BLOCK")})
             .groupby("day").sum().reset_index())
    if len(daily):  # every day of the period, those without an event too
        daily = (daily.set_index("day").reindex(pd.date_range(daily["day"].min(), daily["day"].max(), freq="D"),
                                                fill_value=0).rename_axis("day").reset_index())
    daily["alerts"] = daily["review"] + daily["block"]
    daily["day"] = daily["day"].dt.strftime("%Y-%m-%d")
    hit = scored[alerted]
    decisions = hit[["event_id", "account_id", "event_ts", "event_type", "score", "decision", "rules",
                     "bad_payment"]].reset_index(drop=True)
    period = (None, None) if start is None else (start.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S"))
    return BacktestResult(summary, daily[["day", "alerts", "review", "block"]], decisions, rejected, scorer.ruleset,
                          period, len(scored), notes)


def _since(case: Case, since) -> pd.Timestamp | None:
    if since is not None:
        return pd.Timestamp(since)
    lg = case.logins["event_ts"]
    return lg.min() if len(lg) else None


def _definition(rule) -> str:
    return rule.definition.rsplit(" -> ", 1)[0]


def _measure(name, definition, points, m, scored, ts, findings: pd.Series, start, end, days) -> dict:
    n = int(m.sum())
    pay = scored["event_type"].to_numpy() == "payment"
    bad = scored["bad_payment"].to_numpy()
    acct = scored["account_id"].to_numpy(dtype=object)
    alerted_accounts = pd.unique(acct[m])
    with_finding = np.isin(alerted_accounts, findings.index.to_numpy())
    replayed_findings = findings[findings.index.isin(pd.unique(acct))]
    first_alert = pd.Series(ts[m].to_numpy(), index=acct[m]).groupby(level=0).min()
    before = (first_alert.reindex(replayed_findings.index) <= replayed_findings).sum()
    dec = scored["decision"].to_numpy()[m]
    flagged_pay = m & pay
    return {
        "rule": name, "definition": definition, "points": points, "alerts": n,
        "alerts_per_day": n / days if days == days else math.nan, "accounts": len(alerted_accounts),
        "period_start": None if start is None else start.strftime("%Y-%m-%d %H:%M:%S"),
        "period_end": None if end is None else end.strftime("%Y-%m-%d %H:%M:%S"), "days": round(days, 4),
        "precision_bad_payments": (bad & flagged_pay).sum() / flagged_pay.sum() if flagged_pay.any() else math.nan,
        "recall_bad_payments": (bad & flagged_pay).sum() / (bad & pay).sum() if (bad & pay).any() else math.nan,
        "precision_findings": with_finding.mean() if len(alerted_accounts) else math.nan,
        "recall_findings": with_finding.sum() / len(replayed_findings) if len(replayed_findings) else math.nan,
        "findings_alerted_before": int(before),
        "approve": int((dec == "APPROVE").sum()), "review": int((dec == "REVIEW").sum()),
        "block": int((dec == "BLOCK").sum())}


def write_backtest(result: BacktestResult, out_dir: str | Path) -> dict:
    """``backtest.csv``, ``backtest_daily.csv``, ``backtest_alerts.csv``, ``backtest_rejected.csv``,
    ``backtest.md`` and ``manifest.json`` in ``out_dir``; returns the manifest."""
    from ..act.output import OutputFolder

    out = OutputFolder(out_dir)
    out.csv("backtest.csv", result.summary)
    out.csv("backtest_daily.csv", result.daily)
    out.csv("backtest_alerts.csv", result.decisions)
    out.csv("backtest_rejected.csv", result.rejected)
    out.text("backtest.md", backtest_markdown(result))
    return out.finish({"tool": "graphfraud backtest", "ruleset": result.ruleset.version,
                       "period": {"start": result.period[0], "end": result.period[1]}, "events": result.events})


def backtest_markdown(result: BacktestResult) -> str:
    """The backtest report: period, decision mix, per-rule table and the notes (every value escaped)."""
    from ..act.report import md_escape as md_cell

    s = result.summary
    overall = s.iloc[-1]
    total = max(result.events, 1)
    lines = [f"# Backtest of ruleset {md_cell(result.ruleset.version)}", "",
             f"Replayed **{result.events:,} events** (payments and logins) from {result.period[0]} to "
             f"{result.period[1]} ({overall['days']:g} days), in time order, through the scorer "
             f"(mode `{result.ruleset.mode}`, REVIEW at {result.ruleset.review:g}, BLOCK at {result.ruleset.block:g}).",
             "", "## Decision mix", "", "| decision | events | share |", "|---|---:|---:|"]
    approve = result.events - int(overall["alerts"])
    for name, n in (("APPROVE", approve), ("REVIEW", int(overall["review"])), ("BLOCK", int(overall["block"]))):
        lines.append(f"| {name} | {n:,} | {n / total:.2%} |")
    lines += ["", "## Per rule (alerts are events the rule matched; precision and recall over the same period)", "",
              "| rule | definition | points | alerts | per day | accounts | precision (bad payments) | recall (bad "
              "payments) | precision (findings) | recall (findings) | findings alerted before |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in s.itertuples():
        lines.append("| " + " | ".join([md_cell(r.rule), md_cell(r.definition), _num(r.points), f"{r.alerts:,}",
                                          _num(r.alerts_per_day), f"{r.accounts:,}", _pct(r.precision_bad_payments),
                                          _pct(r.recall_bad_payments), _pct(r.precision_findings),
                                          _pct(r.recall_findings), f"{r.findings_alerted_before:,}"]) + " |")
    lines += ["", "Bad payments are the replayed payments with status CHARGEBACK or DECLINED (by payment). Findings "
              "are accounts with a security finding (by account: an account counts once, however many of its events "
              "alerted); 'findings alerted before' counts those whose first alert came at or before their first "
              "finding.", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {md_cell(n)}" for n in result.notes] + [""]
    return "\n".join(lines)


def _num(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.2f}".rstrip("0").rstrip(".")


def _pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1%}"
