"""The real-time scorer: profiles, the graph's context and live velocity, through a ruleset, to a decision.

``Scorer.score(event)`` handles one event in well under a millisecond and
keeps its state current (the account's 30-day payments and last device, the
micro windows); ``Scorer.score_frame(df)`` scores a whole frame at once for a
backtest, from the same snapshot, with the same features (tested equal).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..case import Case
from ..detect.micro import METRICS, MicroParams, MicroState
from ..errors import InputError
from .context import GraphContext, build_context, context_from_result, features_array, read_analysis
from .frame_features import frame_features
from .events import Event, EventError, case_events, events_frame, parse_event
from .profiles import _NAT, RISK_LEVELS, FxRates, Profiles, risk_levels
from ..act.rules import _OPS, selected_rules
from .ruleset import FEATURES, Ruleset, _compile, default_ruleset, graph_rules, load_ruleset

__all__ = ["Scorer", "Decision", "DECISION_COLUMNS"]

DECISION_COLUMNS = ["event_id", "account_id", "event_ts", "event_type", "score", "decision", "rules", "reasons",
                    "ruleset_version", "scored_at", "latency_us"]
_DAY_NS = 86_400 * 10**9
_IP_SPIKES = [m.name + "_spike" for m in METRICS if m.entity == "ip"]
_DEV_SPIKES = [m.name + "_spike" for m in METRICS if m.entity == "device"]
_ACC_SPIKES = [m.name + "_spike" for m in METRICS if m.entity == "account"]
_MICRO_COLS = [m.name for m in METRICS] + [m.name + "_spike" for m in METRICS]


@dataclass(frozen=True)
class Decision:
    """One event's decision: ``APPROVE``, ``REVIEW`` or ``BLOCK``, the rules that matched and why, in words.

    ``features`` holds every feature the rules could read (kept out of
    :meth:`to_dict` unless asked for).
    """

    event_id: str
    score: float
    decision: str
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    ruleset_version: str
    scored_at: str
    latency_us: float
    account_id: str = ""
    event_ts: str = ""
    event_type: str = ""
    features: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self, features: bool = False) -> dict:
        # built by hand: dataclasses.asdict deep-copies the features only for them to be dropped
        d = {"event_id": self.event_id, "score": self.score, "decision": self.decision, "rules": list(self.rules),
             "reasons": list(self.reasons), "ruleset_version": self.ruleset_version, "scored_at": self.scored_at,
             "latency_us": self.latency_us, "account_id": self.account_id, "event_ts": self.event_ts,
             "event_type": self.event_type}
        if features:
            d["features"] = {k: _plain(v) for k, v in self.features.items()}
        return d


def _plain(v):
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def _now_text() -> str:
    return pd.Timestamp.now(tz="UTC").tz_localize(None).isoformat(timespec="microseconds")


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, float, np.integer, np.floating)):
        if isinstance(v, float) and math.isnan(v):
            return "unknown"
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
    return str(v)


def _resolve_rules(rules, default: Ruleset) -> Ruleset:
    if rules is None:
        return default
    if isinstance(rules, Ruleset):
        return rules
    if isinstance(rules, (str, Path)):
        return load_ruleset(rules)
    return Ruleset(tuple(rules))


class Scorer:
    """Scores events with a ruleset over profiles, the graph's context and live velocity features.

    Build it with :meth:`from_analysis` (an ``analyze`` output folder),
    :meth:`from_case` (a case, and an analysis in memory) or
    :meth:`from_profiles` (a customer-profile table).

    Examples
    --------
    >>> import pandas as pd
    >>> s = Scorer.from_profiles(pd.DataFrame({"account_id": ["A1"], "avg_amount_30d": [100.0],
    ...     "payment_count_30d": [12], "last_device_id": ["d1"], "last_country": ["DE"],
    ...     "signup_ts": ["2024-01-01"], "risk_level": ["LOW"]}))
    >>> d = s.score({"event_id": "e1", "event_ts": "2025-09-01 12:00:00", "user_id": "A1",
    ...              "transaction_amount": 900.0, "ip_address": "203.0.113.9", "device_id": "d2"})
    >>> d.decision, d.score, d.rules
    ('BLOCK', 100.0, ('amount over 5x the 30-day mean', 'device differs from the last one'))
    >>> d.reasons[0]
    'amount over 5x the 30-day mean (+80): amount / 30-day mean 9 > 5 (amount 900 USD; 30-day mean 100 USD over 12 payments)'
    >>> s.score({"event_id": "e2", "user_id": "NEW1", "transaction_amount": 20}).rules
    ('account younger than 7 days',)
    """

    def __init__(self, profiles: Profiles, context: GraphContext | None = None, rules=None,
                 fx: FxRates | None = None, micro: MicroParams | None = None):
        self.profiles = profiles
        self.context = context if context is not None else GraphContext()
        self.fx = fx if fx is not None else FxRates()
        self.micro_params = micro if micro is not None else MicroParams()
        self.micro = MicroState(self.micro_params)
        self._clock: int | None = None
        self._features = features_array(self.context, profiles.account_ids)
        self.set_rules(_resolve_rules(rules, default_ruleset()))

    # ------------------------------------------------------------------ building

    @classmethod
    def from_profiles(cls, df: pd.DataFrame, rules=None, fx_rates: pd.DataFrame | None = None,
                      micro: MicroParams | None = None) -> Scorer:
        """From a profile table (``account_id, avg_amount_30d, payment_count_30d, last_device_id,
        last_country, signup_ts, risk_level``); bad rows are in ``scorer.profiles.rejected``.

        ``fx_rates`` (``currency, rate_usd, valid_from``) converts non-USD events;
        without it only USD events can be scored.
        """
        profiles = Profiles.from_table(df)
        if not len(profiles) and len(df):
            raise InputError(f"every row of the profiles table was rejected, e.g. "
                             f"{profiles.rejected['reason'].iloc[0]!r}")
        return cls(profiles, None, rules, FxRates(fx_rates), micro)

    @classmethod
    def from_case(cls, case: Case, analysis=None, rules=None, warm: str | None = "6h",
                  micro: MicroParams | None = None) -> Scorer:
        """From a case and its analysis (an :class:`~graphfraud.AnalysisResult`; None runs ``analyze`` in memory).

        Profiles are as of the analysis end; ``warm`` replays that much of the
        case's last logins and payments into the velocity state so spikes are
        judged from the first event (None: start cold). The default ruleset is
        the six transaction rules, the graph-aware rules and the rules the
        analysis proposed.
        """
        if analysis is None:
            from ..pipeline import analyze  # the scorer sits after the pipeline; analyze runs only when asked

            analysis = analyze(case, out_dir=None)
        ctx = context_from_result(analysis)
        risk = risk_levels(analysis.signals.set_index("account_id")["composite"])
        proposed = selected_rules(analysis.rules)
        return cls._assemble(case, ctx, risk, proposed, rules, warm, micro)

    @classmethod
    def from_analysis(cls, out_dir: str | Path, rules=None, case: Case | None = None, warm: str | None = "6h",
                      micro: MicroParams | None = None) -> Scorer:
        """From an ``analyze`` output folder; the case is read from where the analysis read it (or ``case``).

        The folder gives rings, their shared IPs and devices, campaign IPs,
        exposure, signals (risk levels) and ``rules.json``.
        """
        from ..loaders import load_case

        a = read_analysis(out_dir)
        man = a["manifest"]
        if case is None:
            src = man.get("input")
            if not src or not Path(src).exists():
                raise InputError(f"the analysis in {str(out_dir)!r} read {src!r}, which is not there now; pass the "
                                 "case (--db CASE on the command line, case= in Python)")
            case = load_case(src)
        as_of = man.get("periods", {}).get("period_end")
        ctx = build_context(case, a["members"], a["summary"], a["campaigns"], a["exposure"], a["features"], as_of,
                            str(Path(out_dir)))
        risk = risk_levels(a["signals"].set_index("account_id")["composite"])
        proposed = list(load_ruleset(a["rules"]).rules) if a["rules"] is not None else []
        return cls._assemble(case, ctx, risk, proposed, rules, warm, micro)

    @classmethod
    def _assemble(cls, case, ctx, risk, proposed, rules, warm, micro) -> Scorer:
        profiles = Profiles.from_case(case, as_of=ctx.as_of, risk=risk)
        base = default_ruleset().with_rules(graph_rules(), name="analysis")
        names = {r.name for r in base.rules}
        base = base.with_rules([r for r in proposed if r.name not in names])
        scorer = cls(profiles, ctx, _resolve_rules(rules, base), FxRates(case.fx_rates), micro)
        if warm and ctx.as_of is not None:
            scorer.warm(case, pd.Timestamp(ctx.as_of) - pd.Timedelta(warm), ctx.as_of)
        return scorer

    def warm(self, case: Case, since, until) -> int:
        """Feed the case's logins and payments in ``(since, until]`` to the velocity state only; returns how many."""
        ev = case_events(case)
        ev = ev[((ev["event_ts"] > since) & (ev["event_ts"] <= until)).to_numpy()]
        # logins first among equal times, then time order
        ev = ev.iloc[np.argsort((ev["event_type"] == "payment").to_numpy(), kind="stable")]
        frame = ev.sort_values("event_ts", kind="stable")
        ts = frame["event_ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        usd = np.where(frame["event_type"].to_numpy() == "payment",
                       frame["amount"].to_numpy(dtype=np.float64)
                       * self.fx.rates(frame["currency"].to_numpy(dtype=object), ts), np.nan)
        for t, a, k, ip, dev, usd in zip(ts, frame["account_id"], frame["event_type"], frame["ip"],
                                         frame["device_id"], usd):
            self.micro.update(np.datetime64(int(t), "ns"), a, k, ip=None if pd.isna(ip) else ip,
                              device_id=None if pd.isna(dev) else dev, amount_usd=usd)
            self._clock = int(t)
        return len(frame)

    def set_rules(self, rules) -> None:
        """Replace the ruleset (checked against the features first; the old one stays on error)."""
        rs = _resolve_rules(rules, default_ruleset())
        rs.check(self.context.feature_kinds())
        self.ruleset, self._compiled, self.version = rs, _compile(rs), rs.version

    def describe(self) -> dict:
        return {"profiles": len(self.profiles), "live_accounts": len(self.profiles.live),
                "as_of": None if self.profiles.as_of_ns is None else str(pd.Timestamp(self.profiles.as_of_ns)),
                "ruleset": self.version, "rules": len(self.ruleset.rules), "mode": self.ruleset.mode,
                "context": self.context.describe()}

    # ------------------------------------------------------------------ one event

    def score(self, event) -> Decision:
        """Score one event (a dict as JSON gives it, or an :class:`Event`) and update the live state.

        Raises
        ------
        EventError
            a field is invalid (named), or a non-USD amount has no rate. The state is left as it was.
        """
        t0 = time.perf_counter_ns()
        ev = event if isinstance(event, Event) else parse_event(event)
        usd = math.nan
        if ev.kind == "payment":
            usd = ev.amount * self.fx.rate(ev.currency, ev.ts)
            if math.isnan(usd):
                first = self.fx.first(ev.currency)
                raise EventError("currency", f"no USD rate for {ev.currency} at {pd.Timestamp(ev.ts)} "
                                             + (f"(its first rate is from {first})" if first is not None
                                                else "(the scorer has no rates for it; give fx_rates)"), ev.event_id)
        f = self._event_features(ev, usd)
        names, pts, reasons = [], [], []
        for name, p, conds in self._compiled:
            if all(op(f[c], v) for c, op, v in conds):
                names.append(name)
                pts.append(p)
                reasons.append(_reason(name, p, conds, f))
                if self.ruleset.mode == "first":
                    break
        score = self.ruleset.score(pts)
        self.profiles.record(ev.account_id, ev.ts, ev.kind, None if math.isnan(usd) else round(usd * 100),
                             ev.device_id, ev.country_iso)
        return Decision(ev.event_id, score, self.ruleset.decision(score), tuple(names), tuple(reasons), self.version,
                        _now_text(), (time.perf_counter_ns() - t0) / 1000, ev.account_id,
                        pd.Timestamp(ev.ts).strftime("%Y-%m-%d %H:%M:%S"), ev.kind, f)

    def _event_features(self, ev: Event, usd: float) -> dict:
        p, ctx = self.profiles, self.context
        row = p.ids.get(ev.account_id)
        live = p.live.get(ev.account_id)
        count, mean = p.window(row, live, ev.ts)
        if row is None:
            age = (ev.ts - (live.first_seen if live is not None else ev.ts)) / _DAY_NS
            risk, last_dev, last_cty = "NEW", None, None
        else:
            s = p.signup_ns[row]
            age = math.nan if s == _NAT else (ev.ts - int(s)) / _DAY_NS
            risk, last_dev, last_cty = RISK_LEVELS[p.risk[row]], p.last_device[row], p.last_country[row]
        if live is not None:
            last_dev = live.last_device if live.last_device is not None else last_dev
            last_cty = live.last_country if live.last_country is not None else last_cty
        ring = ctx.ring_of.get(ev.account_id)
        ip_risk, ip_tor = ctx.ip_risk.get(ev.ip, (math.nan, False)) if ev.ip is not None else (math.nan, False)
        f = {"amount": ev.amount, "amount_usd": usd, "avg_amount_30d": mean, "payment_count_30d": count,
             "amount_to_avg_30d": usd / mean if mean and mean > 0 else math.nan,
             "account_age_days": age, "new_customer": row is None,
             "device_changed": ev.device_id is not None and last_dev is not None and ev.device_id != last_dev,
             "country_changed": ev.country_iso is not None and last_cty is not None and ev.country_iso != last_cty,
             "risk_level": risk, "is_payment": ev.kind == "payment",
             "in_flagged_ring": ring is not None and ctx.ring_flagged.get(ring, False), "ring_member": ring is not None,
             "ip_in_flagged_ring": ev.ip in ctx.flagged_ips, "device_in_flagged_ring": ev.device_id in ctx.flagged_devices,
             "campaign_ip": ev.ip in ctx.campaign_ips, "exposure": ctx.exposure.get(ev.account_id, 0.0),
             "ip_risk": ip_risk, "ip_tor": bool(ip_tor),
             "ring_id": ring, "last_device_id": last_dev, "last_country": last_cty}
        clock = ev.ts if self._clock is None or ev.ts >= self._clock else self._clock  # a late event counts now
        self._clock = clock
        m = self.micro.update(np.datetime64(clock, "ns"), ev.account_id, ev.kind, ip=ev.ip, device_id=ev.device_id,
                              amount_usd=usd)
        for c in _MICRO_COLS:
            f[c] = m[c]
        f["ip_spike_now"] = any(m[c] for c in _IP_SPIKES)
        f["device_spike_now"] = any(m[c] for c in _DEV_SPIKES)
        f["account_spike_now"] = any(m[c] for c in _ACC_SPIKES)
        f["spike_now"] = f["ip_spike_now"] or f["device_spike_now"] or f["account_spike_now"]
        for c, arr in self._features.items():
            if c not in FEATURES:
                f[c] = arr[row] if row is not None else (False if arr.dtype == bool else math.nan)
        return f

    # ------------------------------------------------------------------ a frame

    def score_frame(self, df: pd.DataFrame, reasons: bool = True) -> pd.DataFrame:
        """Score a frame of events at once, as a replay from this scorer's snapshot (its live state is untouched).

        Events are taken in time order (ties in row order), with the velocity
        state starting empty, exactly as :meth:`score` would take them one by
        one from a fresh scorer. Returns one row per scored event in input
        order: :data:`DECISION_COLUMNS` (``rules`` and ``reasons`` joined by
        ``"; "``), ``row`` (input position) and every feature;
        ``attrs["rejected"]`` lists the rows that could not be scored, with the
        field and the reason. ``reasons=False`` skips the text (faster).
        """
        t0 = time.perf_counter_ns()
        ev, rejected = events_frame(df)
        usd = np.where(ev["kind"].to_numpy() == "payment",
                       ev["amount"].to_numpy() * self.fx.rates(ev["currency"].to_numpy(dtype=object),
                                                               ev["ts"].to_numpy().astype(np.int64)), np.nan)
        no_rate = (ev["kind"].to_numpy() == "payment") & np.isnan(usd)
        if no_rate.any():
            rej = pd.DataFrame({"row": ev["row"][no_rate].to_numpy(), "event_id": ev["event_id"][no_rate].to_numpy(),
                                "field": "currency",
                                "reason": [f"no USD rate for {c} at {t}" for c, t in
                                           zip(ev["currency"][no_rate], ev["ts"][no_rate])]})
            rejected = pd.concat([rejected, rej], ignore_index=True).sort_values("row", kind="stable")
            ev, usd = ev[~no_rate].reset_index(drop=True), usd[~no_rate]
        ev["amount_usd"] = usd
        order = np.argsort(ev["ts"].to_numpy(), kind="stable")
        ev = ev.iloc[order].reset_index(drop=True)
        f = frame_features(self.profiles, self.context, self._features, ev, self.micro_params)
        out = self._frame_decisions(ev, f, reasons)
        out["latency_us"] = (time.perf_counter_ns() - t0) / 1000 / max(len(ev), 1)
        out = pd.concat([out, f], axis=1).sort_values("row", kind="stable").reset_index(drop=True)
        out.attrs["rejected"] = rejected.reset_index(drop=True)
        return out

    def _frame_decisions(self, ev: pd.DataFrame, f: pd.DataFrame, reasons: bool) -> pd.DataFrame:
        n = len(ev)
        rs = self.ruleset
        matched = np.zeros((n, len(rs.rules)), dtype=bool)
        for j, rule in enumerate(rs.rules):
            matched[:, j] = rule.matches(f)
        pts = np.asarray(rs.points, dtype=np.float64)
        if rs.mode == "first" and len(pts):
            first = matched.argmax(axis=1)
            any_m = matched.any(axis=1)
            matched = np.zeros_like(matched)
            matched[np.flatnonzero(any_m), first[any_m]] = True
        score = np.minimum(matched @ pts if len(pts) else np.zeros(n), rs.cap)
        decision = np.where(score >= rs.block, "BLOCK", np.where(score >= rs.review, "REVIEW", "APPROVE"))
        names = [name for name, _, _ in self._compiled]
        rule_text = np.full(n, "", dtype=object)
        reason_text = np.full(n, "", dtype=object)
        hits = np.flatnonzero(matched.any(axis=1))
        # rows as dicts only where a rule matched: most events of a replay match none
        records = f.iloc[hits].to_dict("records") if reasons else None
        for k, i in enumerate(hits):
            hit = np.flatnonzero(matched[i])
            rule_text[i] = "; ".join(names[j] for j in hit)
            if records is not None:
                reason_text[i] = "; ".join(_reason(names[j], pts[j], self._compiled[j][2], records[k]) for j in hit)
        return pd.DataFrame({"event_id": ev["event_id"], "account_id": ev["account_id"],
                             "event_ts": ev["ts"].dt.strftime("%Y-%m-%d %H:%M:%S"), "event_type": ev["kind"],
                             "score": score, "decision": decision, "rules": rule_text, "reasons": reason_text,
                             "ruleset_version": self.version, "scored_at": _now_text(), "row": ev["row"]})


_OP_TEXT = {f: sym for sym, f in _OPS.items()}


def _reason(name: str, points: float, conds, f) -> str:
    """``name (+points): feature words value op threshold; ...`` with the numbers that decided it."""
    parts = []
    for c, op, v in conds:
        if c == "is_payment":  # says which events a rule is for, not why this one matched
            continue
        desc = FEATURES.get(c, (None, c.replace("_", " ")))[1]
        if isinstance(v, (bool, np.bool_, str)):
            text = f"{desc}: {_fmt(f[c])}"
        else:
            text = f"{desc} {_fmt(f[c])} {_OP_TEXT[op]} {_fmt(v)}"
        if c == "amount_to_avg_30d":
            text += (f" (amount {_fmt(f['amount_usd'])} USD; 30-day mean {_fmt(f['avg_amount_30d'])} USD over "
                     f"{_fmt(f['payment_count_30d'])} payments)")
        elif c == "device_changed" and f.get("last_device_id") is not None:
            text += f" (last device {f['last_device_id']})"
        elif c in ("in_flagged_ring", "ring_member") and f.get("ring_id"):
            text += f" ({f['ring_id']})"
        parts.append(text)
    return f"{name} (+{points:g}): " + "; ".join(parts)
