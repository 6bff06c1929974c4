"""``report.md``: an executive summary an analyst can paste into a ticket, and its chart."""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

__all__ = ["write_report", "markdown_table", "daily_fail_rate_chart"]


def markdown_table(df: pd.DataFrame, max_rows: int = 20, floatfmt: str = "{:.3g}") -> str:
    """A GitHub-flavoured Markdown table; values from data are escaped so they render as text.

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"ip": ["1.2.3.4|<b>"], "fails": [3]})))
    | ip | fails |
    |---|---|
    | 1.2.3.4\\|&lt;b&gt; | 3 |
    """
    if df.empty:
        return "_(none)_"
    shown = df.head(max_rows)
    lines = ["| " + " | ".join(_cell(c, floatfmt) for c in shown.columns) + " |",
             "|" + "---|" * len(shown.columns)]
    for row in shown.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, floatfmt) for v in row) + " |")
    if len(df) > max_rows:
        lines.append(f"\n_{len(df) - max_rows} more row(s) in the CSV._")
    return "\n".join(lines)


def _cell(v, floatfmt: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        text = floatfmt.format(v)
    elif isinstance(v, pd.Timestamp):
        text = v.strftime("%Y-%m-%d %H:%M")
    else:
        text = str(v)
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def daily_fail_rate_chart(daily: pd.DataFrame, bursts: pd.DataFrame, path: Path) -> Path:
    """PNG of the daily failed-login rate (line) over daily logins (bars), burst days marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = pd.to_datetime(daily["day"])
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=110)
    try:
        ax2 = ax.twinx()
        ax2.bar(days, daily["logins"], color="#d9dde3", width=0.8, label="logins")
        ax2.set_ylabel("logins per day", color="#6b7280")
        ax.set_zorder(ax2.get_zorder() + 1)
        ax.patch.set_visible(False)
        ax.plot(days, daily["fail_rate"] * 100, color="#c0392b", lw=2, marker="o", ms=3, label="failed-login rate")
        ax.set_ylabel("failed logins (%)", color="#c0392b")
        ax.set_ylim(0, max(5.0, float(daily["fail_rate"].max()) * 115))
        if len(bursts):
            for i, d in enumerate(sorted(pd.to_datetime(bursts["trigger_ts"]).dt.normalize().unique())):
                ax.axvline(d, color="#8e44ad", ls="--", lw=1, label="burst trigger" if i == 0 else None)
        ax.set_title("Daily failed-login rate")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _p(x: float) -> str:
    """'= 0.0123', '< 0.0001' or ' n/a', to follow 'p'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return " n/a"
    return "< 0.0001" if x < 1e-4 else f"= {x:.4f}"


def _test_sentence(row: pd.Series) -> str:
    if row["method"] == "none":
        return f"**{row['cohort']}**: not tested ({row['warning']})."
    rr = row["relative_risk"]
    rr_text = "inf" if rr == math.inf else ("n/a" if pd.isna(rr) else f"{rr:.1f}x")
    verdict = "significant" if row["pvalue_bh"] < 0.05 else "not significant"
    text = (
        f"**{row['cohort']}**: {row['bad_flagged']}/{row['n_flagged']} accounts with a chargeback or decline "
        f"({_pct(row['rate_flagged'])}, 95% CI {_pct(row['ci_flagged_low'])}-{_pct(row['ci_flagged_high'])}) vs "
        f"{row['bad_rest']}/{row['n_rest']} for the other paying accounts ({_pct(row['rate_rest'])}); relative risk "
        f"{rr_text}; {row['method']} p {_p(row['pvalue'])} (BH-adjusted p {_p(row['pvalue_bh'])}, {verdict}), "
        f"chosen because {row['why_method']}."
    )
    if row["warning"]:
        text += f" Warning: {row['warning']}."
    return text


def _ring_sections(result) -> list[str]:
    rings, rules = result.rings, result.rules
    if rings is None:
        return []
    cols = ["ring_id", "size", "score", "pvalue", "flagged", "members_with_bursts", "members_with_bad_payments",
            "top_evidence"]
    out = [
        "## Rings",
        "",
        f"Flagged when the ring's co-activity on shared infrastructure is beyond chance after a Bonferroni "
        f"correction over {rings.params.get('candidate_pairs', 0):,} scored account pairs (threshold "
        f"{rings.params.get('pair_threshold', float('nan')):.2g}), at least one pair passes that test alone, and "
        f"the ring was co-active on {rings.params['min_coactive_days']}+ days. Method {rings.params['method']}, "
        f"resolution {rings.params['resolution']}, seed {rings.params['seed']}. Score = weighted components "
        "(coordination, specificity, infrastructure risk, member signals, bursts, findings, bad payments); "
        "see ring_summary.csv.",
        "",
        markdown_table(rings.flagged[cols], max_rows=25),
        "",
        f"{len(rings.summary) - len(rings.flagged)} further communities of 2+ accounts were not flagged (weak or "
        "chance co-activity, often on busy IPs); they are in ring_summary.csv with their p-values.",
        "",
        "## Credential-stuffing campaigns",
        "",
        "IPs failing logins against many accounts. Their victims are random targets, so these IPs are never "
        "used as ring evidence; accounts with a later success from the IP are takeover candidates.",
        "",
        markdown_table(rings.campaigns, max_rows=15),
        "",
    ]
    if rules is not None:
        sel = rules[rules["selected"]]
        out += [
            "## Proposed rules",
            "",
            f"Best {len(sel)} rule(s) under a budget of {result.params.get('daily_alert_budget', 50):g} alerts/day, "
            "lower-friction actions preferred. Precision is a proxy: share of alerted accounts with a security "
            "finding, or with a chargeback/decline. All candidates are in rules.csv; the selected ones, as data, "
            "in rules.json.",
            "",
            markdown_table(sel[["rule", "definition", "action", "daily_alerts", "precision_findings",
                                "precision_bad_payments", "lift_findings", "lift_bad_payments"]]),
            "",
        ]
    return out


def write_report(result, out: Path) -> dict[str, Path]:
    """Write ``report.md`` and ``daily_fail_rate.png`` for an :class:`~graphfraud.pipeline.AnalysisResult`."""
    case, signals, bursts, tests = result.case, result.signals, result.bursts, result.payment_tests
    base = result.baselines
    chart = daily_fail_rate_chart(base["daily_fail_rate"], bursts, out / "daily_fail_rate.png")
    dq = case.data_quality()
    counts = case.row_counts()
    daily = base["daily_fail_rate"]
    total_logins = int(daily["logins"].sum())
    total_fails = int(daily["fails"].sum())
    peak = daily.loc[daily["fail_rate"].idxmax()] if len(daily) else None
    window_logins = int(signals["logins"].sum())
    top_ip = base["top_failing_ips"].iloc[0] if len(base["top_failing_ips"]) else None
    risk = base["ip_risk_distribution"].set_index("risk_bucket")
    hi = risk.loc["80-100"] if "80-100" in risk.index else None
    share = result.params["top_share"]
    top = signals.nlargest(max(1, math.ceil(share * len(signals))), "composite") if len(signals) else signals

    bullets = [
        f"**Scope**: {len(signals):,} accounts logged in during the {result.params['window_days']:g}-day window "
        f"{result.params['window_start'][:16]} to {str(result.params['as_of'])[:16]} ({window_logins:,} logins); "
        f"over the whole case {total_logins:,} logins, {total_fails:,} failed ({_pct(total_fails / max(total_logins, 1))})"
        + (f", worst day {peak['day']} at {_pct(peak['fail_rate'])}." if peak is not None else "."),
        f"**Risky fail -> EC2 burst**: {len(bursts)} trigger(s) on {bursts['account_id'].nunique()} account(s): "
        "a FAIL login from an IP with risk >= 80, then >= 4 RUN_INSTANCES in >= 2 regions within 24 h"
        + (f" (e.g. {html.escape(str(bursts.iloc[0]['account_id']))} at {bursts.iloc[0]['trigger_ts']:%Y-%m-%d %H:%M}, "
           f"{bursts.iloc[0]['run_count_24h']} launches in {bursts.iloc[0]['regions']})." if len(bursts) else "."),
        f"**Highest-risk accounts**: the top {share:.0%} by composite score ({len(top)} accounts) score "
        f"{top['composite'].min():.2f}-{top['composite'].max():.2f} (median of all accounts "
        f"{signals['composite'].median():.2f}); {int((signals['tor_login_count'] > 0).sum())} account(s) logged in over TOR."
        if len(signals) else "**Highest-risk accounts**: no account logged in during the window.",
    ]
    rings = result.rings
    if rings is not None:
        fl = rings.flagged
        members = int(fl["size"].sum()) if len(fl) else 0
        camp = rings.campaigns
        bullets.append(
            f"**Rings**: {len(fl)} flagged ring(s) with {members} accounts that log in through the same specific IPs "
            f"and devices within minutes of each other far more than chance allows"
            + (f" (strongest: {html.escape(str(fl.iloc[0]['ring_id']))}, {int(fl.iloc[0]['size'])} accounts, "
               f"score {fl.iloc[0]['score']:.2f})" if len(fl) else "")
            + f"; {len(camp)} credential-stuffing campaign IP(s) hit "
            f"{int(camp['victims'].sum()) if len(camp) else 0} accounts (victims, not rings); "
            f"{len(rings.hubs)} shared hub(s) such as carrier NAT left out as evidence."
        )
    parts = []
    for _, row in tests.iterrows():
        if row["method"] == "none":
            parts.append(f"{row['cohort']}: not tested")
            continue
        parts.append(f"{row['cohort']} {_pct(row['rate_flagged'])} bad vs {_pct(row['rate_rest'])} "
                     f"({row['method']}, BH p {_p(row['pvalue_bh'])}{', too few to conclude' if row['warning'] else ''})")
    bullets.append("**Payment outcomes** (share of paying accounts with a chargeback or decline): " + "; ".join(parts)
                   + ". Details below.")
    if top_ip is not None:
        risk_text = "no reputation row" if pd.isna(top_ip["risk_score"]) else f"risk {int(top_ip['risk_score'])}"
        bullets.append(
            f"**Infrastructure**: the top failing IP {html.escape(str(top_ip['ip']))} ({risk_text}) failed "
            f"{int(top_ip['fails'])} logins on {int(top_ip['accounts_failed'])} account(s)"
            + (f"; IPs with risk >= 80 are {int(hi['ips'])} of the IPs seen and fail {_pct(hi['fail_rate'])} of their logins."
               if hi is not None else ".")
        )
    bullets.append(
        f"**Data quality**: {dq['rejected_rows']} input row(s) rejected (see rejected_rows.csv), "
        f"{dq['logins_without_reputation']:,} login(s) from IPs with no reputation row (kept, risk unknown), "
        f"{dq['accounts_not_in_users']} account(s) in logins but not in users."
    )
    bullets.append(
        "**Recommended now**: step up to MFA (not suspension) on the burst-trigger and top-composite accounts, "
        "throttle EC2 provisioning for accounts with a burst trigger until the owner confirms, and suspend only "
        "where a security finding confirms compromise."
    )

    lines = [
        "# graphfraud case report",
        "",
        f"Case: `{html.escape(str(case.source))}`. Window: {result.params['window_days']:g} days ending "
        f"{result.params['as_of']}. Generated by graphfraud analyze.",
        "",
        "## Executive summary",
        "",
        *[f"- {b}" for b in bullets],
        "",
        "![Daily failed-login rate, burst-trigger days marked](daily_fail_rate.png)",
        "",
        "## Burst triggers",
        "",
        markdown_table(bursts),
        "",
        "## Payment-outcome tests",
        "",
        *[f"- {_test_sentence(row)}" for _, row in tests.iterrows()],
        "",
        "Accounts with payments only; an account is bad if any payment was a CHARGEBACK or DECLINED. "
        "Two-proportion z-test when every expected cell is >= 5, Fisher's exact test otherwise; "
        "p-values adjusted across cohorts with Benjamini-Hochberg.",
        "",
        markdown_table(tests[["cohort", "method", "n_flagged", "bad_flagged", "n_rest", "bad_rest",
                              "relative_risk", "pvalue", "pvalue_bh", "warning"]]),
        "",
        *_ring_sections(result),
        "## Highest composite scores",
        "",
        markdown_table(top.head(10)),
        "",
        "## Top failing IPs",
        "",
        markdown_table(base["top_failing_ips"], max_rows=10),
        "",
        "## IP risk distribution",
        "",
        markdown_table(base["ip_risk_distribution"]),
        "",
        "## Input rows",
        "",
        markdown_table(counts.reset_index()),
        "",
        "## Triage playbook",
        "",
        "0. **Rings first.** Open one case per flagged ring (folders under `cases/`), not one per account: "
        "step up all members to MFA together so the actor cannot move between accounts, then review shared devices "
        "and IPs for members the detector missed.",
        "1. **Contain, least friction first.** Force an MFA step-up and revoke sessions on burst-trigger accounts; "
        "throttle RunInstances (service quota or SCP) for them until the owner confirms. Suspend only accounts with "
        "a confirmed security finding: suspension hurts honest customers whose credentials were merely tried.",
        "2. **Block the source.** Rate-limit or challenge the failing IPs above with risk >= 80 or TOR; do not block "
        "carrier NAT or shared mobile IPs outright (hundreds of honest accounts sit behind them).",
        "3. **Investigate.** For each trigger, check the instances launched (regions, types, AMIs), the key pairs and "
        "security groups created, and billing for the following days; open a case per account.",
        "4. **Watch payments.** Hold risky payment methods on flagged accounts whose payment test is significant; "
        "a cohort flagged as too small is a lead, not evidence.",
        "5. **Longer term.** Turn the burst rule into a real-time detector, track its precision against security "
        "findings, and feed confirmed cases back as labels for a supervised model.",
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return {"report": path, "chart": chart}
