"""The transaction ETL: one cleansed, USD-converted, flagged and tiered row per payment, and per-customer aggregates.

What a Glue job would do for the data lake, on the validated case:

- ``amount_usd`` is the given one, else ``amount`` converted at the rate of its
  currency valid at ``payment_ts`` (the ``fx_rates`` row with the latest
  ``valid_from`` at or before it). USD converts at 1.0 when the table has no USD
  row. A payment with no amount, no currency or no rate valid at its time is
  **rejected** with the reason, never guessed.
- Flags (every threshold a parameter):

  ============== =========================================================== =======
  flag           meaning                                                      weight
  ============== =========================================================== =======
  blocklisted    account, IP, device, merchant or e-mail domain listed at      50
                 payment time (``listed_ts`` at or before it, or null)
  high_amount    ``amount_usd`` > ``high_amount`` (5,000)                       35
  above_history  > ``history_multiple`` (5) x the account's own mean over the   25
                 previous ``history_days`` (30) days; no earlier payment in
                 that period: not judged (``history_payments`` is 0 and the
                 reasons say so)
  rapid          another payment by the same account within                    20
  _succession    ``rapid_seconds`` (60) before or after; not judged when every
                 payment time is at midnight (a source with dates only)
  ============== =========================================================== =======

  ``risk_score`` is the sum of the weights of the flags raised, capped at 100;
  ``risk_tier`` is HIGH at 70 or more, MEDIUM at 40 or more, else LOW. The
  status (CHARGEBACK, DECLINED) is an outcome, learnt later, so it is not part of
  the score; :func:`customer_aggregates` reports it as the bad rate.

Everything is sorts, ``searchsorted`` and cumulative sums on integer codes; the
reasons are written only for the rows that have one.

Examples
--------
>>> import pandas as pd, graphfraud
>>> lg = pd.DataFrame({"event_ts": ["2025-08-01"], "account_id": ["A"], "ip": ["1.1.1.1"], "country_iso": ["DE"],
...                    "result": ["SUCCESS"], "mfa_used": [0], "device_id": ["d"]})
>>> pay = pd.DataFrame({"payment_ts": ["2025-08-01 10:00:00", "2025-08-01 10:00:30"], "account_id": ["A", "A"],
...                     "method": ["CARD"] * 2, "status": ["PAID"] * 2, "amount": [100.0, 6000.0],
...                     "currency": ["EUR", "EUR"]})
>>> fx = pd.DataFrame({"currency": ["EUR"], "rate_usd": [1.1], "valid_from": ["2025-01-01"]})
>>> tx = transactions(graphfraud.case_from_frames(logins=lg, payments=pay, fx_rates=fx))
>>> tx[["amount_usd", "high_amount", "above_history", "risk_score", "risk_tier"]].round(2).values.tolist()
[[110.0, False, False, 20, 'LOW'], [6600.0, True, True, 80, 'HIGH']]
>>> tx["reasons"].iloc[1].split("; ")[1]
"amount 6,600.00 USD is 60.0x the account's mean of 110.00 USD over 1 payment(s) in the previous 30 days"
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..case import BAD_PAYMENT_STATUSES, Case, REJECTED_COLUMNS
from ..case.arrays import sort_order
from ..errors import InputError

__all__ = ["TransactionParams", "transactions", "customer_aggregates", "payment_amounts_usd", "payment_times_are_dates", "TX_FLAGS", "etl_rejected"]

#: the flags in the order their reasons are written
TX_FLAGS = ("blocklisted", "high_amount", "above_history", "rapid_succession")

_OPTIONAL = ["currency", "amount", "merchant_id", "merchant_category", "ip", "device_id", "country_iso"]


@dataclass(frozen=True)
class TransactionParams:
    """Thresholds and weights of the transaction flags (see the module docstring for their meaning)."""

    high_amount: float = 5000.0
    history_days: float = 30.0
    history_multiple: float = 5.0
    rapid_seconds: float = 60.0
    weights: dict = field(default_factory=lambda: {"blocklisted": 50, "high_amount": 35, "above_history": 25,
                                                   "rapid_succession": 20})
    medium: int = 40
    high: int = 70

    def __post_init__(self):
        for name in ("high_amount", "history_days", "history_multiple", "rapid_seconds"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise InputError(f"transaction parameter {name} must be a number >= 0, got {v!r}")
        unknown = set(self.weights) - set(TX_FLAGS)
        if unknown:
            raise InputError(f"unknown transaction flag(s) in weights: {sorted(unknown)} (flags: {', '.join(TX_FLAGS)})")
        if not 0 <= self.medium <= self.high <= 100:
            raise InputError(f"need 0 <= medium <= high <= 100, got medium={self.medium}, high={self.high}")

    def as_dict(self) -> dict:
        return asdict(self)


def transactions(case: Case, params: TransactionParams | None = None, *, with_rejected: bool = False, **overrides):
    """One row per payment with ``amount_usd``, the flags, ``risk_score``, ``risk_tier`` and ``reasons``.

    Parameters
    ----------
    case
        a loaded case; its optional money-side columns and tables are used when present.
    params, overrides
        :class:`TransactionParams`, or its fields as keywords.
    with_rejected
        also return the payments that could not be converted, as rejected rows
        (``table, row, column, value, reason, line`` like ``case.rejected``).

    Returns
    -------
    DataFrame, or (DataFrame, DataFrame) with ``with_rejected``
        ``payment_id`` (given, or ``row-<n>`` from the payment's position in the
        validated table), ``payment_ts, day, account_id, status, method``, the
        optional columns the case has, ``amount_usd, fx_rate``, the flags,
        ``history_mean_usd, history_payments``, ``blocklist_reason``,
        ``risk_score, risk_tier, reasons``; in payment order.
    """
    p = params or TransactionParams(**overrides)
    if params is not None and overrides:
        raise InputError("give either params or keyword overrides, not both")
    pay = case.payments
    usd, rate, problem = _to_usd(pay, case.fx_rates)
    ok = problem == ""
    rows = np.flatnonzero(ok)
    out = _base_columns(pay, rows)
    out["amount_usd"] = usd[rows]
    out["fx_rate"] = rate[rows]
    acct = pay["account_id"].astype("category").cat.codes.to_numpy()[rows].astype(np.int64)
    ts = pay["payment_ts"].to_numpy(dtype="datetime64[s]")[rows].view(np.int64)
    mean, count = _history(acct, ts, usd[rows], p.history_days * 86400)
    out["history_mean_usd"] = mean
    out["history_payments"] = count
    out["high_amount"] = out["amount_usd"].to_numpy() > p.high_amount
    out["above_history"] = (count > 0) & (out["amount_usd"].to_numpy() > p.history_multiple * np.nan_to_num(mean))
    # payments dated to the day (every time at midnight) say nothing about seconds between them
    timed = not payment_times_are_dates(pay)
    out["rapid_succession"] = _rapid(acct, ts, p.rapid_seconds) if timed else np.zeros(len(rows), dtype=bool)
    listed, why = _blocklisted(case, pay, rows)
    out["blocklisted"] = listed
    out["blocklist_reason"] = why
    score = sum(out[f].to_numpy().astype(np.int64) * int(p.weights.get(f, 0)) for f in TX_FLAGS)
    out["risk_score"] = np.minimum(score, 100).astype(np.int64) if len(out) else np.zeros(0, np.int64)
    out["risk_tier"] = _tier(out["risk_score"].to_numpy(), p)
    out["reasons"] = _reasons(out, p, timed)
    if not with_rejected:
        return out
    return out, etl_rejected(pay, problem)


def _base_columns(pay: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    if "payment_id" in pay:
        given = pay["payment_id"].to_numpy(dtype=object)[rows]
        derived = np.array([f"row-{r}" for r in rows], dtype=object)
        pid = np.where(pd.isna(given), derived, given)
    else:
        pid = np.array([f"row-{r}" for r in rows], dtype=object)
    ts = pay["payment_ts"].to_numpy()[rows]
    out = pd.DataFrame({"payment_id": pid, "payment_ts": ts, "day": _days(ts),
                        "account_id": pay["account_id"].to_numpy(dtype=object)[rows]})
    # categorical columns stay categorical: codes, not a reference per payment (10M payments at 1M accounts)
    for c in ["status", "method", *_OPTIONAL]:
        if c in pay:
            out[c] = pay[c].iloc[rows].reset_index(drop=True)
    return out


def _days(ts: np.ndarray) -> pd.Categorical:
    """``YYYY-MM-DD`` per time, as a categorical: one string per distinct day, not per payment."""
    day = ts.astype("datetime64[D]")
    codes, uniq = pd.factorize(day, sort=True)
    return pd.Categorical.from_codes(codes, pd.Index(pd.DatetimeIndex(uniq).strftime("%Y-%m-%d"), dtype=object))


def _to_usd(pay: pd.DataFrame, fx: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per payment: USD amount, the rate used (1.0 where given in USD) and why it failed ("" when it did not)."""
    n = len(pay)
    usd = pay["amount_usd"].to_numpy(dtype="float64", na_value=np.nan).copy()
    rate = np.where(np.isnan(usd), np.nan, 1.0)
    problem = np.full(n, "", dtype=object)
    need = np.isnan(usd)
    if not need.any():
        return usd, rate, problem
    if "amount" not in pay or "currency" not in pay:
        problem[need] = "no amount: amount_usd is empty and the case has no amount/currency columns"
        return usd, rate, problem
    amount = pay["amount"].to_numpy(dtype="float64", na_value=np.nan)
    cur = pay["currency"].to_numpy(dtype=object)
    problem[need & np.isnan(amount)] = "no amount: amount_usd and amount are both empty"
    problem[need & ~np.isnan(amount) & pd.isna(cur)] = "amount has no currency"
    todo = np.flatnonzero(need & ~np.isnan(amount) & ~pd.isna(cur))
    ts = pay["payment_ts"].to_numpy(dtype="datetime64[ns]")
    for c in pd.unique(cur[todo]):
        at = todo[cur[todo] == c]
        table = fx[fx["currency"].astype(object) == c].sort_values("valid_from", kind="stable")
        if not len(table) and c == "USD":
            rate[at] = 1.0
            continue
        starts = table["valid_from"].to_numpy(dtype="datetime64[ns]")
        k = np.searchsorted(starts, ts[at], side="right") - 1
        found = k >= 0
        rate[at[found]] = table["rate_usd"].to_numpy()[k[found]]
        if (~found).any():
            first = f"its first rate is from {pd.Timestamp(starts[0])}" if len(starts) else "fx_rates has no row for it"
            problem[at[~found]] = f"no {c} rate valid at the payment time ({first})"
    conv = need & (problem == "")
    usd[conv] = amount[conv] * rate[conv]
    return usd, rate, problem


