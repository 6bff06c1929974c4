"""The report's money-side sections: transactions by tier, the biggest micro-window spikes on a timeline, exposure.

Only for a case with the money side (``AnalysisResult.money``); every table says
which period it covers.
"""

from __future__ import annotations

import io

import pandas as pd

from ..detect.transaction_flags import payment_times_are_dates
from .report import markdown_table, md_escape

__all__ = ["money_sections", "spike_timeline_chart", "SPIKE_CHART"]

SPIKE_CHART = "micro_spikes.png"
_COLORS = {"ip": "#d62728", "device": "#1f77b4", "account": "#2ca02c"}


def spike_timeline_chart(alerts: pd.DataFrame, rings=None, top: int = 40) -> bytes:
    """PNG: the ``top`` spike episodes by score on a timeline, one row per entity, ring infrastructure marked.

    A person sees at a glance when the bursts happened and whether they cluster
    (a ring working in shifts) where a table of timestamps would need reading.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    biggest = alerts.sort_values(["score", "window_start"], ascending=[False, True], kind="stable").head(top)
    labels = list(dict.fromkeys(biggest["entity_type"] + " " + biggest["entity"].astype(str)))
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.22 * len(labels) + 1.2)))
    try:
        ring_entities = _ring_entities(rings)
        # an episode lasts minutes on an axis of weeks: a dot at its middle, sized by its score, shows it
        for row in biggest.itertuples():
            label = f"{row.entity_type} {row.entity}"
            start, end = pd.Timestamp(row.window_start), pd.Timestamp(row.window_end)
            ax.scatter(matplotlib.dates.date2num(start + (end - start) / 2), labels.index(label),
                       s=30 + 12 * min(float(row.score), 40), color=_COLORS.get(row.entity_type, "grey"),
                       edgecolors="black" if label in ring_entities else "none", linewidths=1.2, zorder=3)
        ax.grid(axis="x", alpha=0.3)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels([_short(lab) for lab in labels], fontsize=7)
        ax.invert_yaxis()
        ax.xaxis_date()
        ax.set_title(f"Biggest micro-window spikes ({len(biggest)} of {len(alerts)}; dot size: score; black edge: "
                     "a flagged ring's entity or member)", fontsize=9)
        handles = [matplotlib.patches.Patch(color=c, label=k) for k, c in _COLORS.items()]
        ax.legend(handles=handles, fontsize=7, loc="lower right")
        fig.autofmt_xdate()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _ring_entities(rings) -> set:
    if rings is None or not len(rings.summary) or "spiked" not in rings.summary:
        return set()
    flagged = rings.flagged
    out = set()
    for spiked in flagged["spiked"]:
        out.update(s for s in str(spiked).split("; ") if s)
    members = rings.rings.loc[rings.rings["ring_id"].isin(flagged["ring_id"]), "account_id"]
    out.update("account " + members.astype(str))
    return out


def money_sections(result, chart: str | None = SPIKE_CHART) -> list[str]:
    """Markdown for the report: transactions, micro-window spikes (with ``chart`` when given), exposure."""
    money = result.money
    if money is None:
        return []
    tx, al, ex = money.transactions, money.micro_alerts, money.exposure
    first, last = money.period()
    span = f"{first} to {last}" if first is not None else "no payment"
    tiers = tx["risk_tier"].value_counts()
    lines = [
        "## Money side: transactions (whole case)",
        "",
        f"{len(tx):,} payment(s) from {span}, amounts in USD (converted at the rate valid at each payment; "
        f"{len(money.rejected):,} without a rate or amount are in transactions_rejected.csv). Risk tiers: "
        + ", ".join(f"{t} {int(tiers.get(t, 0)):,}" for t in ("HIGH", "MEDIUM", "LOW"))
        + ". Flags: "
        + ", ".join(f"{f.replace('_', ' ')} {int(tx[f].sum()):,}" for f in
                    ("blocklisted", "high_amount", "above_history", "rapid_succession"))
        + ". MEDIUM/HIGH payments are in flagged_transactions.csv, per-customer aggregates in customer_risk.csv; "
        "`graphfraud etl` writes them all as Parquet for a data lake."
        + (" **Payment times carry no time of day** (every one at midnight): rapid succession and the payment "
           "windows below are not judged." if payment_times_are_dates(result.case.payments) else ""),
        "",
        markdown_table(tx.sort_values(["risk_score", "payment_ts"], ascending=[False, True], kind="stable").head(10)[
            ["payment_ts", "account_id", "amount_usd", "risk_score", "risk_tier", "reasons"]], floatfmt="{:,.2f}")
        if len(tx) else "",
        "",
        "## Money side: micro-window spikes (whole case)",
        "",
        "Sliding windows from 60 s to 1 h on IPs, devices and accounts, each judged against that entity's own "
        "history (a busy carrier NAT has a high baseline, so it is not an alert every minute); consecutive spiking "
        f"windows are one episode. {len(al):,} episode(s); all in micro_alerts.csv. `value` is the episode's "
        "largest count (accounts, logins or payments) or USD sum (`account_value_5min`) in one window; "
        "`baseline` the entity's mean over its earlier windows at the episode's first spike; `score` the largest "
        "value / max(baseline, prior) (prior 1 for counts, 50 USD for sums), so a fresh entity is judged against "
        "the prior.",
        "",
    ]
    if len(al):
        if chart:
            lines += [f"![Biggest micro-window spikes on a timeline]({chart})", ""]
        lines += [markdown_table(al.sort_values("score", ascending=False, kind="stable").head(15)[
            ["entity_type", "entity", "metric", "window_start", "window_end", "value", "baseline", "score"]],
            floatfmt="{:,.2f}"), ""]
    rings = result.rings
    if rings is not None and len(rings.summary) and "spiking_entities" in rings.summary:
        fl = rings.flagged
        hit = fl[(fl["spiking_entities"] > 0) | (fl["member_spikes"] > 0)]
        lines += [f"{len(hit):,} of {len(fl):,} flagged ring(s) had their shared infrastructure or members spike "
                  "in the analysis period:", "",
                  markdown_table(hit[["ring_id", "size", "spiking_entities", "member_spikes", "first_spike",
                                      "last_spike", "spiked"]], max_rows=15) if len(hit) else "", ""]
    reached = ex[ex["hops"].notna()] if len(ex) else ex
    seeds = money.seeds if money.seeds is not None else pd.DataFrame()
    as_of = f"as of {money.as_of}" if money.as_of is not None else "over the whole case"
    lines += [
        f"## Money side: exposure to known-bad ({md_escape(as_of)})",
        "",
        f"{len(seeds):,} known-bad seed(s) (blocklisted accounts, IPs and devices, the users of a blocklisted "
        "e-mail domain, accounts with a security finding) known by then. Exposure is a personalised PageRank from the seeds over the account–IP–device "
        "graph, damped through hubs so that a carrier NAT does not make everyone exposed; the path is the shortest "
        f"one avoiding hubs. {len(reached) - int((reached['hops'] == 0).sum()) if len(reached) else 0:,} account(s) "
        "have a path to a seed; all accounts in exposure.csv.",
        "",
    ]
    top = ex[ex["hops"].fillna(0) > 0].head(10) if len(ex) else ex
    if len(top):
        lines += [markdown_table(top[["account_id", "exposure", "hops", "nearest_known_bad", "path"]]), ""]
    return lines
