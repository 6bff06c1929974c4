"""``report.md``: an executive summary an analyst can paste into a ticket, and its chart."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..case.arrays import codes, column_isin
from ..case.schema import TIME_FORMAT

__all__ = ["write_report", "report_markdown", "markdown_table", "md_escape", "daily_fail_rate_chart"]


def markdown_table(df: pd.DataFrame, max_rows: int = 20, floatfmt: str = "{:.3g}") -> str:
    """A GitHub-flavoured Markdown table; values from data are escaped so they render as text.

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"ip": ["1.2.3.4|<b>"], "fails": [3], "flagged": [True]})))
    | ip | fails | flagged |
    |---|---|---|
    | 1.2.3.4\\|\\<b> | 3 | 1 |
    """
    if df.empty:
        return "_(none)_"
    shown = df.head(max_rows)
    lines = ["| " + " | ".join(_cell(c, floatfmt) for c in shown.columns) + " |",
             "|" + "---|" * len(shown.columns)]
    # identifiers (an ASN, an id) are not quantities: no thousands separators
    ident = [str(c) == "asn" or str(c).endswith("_id") for c in shown.columns]
    # columns as lists: the same values itertuples gives, without a pandas call per row
    for row in zip(*(shown.iloc[:, k].tolist() for k in range(shown.shape[1]))):
        lines.append("| " + " | ".join(str(v) if i and isinstance(v, (int, np.integer)) else _cell(v, floatfmt)
                                        for v, i in zip(row, ident)) + " |")
    if len(df) > max_rows:
        lines.append(f"\n_{len(df) - max_rows} more row(s) in the CSV._")
    return "\n".join(lines)


def _cell(v, floatfmt: str) -> str:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        text = str(int(v))
    elif isinstance(v, (int, np.integer)):
        text = f"{int(v):,}"
    elif isinstance(v, float):
        text = floatfmt.format(v)
    elif isinstance(v, pd.Timestamp):
        text = v.strftime(TIME_FORMAT)
    else:
        text = str(v)
    return md_escape(text).replace("|", "\\|").replace("\n", " ")


# '<' is what opens a tag; '>' alone opens nothing mid-line, and escaping it would make '->' and '>=' unreadable
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<#])")


def md_escape(text) -> str:
    """Text from data made inert in Markdown with backslash escapes, so no tag or link can form.

    Backslash escapes render as the character itself, unlike HTML entities, which
    show up as ``&gt;`` in every viewer that does not render HTML.

    Examples
    --------
    >>> print(md_escape("<svg onload=alert(1)> a_b -> c"))
    \\<svg onload=alert(1)> a\\_b -> c
    """
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def daily_fail_rate_chart(daily: pd.DataFrame, bursts: pd.DataFrame) -> bytes:
    """PNG bytes of the daily failed-login rate (line) over daily logins (bars), burst days marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if daily.empty:
        daily = pd.DataFrame({"day": [], "logins": [], "fail_rate": []})
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
        buf = io.BytesIO()
        # no timestamp in the metadata: same input, same bytes
        fig.savefig(buf, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return buf.getvalue()


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
    cols = ["ring_id", "size", "score", "pvalue", "evidence_kind", "members_with_bursts",
            "members_with_bad_payments", "top_evidence"]
    p = rings.params
    summary = rings.summary
    benign = summary[summary["verdict"] == "common control, likely benign"] if len(summary) else summary
    out = [
        "## Rings (analysis period)",
        "",
        f"A group is under common control when its evidence is beyond chance after a Bonferroni correction over "
        f"{p.get('tests', 0):,} tests (account pairs and devices; threshold {p.get('pair_threshold', float('nan')):.2g}) "
        f"and it shows on {p['min_evidence_days']}+ days. Evidence: co-activity on shared IPs/devices at four "
        "time scales (2 min to a day), shared spike hours on hubs such as carrier NAT, or one device that is the "
        "main device of many accounts; see docs/rings.md. Such a group is a **fraud ring** unless its members are "
        "mostly enterprise accounts using MFA with no bad payment, finding, burst or TOR (then *common control, "
        f"likely benign*: listed, no case opened). Method {p['method']}, resolution {p['resolution']}, seed "
        f"{p['seed']}. Score = weighted components (coordination, specificity, infrastructure risk, member "
        "signals, bursts, findings, bad payments); see ring_summary.csv.",
        "",
        markdown_table(rings.flagged[cols], max_rows=25) if len(rings.flagged) else
        "_No ring was flagged in this period._" if len(summary) else
        "_No group of 2+ accounts shares infrastructure beyond chance in this period: no ring to report._",
        "",
    ]
    if len(benign):
        out += [f"**Common control, likely benign** ({len(benign):,} group(s); no case opened):", "",
                markdown_table(benign[["ring_id", "size", "pvalue", "evidence_kind", "verdict_reason"]], max_rows=10),
                ""]
    out += [
        f"{len(summary) - len(rings.flagged) - len(benign):,} further communities of 2+ accounts were not "
        "significant (weak or chance co-activity, often on busy IPs); they are in ring_summary.csv with their "
        "p-values.",
        "",
        "## Credential-stuffing campaigns (analysis period)",
        "",
        "IPs failing logins against many accounts. Their victims are random targets, so these IPs are never "
        "used as ring evidence; accounts with a later success from the IP are takeover candidates.",
        "",
        markdown_table(rings.campaigns, max_rows=15),
        "",
    ]
    if rules is not None:
        sel = rules[rules["selected"]]
        span = (f"{rules['period_start'].iloc[0]} to {rules['period_end'].iloc[0]} ({rules['days'].iloc[0]:g} days)"
                if len(rules) and rules["period_start"].notna().any() else "the signal window")
        out += [
            "## Proposed rules (signal window)",
            "",
            f"Best {len(sel)} rule(s) under a budget of {result.params.get('daily_alert_budget', 50):g} alerts/day, "
            "lower-friction actions preferred. An alert is an account matching the rule in the signal window "
            f"({span}), counted once; alerts/day divides that count by the same window's days. Precision is a "
            "proxy: share of alerted accounts with a security finding, or with a chargeback/decline. All "
            "candidates are in rules.csv; the selected ones, as data, in rules.json.",
            "",
            markdown_table(sel[["rule", "definition", "action", "alerts", "daily_alerts", "precision_findings",
                                "precision_bad_payments", "lift_findings", "lift_bad_payments"]]),
            "",
        ]
    return out


def _money_sections(result) -> list[str]:
    if getattr(result, "money", None) is None:
        return []
    from .money_report import money_sections  # builds on this module's tables

    return money_sections(result)


def write_report(result, out) -> dict[str, Path]:
    """Write ``report.md`` and ``daily_fail_rate.png`` for an :class:`~graphfraud.pipeline.AnalysisResult`.

    ``out`` is an :class:`~graphfraud.act.output.OutputFolder` (atomic files in
    the manifest) or a folder path.
    """
    from .output import OutputFolder, atomic_write_bytes

    png = daily_fail_rate_chart(result.baselines["daily_fail_rate"], result.bursts)
    text = report_markdown(result)
    charts = {"daily_fail_rate.png": png}
    money = getattr(result, "money", None)
    if money is not None and len(money.micro_alerts):
        from .money_report import SPIKE_CHART, spike_timeline_chart

        charts[SPIKE_CHART] = spike_timeline_chart(money.micro_alerts, result.rings)
    names = {"daily_fail_rate.png": "chart", "micro_spikes.png": "spike_chart"}
    if isinstance(out, OutputFolder):
        files = {names[n]: out.bytes(n, data) for n, data in charts.items()}
        return {**files, "report": out.text("report.md", text)}
    out = Path(out)
    files = {names[n]: atomic_write_bytes(out / n, data) for n, data in charts.items()}
    return {**files, "report": atomic_write_bytes(out / "report.md", text.encode("utf-8"))}


def _n(x) -> str:
    return f"{int(x):,}"


def _period_lines(result) -> list[str]:
    periods = getattr(result, "periods", None)
    if periods is None:
        return [f"- Signal window: {result.params['window_start']} to {result.params['as_of']}."]
    return [f"- {line}" for line in periods.lines()]


def _distinct_victims(case, campaigns: pd.DataFrame, periods) -> int:
    """Distinct accounts failed against from campaign IPs in the analysis period (a per-IP sum double-counts)."""
    if not len(campaigns):
        return 0
    lg = case.logins
    on = column_isin(lg["ip"], campaigns["ip"]) & (lg["result"].to_numpy() == "FAIL")
    if periods is not None:
        on &= periods.analysis.mask(lg["event_ts"])
    acct, _ = codes(lg["account_id"])
    return int(np.count_nonzero(np.bincount(acct[on & (acct >= 0)])))


def _recommendation(result) -> str:
    """What to do now, led by the strongest evidence of this run."""
    tests = result.payment_tests.set_index("cohort")
    rings = result.rings
    steps = []
    ring_row = tests.loc["members of flagged rings"] if "members of flagged rings" in tests.index else None
    if rings is not None and len(rings.flagged):
        strong = ring_row is not None and ring_row["method"] != "none" and ring_row["pvalue_bh"] < 0.05 \
            and ring_row["rate_flagged"] > ring_row["rate_rest"]
        why = (f" (their paying members have {_pct(ring_row['rate_flagged'])} bad payments vs "
               f"{_pct(ring_row['rate_rest'])} for other accounts)" if strong else "")
        steps.append(f"open one case per flagged ring ({len(rings.flagged):,} under `cases/`){why} and step up all "
                     "members of a ring to MFA together, so the actor cannot move between accounts")
    if len(result.bursts):
        steps.append("throttle EC2 provisioning and step up to MFA on the "
                     f"{result.bursts['account_id'].nunique():,} account(s) with a burst trigger until the owner confirms")
    steps.append("step up to MFA (not suspension) on the top-composite accounts")
    steps.append("suspend only where a security finding confirms compromise")
    text = "; ".join(steps)
    return text[0].upper() + text[1:] + "."


def report_markdown(result) -> str:
    """The text of ``report.md``: both periods first, then every figure labelled with the one it covers."""
    case, signals, bursts, tests = result.case, result.signals, result.bursts, result.payment_tests
    base = result.baselines
    periods = getattr(result, "periods", None)
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
        f"**Scope**: in the signal window {len(signals):,} accounts logged in ({window_logins:,} logins); "
        f"over the whole case {total_logins:,} logins, {total_fails:,} failed ({_pct(total_fails / max(total_logins, 1))})"
        + (f", worst day {peak['day']} at {_pct(peak['fail_rate'])}." if peak is not None else "."),
        f"**Risky fail -> EC2 burst** (analysis period): {_n(len(bursts))} trigger(s) on "
        f"{_n(bursts['account_id'].nunique())} account(s): "
        "a FAIL login from an IP with risk >= 80, then >= 4 RUN_INSTANCES in >= 2 regions within 24 h"
        + (f" (e.g. {md_escape(bursts.iloc[0]['account_id'])} at {bursts.iloc[0]['trigger_ts']:%Y-%m-%d %H:%M:%S}, "
           f"{_n(bursts.iloc[0]['run_count_24h'])} launches in {md_escape(bursts.iloc[0]['regions'])})."
           if len(bursts) else "."),
        f"**Highest-risk accounts** (signal window): the top {share:.0%} by composite score ({len(top)} accounts) score "
        f"{top['composite'].min():.2f}-{top['composite'].max():.2f} (median of all accounts "
        f"{signals['composite'].median():.2f}); {_n((signals['tor_login_count'] > 0).sum())} account(s) logged in over TOR."
        if len(signals) else "**Highest-risk accounts**: no account logged in during the window.",
    ]
    rings = result.rings
    if rings is not None:
        fl = rings.flagged
        members = int(fl["size"].sum()) if len(fl) else 0
        camp = rings.campaigns
        ring_text = (f"**Rings** (analysis period): {_n(len(fl))} flagged ring(s) with {_n(members)} accounts that "
                     "are under one hand beyond chance (co-activity on shared IPs and devices, spike hours behind a "
                     "carrier NAT, devices too many accounts depend on; see ring_summary.csv's evidence_kind)"
                     if len(fl) else f"**Rings** (analysis period): none flagged; {_n(len(rings.summary))} "
                     "group(s) share infrastructure, but not beyond chance (ring_summary.csv)"
                     + (f" (strongest: {md_escape(fl.iloc[0]['ring_id'])}, {_n(fl.iloc[0]['size'])} accounts, "
                        f"score {fl.iloc[0]['score']:.2f})" if len(fl) else "")
                     if len(rings.summary) else "**Rings** (analysis period): no group of 2+ accounts shares "
                     "infrastructure beyond chance in this period, so no ring was found")
        bullets.append(
            ring_text + f"; {_n(len(camp))} credential-stuffing campaign IP(s) failed logins on "
            f"{_n(_distinct_victims(case, camp, periods))} distinct accounts (victims, not rings); "
            f"{_n(len(rings.hubs))} shared hub(s) such as carrier NAT left out as evidence."
        )
    parts = []
    for _, row in tests.iterrows():
        if row["method"] == "none":
            parts.append(f"{row['cohort']}: not tested")
            continue
        parts.append(f"{row['cohort']} {_pct(row['rate_flagged'])} bad vs {_pct(row['rate_rest'])} "
                     f"({row['method']}, BH p {_p(row['pvalue_bh'])}{_small(row)})")
    bullets.append("**Payment outcomes** (cohorts from the analysis period, every payment in the case; share of "
                   "paying accounts with a chargeback or decline): " + "; ".join(parts)
                   + ". Details below.")
    if top_ip is not None:
        risk_text = "no reputation row" if pd.isna(top_ip["risk_score"]) else f"risk {int(top_ip['risk_score'])}"
        bullets.append(
            f"**Infrastructure** (whole case): the top failing IP {md_escape(top_ip['ip'])} ({risk_text}) failed "
            f"{_n(top_ip['fails'])} logins on {_n(top_ip['accounts_failed'])} account(s)"
            + (f"; {_n(hi['ips'])} IPs have risk >= 80 and fail {_pct(hi['fail_rate'])} of their logins."
               if hi is not None else ".")
        )
    bullets.append(
        f"**Data quality**: {_n(dq['rejected_rows'])} input row(s) rejected (see rejected_rows.csv), "
        f"{_n(dq['logins_without_reputation'])} login(s) from IPs with no reputation row (kept, risk unknown), "
        f"{_n(dq['accounts_not_in_users'])} account(s) in logins but not in users"
        + "".join(f", {_n(v)} {k.replace('_', ' ')}" for k, v in dq.items()
                  if k.endswith("_before_signup") and v) + "."
    )
    for warning in getattr(result, "warnings", ()) or ():
        bullets.append(f"**Warning**: {md_escape(warning)}")
    bullets.append(f"**Recommended now**: {_recommendation(result)}")

    lines = [
        "# graphfraud case report",
        "",
        f"Case: {md_escape(case.source)}. Generated by graphfraud analyze.",
        "",
        *_period_lines(result),
        "",
        "## Executive summary",
        "",
        *[f"- {b}" for b in bullets],
        "",
        "![Daily failed-login rate, burst-trigger days marked](daily_fail_rate.png)",
        "",
        "## Burst triggers (analysis period)",
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
        *_money_sections(result),
        "## Highest composite scores (signal window)",
        "",
        markdown_table(top.head(10)),
        "",
        "## Top failing IPs (whole case)",
        "",
        markdown_table(base["top_failing_ips"], max_rows=10),
        "",
        "## IP risk distribution (whole case)",
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
    return "\n".join(lines)


def _small(row) -> str:
    """The caveat a payment test carries in the summary: a small cohort, significant or not."""
    if not row["warning"]:
        return ""
    return ", small cohort" if "significant" in str(row["warning"]) else ", too few to conclude"