def etl_rejected(pay: pd.DataFrame, problem: np.ndarray) -> pd.DataFrame:
    """The payments that could not be converted, in ``case.rejected``'s columns (``row`` = typed-table row)."""
    bad = np.flatnonzero(problem != "")
    cur = pay["currency"].to_numpy(dtype=object)[bad] if "currency" in pay else np.full(len(bad), None, object)
    return pd.DataFrame({"table": "payments", "row": bad.astype(np.int64),
                         "column": np.where(pd.isna(cur), "amount", "currency").astype(object),
                         "value": pd.Series(cur, dtype=object), "reason": problem[bad].astype(object),
                         "line": pd.array([pd.NA] * len(bad), dtype="Int64")})[REJECTED_COLUMNS]


def _history(acct: np.ndarray, ts: np.ndarray, usd: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and count of the account's payments in ``[t - window, t)`` (strictly earlier seconds)."""
    n = len(ts)
    if not n:
        return np.zeros(0), np.zeros(0, np.int64)
    order = sort_order(acct, ts)
    a, t, v = acct[order], ts[order], usd[order]
    span = int(t.max() - t.min()) + int(window) + 2
    key = a * span + (t - t.min())
    lo = np.searchsorted(key, key - int(window), side="left")
    hi = np.searchsorted(key, key, side="left")
    group_start = np.searchsorted(a, a, side="left")
    lo = np.maximum(lo, group_start)
    cs = np.concatenate([[0.0], np.cumsum(v)])
    count = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, (cs[hi] - cs[lo]) / np.maximum(count, 1), np.nan)
    m, c = np.empty(n), np.empty(n, np.int64)
    m[order], c[order] = mean, count
    return m, c


