"""Shared-infrastructure scoring: how surprising is it that two accounts use the same IPs and devices *together*?

Sharing alone is weak evidence (households share an IP, carriers put hundreds of
honest accounts behind one NAT). What one actor running several accounts leaves
behind is *co-activity*: the accounts log in through the same infrastructure
within minutes of each other, again and again. The null model asks how much
co-activity two accounts would show by chance given how often each of them used
the infrastructure they share and when people log in at all; see
``docs/rings.md`` for the derivation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError

__all__ = ["pair_evidence", "chance_coactivity", "hub_entities", "PAIR_COLUMNS"]

PAIR_COLUMNS = ["account_a", "account_b", "shared_ips", "shared_devices", "shared_entities", "min_entity_accounts",
                "active_bins_a", "active_bins_b", "coactive", "expected", "coactive_days", "first_bin", "last_bin",
                "pvalue"]


def chance_coactivity(activity: pd.DataFrame, tolerance_bins: int = 1) -> float:
    """Probability that two logins drawn independently from the case's own timing fall within ``tolerance_bins``.

    Using the empirical distribution of login bins (not a uniform one) makes the
    null model expect the extra coincidences that office hours and evenings create.

    Examples
    --------
    >>> act = pd.DataFrame({"account_id": ["a", "b"], "bin": [0, 10]})
    >>> chance_coactivity(act, tolerance_bins=0)
    0.5
    """
    per_bin = activity.drop_duplicates(["account_id", "bin"])["bin"].value_counts()
    if per_bin.empty:
        return 0.0
    lo, hi = int(per_bin.index.min()), int(per_bin.index.max())
    p = np.zeros(hi - lo + 1 + 2 * tolerance_bins)
    p[per_bin.index.to_numpy() - lo + tolerance_bins] = per_bin.to_numpy() / per_bin.sum()
    near = np.convolve(p, np.ones(2 * tolerance_bins + 1), mode="same")
    return float(min(1.0, (p * near).sum()))


def pair_evidence(activity: pd.DataFrame, max_entity_accounts: int = 100, tolerance_bins: int = 1,
                  bins_per_day: int | None = None) -> pd.DataFrame:
    """Score every pair of accounts that share an IP or device used by at most ``max_entity_accounts`` accounts.

    Parameters
    ----------
    activity
        ``account_id, entity, entity_type, bin`` as from :func:`graphfraud.graph.activity.entity_activity`.
    max_entity_accounts
        entities used by more accounts are hubs (carrier NAT, popular VPN exits):
        reported in ``attrs["hubs"]``, never pair evidence. A ring is far smaller.
    tolerance_bins
        logins in bins at most this far apart are co-active.
    bins_per_day
        to count co-active days; default from ``activity.attrs["coactivity_minutes"]``.

    Returns
    -------
    DataFrame
        one row per candidate pair (``account_a < account_b``): shared entity counts
        and names, ``active_bins_a/b`` (bins each was active on the shared
        entities), ``coactive`` (pairs of their bins within tolerance),
        ``expected`` (the same under the null), ``coactive_days`` and a Poisson
        ``pvalue`` of seeing at least ``coactive``. ``attrs`` holds ``q`` (chance
        co-activity of two logins) and ``candidates``; the hubs left out are
        :func:`hub_entities`.
    """
    if max_entity_accounts < 2:
        raise InputError(f"max_entity_accounts must be at least 2, got {max_entity_accounts}")
    minutes = activity.attrs.get("coactivity_minutes", 30)
    bins_per_day = bins_per_day or max(1, int(round(1440 / minutes)))
    q = chance_coactivity(activity, tolerance_bins)

    members = activity[["entity", "entity_type", "account_id"]].drop_duplicates()
    popularity = members.groupby("entity").size()
    eligible = popularity[(popularity >= 2) & (popularity <= max_entity_accounts)].index
    m = members[members["entity"].isin(eligible)]
    act = activity[activity["entity"].isin(eligible)][["entity", "account_id", "bin"]]

    # candidate pairs and the entities each pair shares
    pe = m.merge(m[["entity", "account_id"]], on="entity", suffixes=("_a", "_b"))
    pe = pe[pe["account_id_a"] < pe["account_id_b"]].rename(columns={"account_id_a": "a", "account_id_b": "b"})
    if pe.empty:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in PAIR_COLUMNS})
        out.attrs.update(q=q, candidates=0)
        return out
    pe["entity_accounts"] = popularity.reindex(pe["entity"]).to_numpy()

    # co-activity: bins of a and b on the same shared entity within the tolerance
    left = act.rename(columns={"account_id": "a", "bin": "bin_a"})
    right = act.rename(columns={"account_id": "b", "bin": "bin_b"})
    hits = []
    for d in range(-tolerance_bins, tolerance_bins + 1):
        shifted = right.assign(bin_a=right["bin_b"] - d)
        h = left.merge(shifted, on=["entity", "bin_a"])
        hits.append(h[h["a"] < h["b"]][["a", "b", "bin_a", "bin_b"]])
    co = pd.concat(hits, ignore_index=True).drop_duplicates()
    co["day"] = np.minimum(co["bin_a"], co["bin_b"]) // bins_per_day
    co_stats = co.groupby(["a", "b"]).agg(coactive=("bin_a", "size"), coactive_days=("day", "nunique"),
                                         first_bin=("bin_a", "min"), last_bin=("bin_a", "max"))

    # how often each side was active on the entities the pair shares
    shared = pe[["a", "b", "entity"]]
    bins_a = shared.merge(act.rename(columns={"account_id": "a"}), on=["a", "entity"])
    bins_b = shared.merge(act.rename(columns={"account_id": "b"}), on=["b", "entity"])
    n_a = bins_a.drop_duplicates(["a", "b", "bin"]).groupby(["a", "b"]).size()
    n_b = bins_b.drop_duplicates(["a", "b", "bin"]).groupby(["a", "b"]).size()

    pe = pe.assign(is_ip=pe["entity_type"] == "ip", is_device=pe["entity_type"] == "device")
    g = pe.sort_values("entity", kind="stable").groupby(["a", "b"])
    out = pd.DataFrame({
        "shared_ips": g["is_ip"].sum().astype(np.int64),
        "shared_devices": g["is_device"].sum().astype(np.int64),
        "shared_entities": g["entity"].agg(";".join),
        "min_entity_accounts": g["entity_accounts"].min(),
    })
    out["active_bins_a"] = n_a.reindex(out.index, fill_value=0)
    out["active_bins_b"] = n_b.reindex(out.index, fill_value=0)
    out = out.join(co_stats, how="left")
    out[["coactive", "coactive_days"]] = out[["coactive", "coactive_days"]].fillna(0).astype(np.int64)
    out["expected"] = out["active_bins_a"] * out["active_bins_b"] * q
    out["pvalue"] = np.where(out["coactive"] > 0, stats.poisson.sf(out["coactive"] - 1, out["expected"]), 1.0)
    out = out.reset_index().rename(columns={"a": "account_a", "b": "account_b"})
    out = out.sort_values(["account_a", "account_b"], kind="stable").reset_index(drop=True)[PAIR_COLUMNS]
    out.attrs.update(q=q, candidates=len(out))
    return out


def hub_entities(activity: pd.DataFrame, max_entity_accounts: int = 100) -> pd.DataFrame:
    """IPs and devices used by more than ``max_entity_accounts`` accounts (``entity, accounts, entity_type``)."""
    popularity = activity.drop_duplicates(["entity", "account_id"]).groupby("entity").size()
    hubs = popularity[popularity > max_entity_accounts]
    df = hubs.rename("accounts").rename_axis("entity").reset_index()
    df["entity_type"] = df["entity"].str.split(":", n=1).str[0]
    return df.sort_values(["accounts", "entity"], ascending=[False, True], kind="stable").reset_index(drop=True)
