"""The money side of ``analyze``: transactions, micro-window spikes and known-bad exposure, joined to the rings.

It runs when a case carries the money side (payment ids, currencies, merchants,
payment IPs/devices, a blocklist or FX rates): a case in the six-table form
gives the outputs it always gave. The three jobs (see
:mod:`graphfraud.detect.transaction_flags`, :mod:`graphfraud.detect.micro`,
:mod:`graphfraud.rings.known_bad`) share the case and the coded activity, and
their results meet the rings here: which ring's infrastructure spiked and
when, and the per-account features the rule proposer may use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..case import Case, Period
from ..case.schema import OPTIONAL_TABLE_NAMES, TABLES
from ..detect.micro import micro_windows
from ..detect.transaction_flags import (TransactionParams, customer_aggregates, payment_amounts_usd,
                                   payment_times_are_dates, transactions)
from ..rings.known_bad import exposure, known_bad_seeds

__all__ = ["MoneySide", "has_money_side", "money_side", "alert_rings", "ring_spikes", "with_ring_spikes", "money_features", "RING_SPIKE_COLUMNS",
           "MONEY_FEATURES"]

RING_SPIKE_COLUMNS = ["spiking_entities", "member_spikes", "first_spike", "last_spike", "spiked"]
#: per-account features the rules may use (counted in the rules' period, exposure as of the analysis end)
MONEY_FEATURES = ["high_risk_payments", "blocklisted_payments", "rapid_payments", "micro_spikes", "exposure"]


@dataclass(frozen=True, eq=False)
class MoneySide:
    """Transactions, customers, the payments that could not be converted, micro alerts and exposure."""

    transactions: pd.DataFrame
    customers: pd.DataFrame
    rejected: pd.DataFrame
    micro_alerts: pd.DataFrame
    exposure: pd.DataFrame
    seeds: pd.DataFrame
    as_of: pd.Timestamp | None

    def period(self) -> tuple:
        ts = self.transactions["payment_ts"]
        return (ts.min(), ts.max()) if len(ts) else (None, None)


def has_money_side(case: Case) -> bool:
    """Whether the case carries any optional money-side column or table."""
    optional = [c.name for c in TABLES["payments"].columns if c.absent == "omit"]
    return any(c in case.payments for c in optional) or any(t in case.input_rows for t in OPTIONAL_TABLE_NAMES)


def money_side(case: Case, as_of=None, activity=None, params: TransactionParams | None = None,
               micro_params=None, exposure_params=None) -> MoneySide:
    """Run the three money-side jobs on ``case``; exposure uses what was known at ``as_of``.

    ``activity`` (the rings' coded activity) is reused for exposure when given,
    so the graph is the one the rings were scored on.
    """
    tx, rejected = transactions(case, params, with_rejected=True)
    if payment_times_are_dates(case.payments):
        # a day's payments all at 00:00:00 would look like one burst: windows over the logins only
        alerts = micro_windows(replace(case, payments=case.payments.iloc[:0]), params=micro_params)
    else:
        alerts = micro_windows(case, amounts=payment_amounts_usd(case), params=micro_params)
    seeds = known_bad_seeds(case, as_of)
    expo = exposure(case, seeds=seeds, activity=activity, as_of=as_of, params=exposure_params)
    return MoneySide(tx, customer_aggregates(case, tx), rejected, alerts, expo, seeds,
                     None if as_of is None else pd.Timestamp(as_of))


def ring_spikes(members: pd.DataFrame, alerts: pd.DataFrame) -> pd.DataFrame:
    """Per ring: how many of its shared IPs/devices spiked with 2+ members in the spike, member spikes, and when.

    ``members`` has ``ring_id, account_id``; ``alerts`` is :func:`micro_windows`'s
    frame. An IP or device counts for a ring when one of its spike episodes lists
    two or more of the ring's members; ``member_spikes`` counts episodes on the
    members' own accounts. ``spiked`` names the entities, most recent last.

    Examples
    --------
    >>> m = pd.DataFrame({"ring_id": ["r1"] * 3, "account_id": ["A", "B", "C"]})
    >>> a = pd.DataFrame({"entity_type": ["ip", "account"], "entity": ["9.9.9.9", "A"],
    ...     "window_start": pd.to_datetime(["2025-08-01 10:00", "2025-08-02 09:00"]),
    ...     "window_end": pd.to_datetime(["2025-08-01 10:04", "2025-08-02 09:01"]), "accounts": ["A;B;X", "A"]})
    >>> ring_spikes(m, a).values.tolist()
    [['r1', 1, 1, Timestamp('2025-08-01 10:00:00'), Timestamp('2025-08-02 09:01:00'), 'ip 9.9.9.9']]
    """
    rings = pd.Index(pd.unique(members["ring_id"]), name="ring_id")
    out = pd.DataFrame({"ring_id": rings, "spiking_entities": 0, "member_spikes": 0,
                        "first_spike": pd.NaT, "last_spike": pd.NaT, "spiked": ""})
    if not len(alerts) or not len(members):
        return out
    touched = alert_rings(alerts, pd.Series(members["ring_id"].to_numpy(), index=members["account_id"].to_numpy()))
    touched = touched[touched["member"] | (touched["named"] >= 2)]
    if not len(touched):
        return out
    a = alerts.iloc[touched["alert"].to_numpy()]
    hits = pd.DataFrame({"ring_id": touched["ring_id"].to_numpy(), "kind": a["entity_type"].to_numpy(),
                         "entity": a["entity"].to_numpy(), "start": a["window_start"].to_numpy(),
                         "end": a["window_end"].to_numpy(), "member": touched["member"].to_numpy()})
    shared = hits[~hits["member"]]
    g = hits.groupby("ring_id")
    summary = pd.DataFrame({
        "spiking_entities": shared.groupby("ring_id")["entity"].nunique(),
        "member_spikes": hits[hits["member"]].groupby("ring_id").size(),
        "first_spike": g["start"].min(), "last_spike": g["end"].max(),
        "spiked": shared.sort_values("end", kind="stable").groupby("ring_id").apply(
            lambda d: "; ".join(dict.fromkeys(d["kind"] + " " + d["entity"].astype(str))), include_groups=False)})
    out = out.set_index("ring_id")
    for c in summary.columns:
        vals = summary[c].reindex(out.index)
        out[c] = vals.fillna(0 if c in ("spiking_entities", "member_spikes") else "" if c == "spiked" else pd.NaT)
    out["spiking_entities"] = out["spiking_entities"].astype(np.int64)
    out["member_spikes"] = out["member_spikes"].astype(np.int64)
    return out.reset_index()


def alert_rings(alerts: pd.DataFrame, member_ring: pd.Series) -> pd.DataFrame:
    """Which rings each spike episode touches: ``alert`` (row position), ``ring_id``, ``named``, ``member``.

    ``member_ring`` maps a member account to its ring. An episode on a member's own
    account touches that ring (``member`` True, ``named`` 1); one on an IP or device
    touches every ring with a member among its listed ``accounts`` (``named``: how
    many). Sorted by alert, then ring.

    Examples
    --------
    >>> a = pd.DataFrame({"entity_type": ["ip", "account"], "entity": ["9.9.9.9", "B"], "accounts": ["A;B;X", "B"]})
    >>> alert_rings(a, pd.Series({"A": "r1", "B": "r1"})).values.tolist()
    [[0, 'r1', 2, False], [1, 'r1', 1, True]]
    """
    ring_of = member_ring.to_dict()
    rows = []
    for i, (kind, entity, accounts) in enumerate(zip(alerts["entity_type"], alerts["entity"], alerts["accounts"])):
        if kind == "account":
            if entity in ring_of:
                rows.append((i, ring_of[entity], 1, True))
            continue
        counts: dict = {}
        for acct in str(accounts).split(";"):
            if acct in ring_of:
                counts[ring_of[acct]] = counts.get(ring_of[acct], 0) + 1
        rows += [(i, r, k, False) for r, k in sorted(counts.items())]
    return pd.DataFrame(rows, columns=["alert", "ring_id", "named", "member"]).astype(
        {"alert": np.int64, "named": np.int64, "member": bool})


def with_ring_spikes(rings, money: MoneySide, period: Period | None = None):
    """``rings`` with :func:`ring_spikes` columns joined to its summary (spikes in ``period`` only)."""
    alerts = money.micro_alerts
    if period is not None and len(alerts):
        alerts = alerts[period.mask(alerts["window_end"])]
    spikes = ring_spikes(rings.rings, alerts)
    summary = rings.summary.drop(columns=[c for c in RING_SPIKE_COLUMNS if c in rings.summary.columns])
    summary = summary.merge(spikes, on="ring_id", how="left")
    for c in ("spiking_entities", "member_spikes"):
        summary[c] = summary[c].fillna(0).astype(np.int64)
    summary["spiked"] = summary["spiked"].fillna("")
    return replace(rings, summary=summary)


def money_features(money: MoneySide, accounts: pd.Index, period: Period | None) -> pd.DataFrame:
    """Per account (``accounts``): the money-side rule features, events counted in ``period``.

    ``high_risk_payments``, ``blocklisted_payments``, ``rapid_payments``: payments in
    the period with that tier or flag; ``micro_spikes``: spike episodes in the period
    on the account or naming it on an IP/device; ``exposure``: as of the analysis end
    (0 for accounts outside the graph, and 0 for the seeds themselves: a rule on exposure
    must find accounts not already known to be bad, or its precision only restates its seeds).
    """
    tx = money.transactions
    in_tx = period.mask(tx["payment_ts"]) if period is not None else np.ones(len(tx), dtype=bool)
    t = tx[in_tx]
    f = pd.DataFrame(index=accounts)
    for name, mask in (("high_risk_payments", t["risk_tier"] == "HIGH"), ("blocklisted_payments", t["blocklisted"]),
                       ("rapid_payments", t["rapid_succession"])):
        f[name] = t[mask.to_numpy()].groupby("account_id").size().reindex(accounts, fill_value=0).astype(int)
    al = money.micro_alerts
    if period is not None and len(al):
        al = al[period.mask(al["window_end"])]
    named = al["accounts"].astype(str).str.split(";").explode() if len(al) else pd.Series(dtype=object)
    f["micro_spikes"] = named.value_counts().reindex(accounts, fill_value=0).astype(int)
    ex = money.exposure
    expo = pd.Series(np.where(ex["hops"].fillna(-1).to_numpy() == 0, 0.0, ex["exposure"].to_numpy()),
                     index=ex["account_id"].to_numpy())
    f["exposure"] = expo.reindex(accounts).fillna(0.0).to_numpy()
    return f
