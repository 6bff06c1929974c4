"""Rulesets for real-time scoring: rules as data over event features, points, thresholds and the execution mode.

A ruleset is a list of :class:`~graphfraud.act.rules.Rule` (the same format
``analyze`` writes to ``rules.json``) plus how matches become a decision:

- ``mode="all"``: the score is the sum of the points of every matched rule;
  ``mode="first"``: the points of the first matched rule, in file order.
- the score is capped at ``cap`` (100); ``score >= block`` (80) is BLOCK,
  ``score >= review`` (50) REVIEW, else APPROVE.
- a rule's ``points`` default to its action's (:data:`ACTION_POINTS`), so the
  proposer's rules, which carry none, send a matching event at least to REVIEW.

Files are JSON or YAML: a bare list of rules (``rules.json`` loads as is) or an
object ``{"name", "mode", "block", "review", "cap", "rules"}``. Nothing in a file
is evaluated as code: a condition is a feature name, one of
``>= > <= < == !=`` and a constant, checked against :data:`FEATURES` on load.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..act.rules import _OPS, Rule, _yaml
from ..act.output import atomic_write_bytes
from ..detect.micro import METRICS
from ..errors import InputError

__all__ = ["Ruleset", "FEATURES", "ACTION_POINTS", "default_ruleset", "graph_rules", "load_ruleset",
           "feature_kind"]

#: points of a rule that gives none, by its action
ACTION_POINTS = {"MFA step-up": 50, "open a case": 50, "hold payments for review": 50,
                 "throttle EC2 provisioning": 50, "force password reset": 80, "decline payment": 80,
                 "suspend account": 100}

#: event feature -> (kind, plain words); every event gets every one (NaN / False / None where it does not apply)
FEATURES: dict[str, tuple[str, str]] = {
    "amount": ("number", "amount in the event's currency"),
    "amount_usd": ("number", "amount in USD"),
    "avg_amount_30d": ("number", "the account's mean payment in USD over the 30 days before"),
    "payment_count_30d": ("number", "the account's payments in the 30 days before"),
    "amount_to_avg_30d": ("number", "amount / 30-day mean"),
    "account_age_days": ("number", "account age in days"),
    "new_customer": ("bool", "account never seen before"),
    "device_changed": ("bool", "device differs from the account's last payment device"),
    "country_changed": ("bool", "country differs from the account's last payment country"),
    "risk_level": ("text", "customer risk level"),
    "is_payment": ("bool", "the event is a payment"),
    "in_flagged_ring": ("bool", "account is a member of a flagged ring"),
    "ring_member": ("bool", "account is a member of a ring (flagged or not)"),
    "ip_in_flagged_ring": ("bool", "IP is shared infrastructure of a flagged ring"),
    "device_in_flagged_ring": ("bool", "device is shared infrastructure of a flagged ring"),
    "campaign_ip": ("bool", "IP ran a credential-stuffing campaign"),
    "exposure": ("number", "exposure to known-bad accounts (0-1)"),
    "ip_risk": ("number", "IP risk score (0-100)"),
    "ip_tor": ("bool", "IP is a TOR exit"),
    "ip_spike_now": ("bool", "an IP micro-window is spiking at this event"),
    "device_spike_now": ("bool", "a device micro-window is spiking at this event"),
    "account_spike_now": ("bool", "an account micro-window is spiking at this event"),
    "spike_now": ("bool", "any micro-window is spiking at this event"),
}
for _m in METRICS:
    FEATURES[_m.name] = ("number", f"{_m.name.replace('_', ' ')} (live micro window)")
    FEATURES[_m.name + "_spike"] = ("bool", f"{_m.name.replace('_', ' ')} is spiking")


def feature_kind(name: str, extra: dict | None = None) -> str | None:
    """``number``, ``bool`` or ``text`` for a known feature (``extra``: the analysis's account features)."""
    if name in FEATURES:
        return FEATURES[name][0]
    return (extra or {}).get(name)


@dataclass(frozen=True)
class Ruleset:
    """Rules plus how their matches become a score and a decision.

    Examples
    --------
    >>> rs = default_ruleset()
    >>> [r.points for r in rs.rules]
    [80, 60, 40, 40, 30, 50]
    >>> rs.decision(rs.score([80, 60])), rs.decision(50), rs.decision(49.9)
    ('BLOCK', 'REVIEW', 'APPROVE')
    >>> Ruleset.from_dict(rs.to_dict()).version == rs.version
    True
    """

    rules: tuple[Rule, ...]
    mode: str = "all"
    block: float = 80
    review: float = 50
    cap: float = 100
    name: str = "custom"
    points: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "rules", tuple(self.rules))
        problems = []
        if self.mode not in ("all", "first"):
            problems.append(f"mode must be 'all' (sum of matched rules) or 'first' (first matched), got {self.mode!r}")
        nums = {k: getattr(self, k) for k in ("block", "review", "cap")}
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in nums.values()):
            problems.append(f"block, review and cap must be numbers, got {nums}")
        elif not 0 < self.review <= self.block <= self.cap:
            problems.append(f"thresholds must satisfy 0 < review <= block <= cap, got review={self.review}, "
                            f"block={self.block}, cap={self.cap}")
        names = [r.name for r in self.rules]
        if len(set(names)) < len(names):
            problems.append(f"rule names repeat: {sorted({n for n in names if names.count(n) > 1})}")
        if problems:
            raise InputError(f"ruleset {self.name!r}: " + "; ".join(problems))
        object.__setattr__(self, "points", tuple(float(r.points if r.points is not None else ACTION_POINTS[r.action])
                                                 for r in self.rules))

    @property
    def version(self) -> str:
        """``name@`` and 12 hex digits of the sha256 of the ruleset's content: any change gives a new version."""
        body = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return f"{self.name}@{hashlib.sha256(body).hexdigest()[:12]}"

    def score(self, matched_points) -> float:
        """The capped score of the matched rules' points (in rule order)."""
        pts = list(matched_points)
        if not pts:
            return 0.0
        total = sum(pts) if self.mode == "all" else pts[0]
        return float(min(total, self.cap))

    def decision(self, score: float) -> str:
        return "BLOCK" if score >= self.block else "REVIEW" if score >= self.review else "APPROVE"

    def check(self, extra: dict | None = None) -> None:
        """Every condition names a known feature and compares it with a constant of its kind, or InputError."""
        problems = []
        for r in self.rules:
            for f, op, v in r.when:
                kind = feature_kind(f, extra)
                if kind is None:
                    problems.append(f"rule {r.name!r}: unknown feature {f!r}")
                elif kind == "number" and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    problems.append(f"rule {r.name!r}: {f} is a number; compare it with a number, not {v!r}")
                elif kind == "bool" and not (op in ("==", "!=") and (isinstance(v, bool) or v in (0, 1))):
                    problems.append(f"rule {r.name!r}: {f} is true/false; use == or != with true or false, "
                                    f"not {op} {v!r}")
                elif kind == "text" and not (op in ("==", "!=") and isinstance(v, str)):
                    problems.append(f"rule {r.name!r}: {f} is text; use == or != with a quoted value, not {op} {v!r}")
        if problems:
            known = sorted(set(FEATURES) | set(extra or {}))
            raise InputError(f"ruleset {self.name!r}: " + "; ".join(problems) + f". Features: {', '.join(known)}")

    def to_dict(self) -> dict:
        return {"name": self.name, "mode": self.mode, "block": self.block, "review": self.review, "cap": self.cap,
                "rules": [r.to_dict() for r in self.rules]}

    @classmethod
    def from_dict(cls, data, name: str = "custom") -> Ruleset:
        """A bare list of rules (``rules.json``) or an object with ``rules`` and the settings."""
        if isinstance(data, list):
            return cls(tuple(Rule.from_dict(d) for d in data), name=name)
        if not isinstance(data, dict) or "rules" not in data:
            raise InputError("a ruleset is a list of rules or an object with 'rules' (and optionally name, mode, "
                             f"block, review, cap), got {type(data).__name__}")
        unknown = set(data) - {"name", "mode", "block", "review", "cap", "rules"}
        if unknown:
            raise InputError(f"ruleset: unknown key(s) {sorted(unknown)}; expected name, mode, block, review, cap, "
                             "rules")
        if not isinstance(data["rules"], list):
            raise InputError(f"ruleset: 'rules' must be a list, got {type(data['rules']).__name__}")
        return cls(tuple(Rule.from_dict(d) for d in data["rules"]), mode=data.get("mode", "all"),
                   block=data.get("block", 80), review=data.get("review", 50), cap=data.get("cap", 100),
                   name=str(data.get("name", name)))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        text = (_yaml().safe_dump(self.to_dict(), sort_keys=False) if path.suffix in (".yaml", ".yml")
                else json.dumps(self.to_dict(), indent=2) + "\n")
        return atomic_write_bytes(path, text.encode("utf-8"))

    def with_rules(self, extra_rules, name: str | None = None) -> Ruleset:
        return replace(self, rules=self.rules + tuple(extra_rules), name=name or self.name)