def _rapid(acct: np.ndarray, ts: np.ndarray, seconds: float) -> np.ndarray:
    """Another payment of the same account within ``seconds`` before or after."""
    n = len(ts)
    if n < 2:
        return np.zeros(n, dtype=bool)
    order = sort_order(acct, ts)
    a, t = acct[order], ts[order]
    close = (a[1:] == a[:-1]) & (t[1:] - t[:-1] <= seconds)
    near = np.zeros(n, dtype=bool)
    near[1:] |= close
    near[:-1] |= close
    out = np.empty(n, dtype=bool)
    out[order] = near
    return out


_KIND_COLUMN = {"account": "account_id", "ip": "ip", "device": "device_id", "merchant": "merchant_id"}


def _blocklisted(case: Case, pay: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per kept payment: listed at payment time (any kind), and the first listing in words."""
    n = len(rows)
    hit = np.zeros(n, dtype=bool)
    why = np.full(n, "", dtype=object)
    bl = case.blocklist
    if not len(bl) or not n:
        return hit, why
    ts = pay["payment_ts"].to_numpy(dtype="datetime64[ns]")[rows]
    values = {kind: pay[col].to_numpy(dtype=object)[rows] for kind, col in _KIND_COLUMN.items() if col in pay}
    if "email_domain" in case.users:
        dom = pd.Series(case.users["email_domain"].astype(object).str.lower().to_numpy(),
                        index=case.users["account_id"].astype(object).to_numpy())
        dom = dom[~dom.index.duplicated()]
        values["email_domain"] = dom.reindex(pay["account_id"].to_numpy(dtype=object)[rows]).to_numpy(dtype=object)
    for kind, vals in values.items():
        entries = bl[bl["kind"].astype(object) == kind]
        if not len(entries):
            continue
        keys = entries["value"].astype(object)
        if kind == "email_domain":
            keys = keys.str.lower()
        # the earliest listing of a value counts; null listed_ts = listed before the case
        since = pd.Series(entries["listed_ts"].fillna(pd.Timestamp.min).to_numpy(), index=keys.to_numpy())
        reason = pd.Series(entries["reason"].astype(object).to_numpy(), index=keys.to_numpy())
        order = np.argsort(since.to_numpy(), kind="stable")
        since, reason = since.iloc[order], reason.iloc[order]
        keep = ~since.index.duplicated()
        since, reason = since[keep], reason[keep]
        at = since.reindex(vals).to_numpy(dtype="datetime64[ns]")
        now = ~np.isnat(at) & (at <= ts)
        new = now & ~hit
        for i in np.flatnonzero(new):
            r = reason.get(vals[i])
            why[i] = f"{kind.replace('_', ' ')} {vals[i]} is blocklisted" + (f" ({r})" if isinstance(r, str) and r else "")
        hit |= now
    return hit, why


def _tier(score: np.ndarray, p: TransactionParams) -> np.ndarray:
    return np.where(score >= p.high, "HIGH", np.where(score >= p.medium, "MEDIUM", "LOW")).astype(object)


def payment_times_are_dates(pay: pd.DataFrame) -> bool:
    """Whether every payment time is at midnight (a source that records the day only), with 2+ payments."""
    ts = pay["payment_ts"].to_numpy(dtype="datetime64[s]").view(np.int64)
    return len(ts) > 1 and bool((ts % 86400 == 0).all())


def _reasons(out: pd.DataFrame, p: TransactionParams, timed: bool = True) -> np.ndarray:
    """The flags raised, in words with their numbers; the rows without history say so when large enough to matter."""
    n = len(out)
    parts = {}
    amt = out["amount_usd"].to_numpy()
    why = out["blocklist_reason"].to_numpy()
    for i in np.flatnonzero(out["blocklisted"].to_numpy()):
        parts.setdefault(i, []).append(why[i])
    for i in np.flatnonzero(out["high_amount"].to_numpy()):
        parts.setdefault(i, []).append(f"amount {amt[i]:,.2f} USD above {p.high_amount:,.0f} USD")
    mean, count = out["history_mean_usd"].to_numpy(), out["history_payments"].to_numpy()
    for i in np.flatnonzero(out["above_history"].to_numpy()):
        parts.setdefault(i, []).append(
            f"amount {amt[i]:,.2f} USD is {amt[i] / mean[i]:.1f}x the account's mean of {mean[i]:,.2f} USD over "
            f"{count[i]} payment(s) in the previous {p.history_days:g} days")
    rapid = f"another payment by the account within {p.rapid_seconds:g} s"
    for i in np.flatnonzero(out["rapid_succession"].to_numpy()):
        parts.setdefault(i, []).append(rapid)
    # the texts every row may share are one string each, not one per payment (10M payments at 1M accounts)
    tail = []
    no_history = f"no payment in the previous {p.history_days:g} days: above_history not judged"
    if not timed:
        tail = ["payment times carry no time of day: rapid_succession not judged"]
    first = count == 0
    text = np.empty(n, dtype=object)
    text[:] = "; ".join(tail)  # one shared string object, not n copies
    text[first] = "; ".join([no_history] + tail)
    for i, x in parts.items():
        text[i] = "; ".join(x + ([no_history] if first[i] else []) + tail)
    return text


def customer_aggregates(case: Case, transactions_frame: pd.DataFrame | None = None,
                        params: TransactionParams | None = None) -> pd.DataFrame:
    """Per account: payments, total/mean/max USD, bad rate, first/last payment, flags and its own tier.

    ``bad_payments`` are statuses CHARGEBACK or DECLINED. The account's tier is
    HIGH when any payment was blocklisted or HIGH, or at least half of two or more
    payments were bad; MEDIUM when any payment was MEDIUM or a fifth or more were
    bad; else LOW. ``first_payment``/``last_payment`` give the period each row covers.

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> lg = pd.DataFrame({"event_ts": ["2025-08-01"], "account_id": ["A"], "ip": ["1.1.1.1"],
    ...     "country_iso": ["DE"], "result": ["SUCCESS"], "mfa_used": [0], "device_id": ["d"]})
    >>> pay = pd.DataFrame({"payment_ts": ["2025-08-01", "2025-08-05"], "account_id": ["A", "A"],
    ...     "method": ["CARD"] * 2, "amount_usd": [10.0, 30.0], "status": ["PAID", "CHARGEBACK"]})
    >>> agg = customer_aggregates(graphfraud.case_from_frames(logins=lg, payments=pay))
    >>> agg[["account_id", "payments", "total_usd", "bad_rate", "risk_tier"]].values.tolist()
    [['A', 2, 40.0, 0.5, 'HIGH']]
    """
    tx = transactions(case, params) if transactions_frame is None else transactions_frame
    if not len(tx):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _AGG_COLUMNS.items()})
    bad = tx["status"].isin(list(BAD_PAYMENT_STATUSES))
    g = tx.assign(bad=bad, high=tx["risk_tier"] == "HIGH", medium=tx["risk_tier"] == "MEDIUM").groupby(
        "account_id", sort=True)
    agg = pd.DataFrame({
        "payments": g.size(), "total_usd": g["amount_usd"].sum(), "mean_usd": g["amount_usd"].mean(),
        "max_usd": g["amount_usd"].max(), "bad_payments": g["bad"].sum(),
        "first_payment": g["payment_ts"].min(), "last_payment": g["payment_ts"].max(),
        "high_amount_payments": g["high_amount"].sum(), "above_history_payments": g["above_history"].sum(),
        "rapid_payments": g["rapid_succession"].sum(), "blocklisted_payments": g["blocklisted"].sum(),
        "high_risk_payments": g["high"].sum(), "medium_risk_payments": g["medium"].sum(),
        "max_risk_score": g["risk_score"].max()}).reset_index()
    agg["bad_rate"] = agg["bad_payments"] / agg["payments"]
    high = (agg["blocklisted_payments"] > 0) | (agg["high_risk_payments"] > 0) | (
        (agg["payments"] >= 2) & (agg["bad_rate"] >= 0.5))
    medium = (agg["medium_risk_payments"] > 0) | (agg["bad_rate"] >= 0.2)
    agg["risk_tier"] = np.where(high, "HIGH", np.where(medium, "MEDIUM", "LOW")).astype(object)
    return agg[list(_AGG_COLUMNS)].astype({c: t for c, t in _AGG_COLUMNS.items() if t == "int64"})


_AGG_COLUMNS = {"account_id": object, "payments": "int64", "total_usd": "float64", "mean_usd": "float64",
                "max_usd": "float64", "bad_payments": "int64", "bad_rate": "float64",
                "first_payment": "datetime64[ns]", "last_payment": "datetime64[ns]",
                "high_amount_payments": "int64", "above_history_payments": "int64", "rapid_payments": "int64",
                "blocklisted_payments": "int64", "high_risk_payments": "int64", "medium_risk_payments": "int64",
                "max_risk_score": "int64", "risk_tier": object}


def payment_amounts_usd(case: Case) -> np.ndarray:
    """USD per row of ``case.payments`` (given or converted as in :func:`transactions`; NaN where it cannot be).

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> lg = pd.DataFrame({"event_ts": ["2025-08-01"], "account_id": ["A"], "ip": ["1.1.1.1"],
    ...     "country_iso": ["DE"], "result": ["SUCCESS"], "mfa_used": [0], "device_id": ["d"]})
    >>> pay = pd.DataFrame({"payment_ts": ["2025-08-01"] * 2, "account_id": ["A"] * 2, "method": ["CARD"] * 2,
    ...     "status": ["PAID"] * 2, "amount": [2.0, 3.0], "currency": ["USD", "CHF"]})
    >>> payment_amounts_usd(graphfraud.case_from_frames(logins=lg, payments=pay)).tolist()
    [2.0, nan]
    """
    usd, _, problem = _to_usd(case.payments, case.fx_rates)
    return np.where(problem == "", usd, np.nan)
