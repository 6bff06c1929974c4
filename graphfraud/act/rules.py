"""Mitigation rules as data: candidates over signals, bursts, rings and campaigns, with measured alert load and precision.

A rule is a conjunction of feature comparisons plus an action. Rules are plain
data (``Rule.to_dict`` / ``Rule.from_dict``, saved as JSON or YAML), so the same
rule can be reviewed in a ticket, versioned, and evaluated on next week's case.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..case import Case, Period
from ..case.arrays import column_isin
from ..case.schema import TIME_FORMAT as _FMT
from ..errors import InputError
from .output import atomic_write_bytes

__all__ = ["Rule", "account_features", "evaluate_rules", "candidate_rules", "propose_rules", "save_rules",
           "rules_text", "load_rules", "selected_rules", "ACTION_FRICTION", "RULE_COLUMNS"]

# Lower friction first: an honest customer barely notices a step-up, suspension locks them out.
ACTION_FRICTION = {"MFA step-up": 1, "force password reset": 2, "throttle EC2 provisioning": 2, "open a case": 2,
                   "hold payments for review": 2, "decline payment": 3, "suspend account": 3}

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
        "!=": operator.ne}

RULE_COLUMNS = ["rule", "definition", "action", "friction", "alerts", "daily_alerts", "period_start", "period_end",
                "days", "precision_findings",
                "recall_findings", "lift_findings", "precision_bad_payments", "recall_bad_payments",
                "lift_bad_payments", "selected"]


@dataclass(frozen=True)
class Rule:
    """``when`` every ``(feature, op, value)`` condition holds, take ``action``.

    ``points`` is what a match adds to a real-time score (see
    :class:`graphfraud.realtime.Ruleset`); ``None`` (the proposer's rules) lets the
    action decide.

    Examples
    --------
    >>> r = Rule("fails+new country", [("failed_login_rate", ">=", 0.3), ("new_country_rate", ">=", 0.5)],
    ...          "MFA step-up")
    >>> r.definition
    'failed_login_rate >= 0.3 and new_country_rate >= 0.5 -> MFA step-up'
    >>> Rule.from_dict(r.to_dict()) == r
    True
    """

    name: str
    when: tuple = field(default_factory=tuple)
    action: str = "MFA step-up"
    family: str = ""
    points: float | None = None

    def __post_init__(self):
        conds = tuple(tuple(c) for c in self.when)
        object.__setattr__(self, "when", conds)
        for c in conds:
            if len(c) != 3 or c[1] not in _OPS:
                raise InputError(f"rule {self.name!r}: condition {c!r} must be (feature, op, value) with op in "
                                 f"{', '.join(_OPS)}")
        if self.action not in ACTION_FRICTION:
            raise InputError(f"rule {self.name!r}: unknown action {self.action!r}; expected one of "
                             f"{', '.join(ACTION_FRICTION)}")
        if self.points is not None and (isinstance(self.points, bool) or not isinstance(self.points, (int, float))
                                        or not 0 <= self.points <= 1000):
            raise InputError(f"rule {self.name!r}: points must be a number from 0 to 1000, got {self.points!r}")

    @property
    def definition(self) -> str:
        text = " and ".join(f"{f} {op} {v:g}" if isinstance(v, float) else f"{f} {op} {v}" for f, op, v in self.when)
        return f"{text} -> {self.action}"

    @property
    def friction(self) -> int:
        return ACTION_FRICTION[self.action]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["when"] = [{"feature": f, "op": op, "value": v} for f, op, v in self.when]
        if self.points is None:
            del d["points"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Rule:
        if not isinstance(d, dict) or "name" not in d:
            raise InputError(f"a rule must be an object with at least 'name' and 'when', got {d!r}")
        unknown = set(d) - {"name", "when", "action", "family", "points"}
        if unknown:
            raise InputError(f"rule {d['name']!r}: unknown key(s) {sorted(unknown)}; a rule has name, when, action, "
                             "family and points")
        try:
            when = [(c["feature"], c["op"], c["value"]) if isinstance(c, dict) else tuple(c)
                    for c in d.get("when", [])]
        except (KeyError, TypeError):
            raise InputError(f"rule {d['name']!r}: each condition needs feature, op and value, got "
                             f"{d.get('when')!r}") from None
        return cls(name=d["name"], when=tuple(when), action=d.get("action", "MFA step-up"), family=d.get("family", ""),
                   points=d.get("points"))

    def matches(self, features: pd.DataFrame) -> np.ndarray:
        mask = np.ones(len(features), dtype=bool)
        for f, op, v in self.when:
            if f not in features.columns:
                raise InputError(f"rule {self.name!r} uses unknown feature {f!r}; features are "
                                 f"{', '.join(features.columns)}")
            mask &= _OPS[op](features[f].to_numpy(), v)
        return mask


def save_rules(rules, path: str | Path) -> Path:
    """Write rules as JSON (``.json``) or YAML (``.yaml``/``.yml``, needs PyYAML)."""
    path = Path(path)
    return atomic_write_bytes(path, rules_text(rules, "yaml" if path.suffix in (".yaml", ".yml") else "json")
                              .encode("utf-8"))


def rules_text(rules, fmt: str = "json") -> str:
    """The rules as JSON or YAML text (what :func:`save_rules` writes)."""
    data = [r.to_dict() for r in rules]
    if fmt == "yaml":
        return _yaml().safe_dump(data, sort_keys=False)
    return json.dumps(data, indent=2) + "\n"


def load_rules(path: str | Path) -> list[Rule]:
    """Read rules saved by :func:`save_rules`."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = _yaml().safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    return [Rule.from_dict(d) for d in data]


def _yaml():
    try:
        import yaml
    except ImportError as exc:  # optional: JSON needs nothing
        raise InputError("YAML rules need PyYAML: pip install pyyaml (or save the rules as .json)") from exc
    return yaml


def account_features(case: Case, signals: pd.DataFrame, bursts: pd.DataFrame | None = None,
                     rings=None, campaigns: pd.DataFrame | None = None, period: Period | None = None,
                     money=None) -> pd.DataFrame:
    """One row per account with signals: the signals plus burst, ring and campaign features, over one period.

    The signals describe the signal window, so every event feature is counted in
    the same ``period`` (default: the signals' window, from ``signals.attrs``):
    ``burst_triggers`` (triggers with ``trigger_ts`` in the period),
    ``campaign_victim`` (a failed login from a campaign IP in the period),
    ``campaign_success`` (a successful login from a campaign IP in the period: a
    likely takeover) and ``in_flagged_ring`` (member of a flagged ring found over
    the analysis period, and active in this period since it has signals).
    With ``money`` (a :class:`~graphfraud.act.money.MoneySide`) the money-side
    features join them (:func:`~graphfraud.act.money.money_features`: payments by
    tier and flag and micro-window spikes in the same period, exposure as of the
    analysis end). ``attrs["period"]`` records the period.
    """
    period = period if period is not None else _signal_period(signals)
    f = signals.set_index("account_id").copy()
    trig = pd.Series(dtype=int)
    if bursts is not None and len(bursts):
        b = bursts[period.mask(bursts["trigger_ts"])] if period is not None else bursts
        trig = b.groupby("account_id").size()
    f["burst_triggers"] = trig.reindex(f.index, fill_value=0).astype(int)
    flagged = set()
    if rings is not None and len(rings.summary):
        flagged = set(rings.rings.loc[rings.rings["ring_id"].isin(rings.flagged["ring_id"]), "account_id"])
    f["in_flagged_ring"] = f.index.isin(list(flagged))
    victim, success = set(), set()
    if campaigns is not None and len(campaigns):
        lg = case.logins
        on = column_isin(lg["ip"], campaigns["ip"])
        if period is not None:
            on &= period.mask(lg["event_ts"])
        acct = lg["account_id"].astype(object).to_numpy()
        fail = lg["result"].to_numpy() == "FAIL"
        victim = set(acct[on & fail])
        success = set(acct[on & ~fail])
    f["campaign_victim"] = f.index.isin(list(victim))
    f["campaign_success"] = f.index.isin(list(success))
    if money is not None:
        from .money import money_features  # the money side builds on this module's Rule: imported when used

        f = f.join(money_features(money, f.index, period))
    f.attrs["period"] = period
    return f


def _signal_period(signals: pd.DataFrame) -> Period | None:
    start, end = signals.attrs.get("window_start"), signals.attrs.get("as_of")
    return Period(pd.Timestamp(start), pd.Timestamp(end)) if start is not None and end is not None else None


def evaluate_rules(rules, features: pd.DataFrame, case: Case, period: Period | float | None = None) -> pd.DataFrame:
    """Alerts, daily alerts and proxy precision/recall/lift of each rule, all over one period.

    ``period`` is the period the features were counted over (default
    ``features.attrs["period"]``); a number is taken as a length in days. An
    alert is an account matching the rule in the period, counted once, so
    ``daily_alerts = alerts / days`` with ``alerts`` and ``days`` from the same
    period; ``period_start, period_end, days`` say which. Labels are proxies:
    an account with a ``security_findings`` row, and an account with a
    chargeback or decline.
    """
    period = features.attrs.get("period") if period is None else period
    if isinstance(period, Period):
        days, start, end = period.days, period.start.strftime(_FMT), period.end.strftime(_FMT)
    elif isinstance(period, (int, float)) and period > 0:
        days, start, end = float(period), None, None
    else:
        raise InputError(f"evaluate_rules needs the period the features cover (a Period or days > 0), got {period!r}")
    findings = features.index.isin(case.security_findings["account_id"])
    bad = features.index.isin(case.bad_payments()["account_id"])
    rows = []
    for r in rules:
        m = r.matches(features)
        n = int(m.sum())
        row = {"rule": r.name, "definition": r.definition, "action": r.action, "friction": r.friction,
               "family": r.family, "alerts": n, "daily_alerts": n / days, "period_start": start,
               "period_end": end, "days": round(days, 4)}
        for label, y in (("findings", findings), ("bad_payments", bad)):
            tp = int((m & y).sum())
            base = y.mean() if len(y) else math.nan
            prec = tp / n if n else math.nan
            row[f"precision_{label}"] = prec
            row[f"recall_{label}"] = tp / y.sum() if y.sum() else math.nan
            row[f"lift_{label}"] = prec / base if n and base else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def candidate_rules(money: bool = False) -> list[Rule]:
    """The candidate grid the proposer chooses from (each family a kind of response).

    ``money`` adds the money side's candidates (transaction flags, micro-window
    spikes, exposure to known-bad), for features from :func:`account_features`
    with ``money``.
    """
    rules = []
    for fr in (0.2, 0.3, 0.5):
        for nc in (0.5, 1.0):
            rules.append(Rule(f"fails {fr:g} + new country {nc:g}", (("failed_login_rate", ">=", fr),
                                                                   ("new_country_rate", ">=", nc)),
                              "MFA step-up", "signals"))
    for hr in (0.2, 0.5):
        rules.append(Rule(f"high-risk IP share {hr:g}", (("high_risk_ip_share", ">=", hr),), "MFA step-up", "signals"))
    rules.append(Rule("TOR + fails 0.2", (("tor_login_count", ">=", 1), ("failed_login_rate", ">=", 0.2)),
                      "MFA step-up", "signals"))
    for c in (0.4, 0.5, 0.6):
        rules.append(Rule(f"composite {c:g}", (("composite", ">=", c),), "MFA step-up", "signals"))
    rules.append(Rule("risky fail then EC2 burst", (("burst_triggers", ">=", 1),), "throttle EC2 provisioning",
                      "bursts"))
    rules.append(Rule("member of a flagged ring", (("in_flagged_ring", "==", True),), "open a case", "rings"))
    rules.append(Rule("success from a campaign IP", (("campaign_success", "==", True),), "force password reset",
                      "campaigns"))
    rules.append(Rule("campaign victim", (("campaign_victim", "==", True),), "MFA step-up", "campaigns"))
    if money:
        rules += _money_rules()
    return rules


def _money_rules() -> list[Rule]:
    rules = [Rule("HIGH-risk payment", (("high_risk_payments", ">=", 1),), "hold payments for review", "transactions"),
             Rule("blocklisted payment", (("blocklisted_payments", ">=", 1),), "open a case", "blocklist"),
             Rule("rapid payments 3+", (("rapid_payments", ">=", 3),), "hold payments for review", "transactions")]
    for k in (1, 3):
        rules.append(Rule(f"micro-window spikes {k}+", (("micro_spikes", ">=", k),), "MFA step-up", "micro windows"))
    for x in (0.3, 0.6, 0.9):
        rules.append(Rule(f"exposure {x:g}", (("exposure", ">=", x),), "MFA step-up", "exposure"))
    return rules


def propose_rules(features: pd.DataFrame, case: Case, period: Period | float | None = None,
                  daily_alert_budget: float = 50, max_rules: int = 3, rules=None) -> pd.DataFrame:
    """Evaluate the candidates and select the best ``max_rules`` under the daily alert budget.

    Per family the variant with the best proxy precision (findings or bad payments,
    whichever is higher; more recall breaks ties) among those within budget is
    kept; families are then ranked by ``precision * sqrt(recall) / friction`` so a
    step-up beats a case at equal evidence. Selected rules never add up to more
    daily alerts than the budget.
    """
    if not daily_alert_budget > 0 or not math.isfinite(daily_alert_budget):
        raise InputError(f"daily_alert_budget must be positive, got {daily_alert_budget!r}")
    ev = evaluate_rules(rules or candidate_rules(), features, case, period)
    ev["precision"] = ev[["precision_findings", "precision_bad_payments"]].max(axis=1)
    ev["recall"] = ev[["recall_findings", "recall_bad_payments"]].max(axis=1)
    ev["utility"] = ev["precision"].fillna(0) * np.sqrt(ev["recall"].fillna(0)) / ev["friction"]
    ok = ev[(ev["alerts"] > 0) & (ev["daily_alerts"] <= daily_alert_budget)]
    best = (ok.sort_values(["family", "precision", "recall"], ascending=[True, False, False], kind="stable")
            .groupby("family").head(1).sort_values("utility", ascending=False, kind="stable"))
    chosen, load = [], 0.0
    for name, daily in zip(best["rule"], best["daily_alerts"]):
        if len(chosen) < max_rules and load + daily <= daily_alert_budget:
            chosen.append(name)
            load += daily
    ev["selected"] = ev["rule"].isin(chosen)
    ev = ev.sort_values(["selected", "utility"], ascending=[False, False], kind="stable").reset_index(drop=True)
    return ev[RULE_COLUMNS + ["family", "utility"]]


def selected_rules(rules: pd.DataFrame | None) -> list[Rule]:
    """The rules :func:`propose_rules` selected (its ``selected`` column), as :class:`Rule` objects."""
    if rules is None or not len(rules):
        return []
    chosen = set(rules.loc[rules["selected"], "rule"])
    return [r for r in candidate_rules(money=True) if r.name in chosen]