def load_ruleset(path: str | Path) -> Ruleset:
    """Read a ruleset file (JSON, or YAML by suffix); its name defaults to the file's stem.

    Raises
    ------
    InputError
        the file is missing or not JSON/YAML, or a rule is malformed (named).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"rules file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = _yaml().safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except ValueError as exc:
        raise InputError(f"rules file {str(path)!r} is not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'}"
                         f": {exc}") from None
    except Exception as exc:  # yaml.YAMLError is not a ValueError
        raise InputError(f"rules file {str(path)!r} is not valid YAML: {exc}") from None
    return Ruleset.from_dict(data, name=path.stem)


def default_ruleset() -> Ruleset:
    """The six common transaction rules (the documented default; points in parentheses).

    amount > 5x the account's 30-day mean (80), amount > 5,000 USD (60), account
    younger than 7 days (40), device differs from the last one (40), more than 50
    payments in 30 days (30), high-risk customer (50), each on payments only. All
    matched rules add up, capped at 100; >= 80 BLOCK, >= 50 REVIEW.
    """
    pay = ("is_payment", "==", True)  # transaction rules: a login is judged by the graph-aware rules only
    rules = (
        Rule("amount over 5x the 30-day mean", (("amount_to_avg_30d", ">", 5), pay), "decline payment",
             "transactions", 80),
        Rule("amount over 5,000", (("amount_usd", ">", 5000), pay), "hold payments for review", "transactions", 60),
        Rule("account younger than 7 days", (("account_age_days", "<", 7), pay), "hold payments for review",
             "profile", 40),
        Rule("device differs from the last one", (("device_changed", "==", True), pay), "MFA step-up", "profile",
             40),
        Rule("more than 50 payments in 30 days", (("payment_count_30d", ">", 50), pay), "hold payments for review",
             "transactions", 30),
        Rule("high-risk customer", (("risk_level", "==", "HIGH"), pay), "hold payments for review", "profile", 50),
    )
    return Ruleset(rules, name="default")


def graph_rules() -> tuple[Rule, ...]:
    """The graph-aware rules: ring membership and infrastructure, campaign IPs, exposure, a spike now."""
    return (
        Rule("member of a flagged ring", (("in_flagged_ring", "==", True),), "open a case", "rings", 50),
        Rule("IP of a flagged ring", (("ip_in_flagged_ring", "==", True),), "open a case", "rings", 40),
        Rule("device of a flagged ring", (("device_in_flagged_ring", "==", True),), "open a case", "rings", 40),
        Rule("credential-stuffing campaign IP", (("campaign_ip", "==", True),), "MFA step-up", "campaigns", 40),
        Rule("exposure to known-bad 0.5+", (("exposure", ">=", 0.5),), "MFA step-up", "exposure", 30),
        Rule("IP spike now", (("ip_spike_now", "==", True),), "MFA step-up", "micro windows", 30),
    )


def _compile(ruleset: Ruleset) -> list[tuple[str, float, tuple]]:
    """(name, points, ((feature, op function, value), ...)) per rule, for the per-event loop."""
    return [(r.name, p, tuple((f, _OPS[op], v) for f, op, v in r.when)) for r, p in zip(ruleset.rules, ruleset.points)]
