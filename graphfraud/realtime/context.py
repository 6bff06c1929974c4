"""The graph's context for real-time scoring: rings, their infrastructure, campaign IPs, exposure, IP reputation.

Read from an analysis, in memory (an :class:`~graphfraud.AnalysisResult`) or
from its output folder, so a scorer started next week knows this week's rings.
Every lookup is a dict or an array index: no graph query per event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..case import Case
from ..errors import InputError

__all__ = ["GraphContext", "context_from_result", "read_analysis"]


@dataclass(eq=False)
class GraphContext:
    """Lookups by account, IP and device; ``features`` are the analysis's account features (by account id).

    ``features`` columns become rule features by name (numbers and true/false),
    so ``analyze``'s ``rules.json`` runs as it is.
    """

    ring_of: dict = field(default_factory=dict)          # account -> ring id
    ring_flagged: dict = field(default_factory=dict)     # ring id -> flagged
    ring_verdict: dict = field(default_factory=dict)     # ring id -> verdict
    flagged_ips: dict = field(default_factory=dict)      # ip -> ring id
    flagged_devices: dict = field(default_factory=dict)  # device -> ring id
    campaign_ips: frozenset = frozenset()
    exposure: dict = field(default_factory=dict)         # account -> exposure
    ip_risk: dict = field(default_factory=dict)          # ip -> (risk 0-100, tor)
    features: pd.DataFrame | None = None
    as_of: pd.Timestamp | None = None
    source: str = ""

    def feature_kinds(self) -> dict[str, str]:
        """The analysis features usable in rules: ``number`` or ``bool`` by column."""
        if self.features is None:
            return {}
        kinds = {}
        for c in self.features.columns:
            dt = self.features[c].dtype
            if pd.api.types.is_bool_dtype(dt):
                kinds[c] = "bool"
            elif pd.api.types.is_numeric_dtype(dt):
                kinds[c] = "number"
        return kinds

    def describe(self) -> dict:
        return {"rings": len(self.ring_flagged), "flagged_rings": int(sum(self.ring_flagged.values())),
                "flagged_ips": len(self.flagged_ips), "flagged_devices": len(self.flagged_devices),
                "campaign_ips": len(self.campaign_ips), "exposed_accounts": len(self.exposure),
                "as_of": None if self.as_of is None else str(self.as_of), "source": self.source}


def _split(values) -> list[str]:
    out = []
    for v in values:
        if isinstance(v, str) and v:
            out += [x for x in v.split(";") if x]
    return out


def build_context(case: Case | None, members: pd.DataFrame, summary: pd.DataFrame, campaigns: pd.DataFrame,
                  exposure: pd.DataFrame | None, features: pd.DataFrame | None, as_of, source: str) -> GraphContext:
    """The lookups from the analysis's frames (what both readers below share)."""
    ctx = GraphContext(as_of=None if as_of is None else pd.Timestamp(as_of), source=source)
    if len(members):
        ctx.ring_of = dict(zip(members["account_id"].astype(str), members["ring_id"].astype(str)))
    if len(summary):
        flagged = summary["flagged"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
        ctx.ring_flagged = dict(zip(summary["ring_id"].astype(str), flagged.tolist()))
        ctx.ring_verdict = dict(zip(summary["ring_id"].astype(str), summary["verdict"].astype(str)))
        for rid, ips, devs in zip(summary["ring_id"][flagged], summary["shared_ips"][flagged],
                                  summary["shared_devices"][flagged]):
            for ip in _split([ips]):
                ctx.flagged_ips.setdefault(ip, str(rid))
            for dev in _split([devs]):
                ctx.flagged_devices.setdefault(dev, str(rid))
    if campaigns is not None and len(campaigns):
        ctx.campaign_ips = frozenset(campaigns["ip"].astype(str))
    if exposure is not None and len(exposure):
        e = exposure[exposure["exposure"] > 0]
        ctx.exposure = dict(zip(e["account_id"].astype(str), e["exposure"].astype(float)))
    if case is not None:
        ctx.ip_risk = ip_reputation_lookup(case)
    if features is not None:
        f = features.copy()
        f.index = f.index.astype(str)
        ctx.features = _bool_columns(f)
    return ctx


def ip_reputation_lookup(case: Case) -> dict:
    """ip -> (risk 0-100, TOR) from the case's ``ip_reputation``."""
    ipr = case.ip_reputation
    if not len(ipr):
        return {}
    tor = ipr["is_tor"].fillna(0).astype(bool) if "is_tor" in ipr else pd.Series(False, index=ipr.index)
    return dict(zip(ipr["ip"].astype(str), zip(ipr["risk_score"].astype(float), tor.tolist())))


def context_from_result(result) -> GraphContext:
    """The context of an in-memory :class:`~graphfraud.AnalysisResult`."""
    rings = result.rings
    exposure = result.money.exposure if result.money is not None else None
    return build_context(result.case, rings.rings, rings.summary, rings.campaigns, exposure, result.features,
                         result.periods.analysis.end, "analysis in memory")


def read_analysis(out_dir: str | Path) -> dict:
    """The frames an ``analyze`` output folder holds for scoring, and its manifest.

    Raises
    ------
    InputError
        the folder is not a finished ``analyze`` output (no ``manifest.json``) or lacks a needed file.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(f"analysis folder {str(out)!r} does not exist; run 'graphfraud analyze --out {out}' first")
    man = out / "manifest.json"
    if not man.is_file():
        raise InputError(f"{str(out)!r} is not an analyze output folder (no manifest.json); run "
                         f"'graphfraud analyze --out {out}' first")
    manifest = json.loads(man.read_text(encoding="utf-8"))
    need = ["rings.csv", "ring_summary.csv", "campaigns.csv", "account_signals.csv"]
    missing = [n for n in need if not (out / n).is_file()]
    if missing:
        raise InputError(f"analysis folder {str(out)!r} lacks {missing}; re-run analyze into it")

    def csv(name, **kw):
        p = out / name
        return pd.read_csv(p, keep_default_na=True, **kw) if p.is_file() else None

    features = csv("account_features.csv", dtype={"account_id": str})
    if features is not None:
        features = features.set_index("account_id")
    return {"manifest": manifest, "members": csv("rings.csv", dtype=str), "summary": csv("ring_summary.csv"),
            "campaigns": csv("campaigns.csv", dtype={"ip": str}), "exposure": csv("exposure.csv",
                                                                                   dtype={"account_id": str}),
            "signals": csv("account_signals.csv", dtype={"account_id": str}), "features": features,
            "rules": out / "rules.json" if (out / "rules.json").is_file() else None}


def _bool_columns(f: pd.DataFrame) -> pd.DataFrame:
    for c in f.columns:
        if f[c].dtype == object and set(f[c].dropna().unique()) <= {"True", "False", True, False}:
            f[c] = f[c].map({"True": True, "False": False, True: True, False: False}).fillna(False).astype(bool)
    return f


def features_array(ctx: GraphContext, account_ids: pd.Index) -> dict[str, np.ndarray]:
    """The analysis features as arrays aligned to profile rows (NaN / False where an account has none)."""
    if ctx.features is None:
        return {}
    f = ctx.features.reindex(account_ids)
    out = {}
    for c, kind in ctx.feature_kinds().items():
        col = f[c]
        out[c] = (col.fillna(False).to_numpy(dtype=bool) if kind == "bool"
                  else col.to_numpy(dtype=np.float64, na_value=np.nan))
    return out
