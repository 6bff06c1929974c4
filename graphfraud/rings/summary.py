"""Ring summaries: the ring-level tests, the explainable score, the verdict and the evidence in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..case.arrays import codes as column_codes, column_values, run_starts, text_index, text_isin, window_mask
from .pairs import TIME_SCALES
from .sharing import MAIN_SHARE, main_entity

__all__ = ["ring_summaries", "SUMMARY_COLUMNS", "SCORE_WEIGHTS", "VERDICTS", "ring_tests"]

SUMMARY_COLUMNS = ["ring_id", "size", "verdict", "score", "pvalue", "flagged", "evidence_kind", "shared_ips",
                   "shared_devices", "countries", "members_with_bursts", "members_with_findings",
                   "members_with_bad_payments", "first_seen", "last_seen", "top_evidence", "verdict_reason"]

#: what a tested group is: only "fraud ring" is flagged and gets a case folder
VERDICTS = ("fraud ring", "common control, likely benign", "not significant")

SCORE_WEIGHTS = {
    "coordination": 0.35,   # the ring-level evidence beyond chance
    "specificity": 0.15,    # shared entities used by (almost) nobody outside the ring
    "infrastructure_risk": 0.15,  # risk score / TOR of the shared IPs
    "member_signals": 0.10,  # mean composite of the members
    "bursts": 0.10,         # share of members with a risky-fail -> EC2 burst
    "findings": 0.05,       # share of members with a security finding
    "bad_payments": 0.10,   # share of members with a chargeback or decline
}

#: a group under common control is "likely benign" when at least this share of members is enterprise and uses MFA
BENIGN_ENTERPRISE_SHARE = 0.5
BENIGN_MFA_SHARE = 0.5


def ring_tests(pairs: pd.DataFrame, ring_code: np.ndarray, n_rings: int, sharing, scales=TIME_SCALES) -> pd.DataFrame:
    """The ring-level tests, one row per ring (index = ring number); see ``docs/rings.md``.

    Timing (``p_timing``), per time scale and for hub spikes: the *pooled* test (sum of
    observed vs sum of expected over member pairs) and the *density* test (Fisher's
    combination of that scale's p-values over all member pairs, a pair with no evidence
    counting as p = 1, each pair's p-value multiplied by ``n(n-1) / k(k-1)`` for a group of ``k`` that met
    on an entity of ``n`` accounts), the larger of the two; the best scale or hub, times their number.
    A group Louvain assembled from a few chance edges can pass the pooled test but is
    sparse and fails the density test; a real ring passes both.

    Sharing (``p_sharing``): for each :class:`~graphfraud.rings.sharing.SharingTest`,
    ``r ** (K - 1)`` for the most members ``K`` sharing one device; the best times their number.

    ``p_ring``: the smaller of Fisher's combination of the two families (independent under the
    null: one is about when accounts used what they share, the other about how many share it)
    and the better family alone (times 2), times 2 for taking the smaller.
    """
    ra, rb = ring_code[pairs["a"].to_numpy()], ring_code[pairs["b"].to_numpy()]
    inside = pairs[(ra >= 0) & (ra == rb)]
    r = ring_code[inside["a"].to_numpy()]
    size = np.bincount(ring_code[ring_code >= 0], minlength=n_rings)
    df = np.maximum(size * (size - 1), 2)  # 2 degrees of freedom per member pair

    def dense(pv):
        return stats.chi2.sf(np.bincount(r, weights=-2 * np.log(np.clip(pv, 1e-300, 1.0)), minlength=n_rings), df)

    out = pd.DataFrame(index=pd.RangeIndex(n_rings))
    # A pair met on an entity used by n accounts, in a group of k: the group could have been picked from
    # n(n-1)/2 pairs there, only k(k-1)/2 of them its own. On a ring's own proxy n = k and nothing changes;
    # on a busy 80-account mobile IP, five accounts that met there by chance no longer look dense.
    n_e = inside["min_entity_accounts"].to_numpy(dtype=float)
    k = size[r].astype(float)
    crowd = np.maximum(1.0, n_e * (n_e - 1) / np.maximum(k * (k - 1), 2))
    timing = {}
    for name in scales:
        obs = np.bincount(r, weights=inside[f"coactive_{name}"], minlength=n_rings)
        exp = np.bincount(r, weights=inside[f"expected_{name}"], minlength=n_rings)
        out[f"coactive_{name}"], out[f"expected_{name}"] = obs.astype(np.int64), exp
        pooled = np.where(obs > 0, stats.poisson.sf(obs - 1, exp), 1.0)
        pooled[size == 2] = 0.0  # a single pair: its own test (the density test) is the whole story
        timing[name] = np.maximum(pooled, dense(np.minimum(1.0, inside[f"pvalue_{name}"].to_numpy() * crowd)))
    c_hub, mu_hub = inside["coactive_hub"].to_numpy(), inside["expected_hub"].to_numpy()
    seen = c_hub > 0
    excess = np.bincount(r[seen], weights=c_hub[seen] - 1, minlength=n_rings)
    mu_ex = np.bincount(r[seen], weights=mu_hub[seen] / -np.expm1(-np.maximum(mu_hub[seen], 1e-300)) - 1,
                        minlength=n_rings)
    out["coactive_hub"], out["expected_hub"] = excess.astype(np.int64), mu_ex
    timing["hub"] = np.maximum(np.where(excess > 0, stats.poisson.sf(excess - 1, mu_ex), 1.0),
                               dense(inside["pvalue_hub"].to_numpy()))
    for name, pv in timing.items():
        out[f"p_{name}"] = pv
    t_all = np.vstack(list(timing.values()))
    out["best_timing"] = np.array(list(timing))[t_all.argmin(axis=0)]
    out["p_timing"] = np.minimum(1.0, t_all.min(axis=0) * len(timing))
    out["coactive_days"] = (inside.groupby(r)["coactive_days"].max().reindex(out.index, fill_value=0)
                            .astype(np.int64))
    shares = []
    for test in sharing:
        rows = test.rows[test.rows["k"] >= 2]
        rows = rows[ring_code[rows["account"].to_numpy()] >= 0]
        per = rows.assign(ring=ring_code[rows["account"].to_numpy()]).groupby(["ring", "thing"]).size()
        top = per.sort_values(ascending=False, kind="stable").reset_index(name="k").drop_duplicates("ring")
        top = top.set_index("ring")
        k = top["k"].reindex(out.index, fill_value=0).to_numpy(dtype=np.int64)
        out[f"{test.name}_members"] = k
        out[f"{test.name}_thing"] = top["thing"].reindex(out.index, fill_value=-1).to_numpy(dtype=np.int64)
        out[f"p_{test.name}"] = np.where(k >= 2, test.r ** (k - 1.0), 1.0)
        shares.append(out[f"p_{test.name}"].to_numpy())
    s_all = np.vstack(shares) if shares else np.ones((1, n_rings))
    out["best_sharing"] = (np.array([t.name for t in sharing])[s_all.argmin(axis=0)] if shares
                           else np.full(n_rings, ""))
    out["p_sharing"] = np.minimum(1.0, s_all.min(axis=0) * max(1, len(shares)))
    fisher = -2 * (np.log(np.clip(out["p_timing"], 1e-300, 1)) + np.log(np.clip(out["p_sharing"], 1e-300, 1)))
    # Fisher when both families speak, the better family alone when one is silent: both, times 2
    best_one = 2 * np.minimum(out["p_timing"], out["p_sharing"])
    out["p_ring"] = np.minimum(1.0, 2 * np.minimum(stats.chi2.sf(fisher, 4), best_one))
    return out


def ring_summaries(case, rings, pairs, activity, sharing, threshold, params, signals, bursts) -> pd.DataFrame:
    if rings.empty:
        cols = SUMMARY_COLUMNS + ["significant_pairs", "coactive_days"] + [f"c_{k}" for k in SCORE_WEIGHTS]
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    ring_ids = np.array(sorted(rings["ring_id"].unique()), dtype=object)
    ring_code = np.full(activity.n_accounts, -1, dtype=np.int64)
    ring_code[activity.account_codes(rings["account_id"])] = np.searchsorted(ring_ids, rings["ring_id"])
    tests = ring_tests(pairs, ring_code, len(ring_ids), sharing)
    share_days = {t.name: _thing_days(activity, ring_code, tests[f"{t.name}_thing"].to_numpy(), t.name)
                  for t in sharing}

    # entities used by 2+ members of the same ring
    member_rows = ring_code[activity.account] >= 0
    rr, ee = ring_code[activity.account[member_rows]], activity.entity[member_rows].astype(np.int64)
    n_ent, n_acc = np.int64(activity.n_entities), np.int64(activity.n_accounts)
    triples = np.unique((rr * n_ent + ee) * n_acc + activity.account[member_rows])
    re, members = np.unique(triples // n_acc, return_counts=True)
    keep = members >= 2
    pop = activity.popularity()
    shared = pd.DataFrame({"ring": re[keep] // activity.n_entities, "entity_code": re[keep] % activity.n_entities,
                           "members": members[keep]})
    shared["entity"] = activity.entities[shared["entity_code"].to_numpy()]
    shared["entity_accounts"] = pop[shared["entity_code"].to_numpy()]
    shared["type"] = shared["entity"].str.split(":", n=1).str[0]
    shared["value"] = shared["entity"].str.split(":", n=1).str[1]
    rep = case.ip_reputation.set_index("ip")
    is_ip = (shared["type"] == "ip").to_numpy()
    shared["risk"] = np.where(is_ip, rep["risk_score"].reindex(shared["value"]).to_numpy(dtype=float), np.nan)
    shared["tor"] = np.where(is_ip, rep["is_tor"].reindex(shared["value"]).fillna(False).to_numpy(dtype=bool), False)

    member_logins = _member_logins(case, rings, params)
    # countries of the members' logins on the ring's shared IPs or devices (a device farm shares no IP)
    countries = pd.concat([
        member_logins.merge(shared.loc[shared["type"] == kind, ["ring", "value"]].rename(columns={"value": kind}),
                            on=["ring", kind])[["ring", "country"]] for kind in ("ip", "device")], ignore_index=True)
    seen = _shared_login_times(member_logins, shared)
    mfa = member_logins.groupby("ring")["mfa"].mean().reindex(range(len(ring_ids)), fill_value=0.0).to_numpy()

    # per-member facts as arrays over account codes, summed per ring in one pass
    members = rings.sort_values(["ring_id", "account_id"], kind="stable")
    codes = activity.account_codes(members["account_id"])
    ring_of_member = np.searchsorted(ring_ids, members["account_id"].map(rings.set_index("account_id")["ring_id"]))
    ids = activity.accounts

    def per_ring(flags: np.ndarray) -> np.ndarray:
        return np.bincount(ring_of_member, weights=flags[codes], minlength=len(ring_ids))

    def flag_of(accounts) -> np.ndarray:
        return text_isin(ids, accounts).astype(float)

    n_members = np.bincount(ring_of_member, minlength=len(ring_ids))
    n_bursts = per_ring(flag_of(bursts["account_id"] if bursts is not None else []))
    n_find = per_ring(flag_of(case.security_findings["account_id"]))
    n_bad = per_ring(flag_of(case.bad_payments()["account_id"]))
    composite = (signals.set_index("account_id")["composite"] if signals is not None else pd.Series(dtype=float))
    composite = composite[~composite.index.duplicated()].reindex(ids).fillna(0).to_numpy(dtype=float)
    enterprise = _enterprise(case).reindex(ids).fillna(0).to_numpy(dtype=float)
    mean_composite, ent_share = per_ring(composite) / n_members, per_ring(enterprise) / n_members
    home, own_device = _household_traits(activity)
    h = home[codes]
    lo, hi = np.full(len(ring_ids), np.iinfo(np.int64).max), np.full(len(ring_ids), np.iinfo(np.int64).min)
    np.minimum.at(lo, ring_of_member, h)
    np.maximum.at(hi, ring_of_member, h)
    household = (lo >= 0) & (lo == hi) & (per_ring(own_device.astype(float)) == n_members)

    shared = shared.sort_values(["ring", "members", "entity_accounts", "entity"], ascending=[True, False, True, True],
                                kind="stable")
    shared_rows, shared_ring = list(shared.itertuples(index=False)), shared["ring"].to_numpy()
    bounds = np.append(run_starts(shared_ring), len(shared_ring))
    shared_by = {int(shared_ring[a]): shared_rows[a:b] for a, b in zip(bounds[:-1], bounds[1:])}
    top_countries = (countries.dropna(subset=["country"]).groupby(["ring", "country"]).size().reset_index(name="n")
                     .sort_values(["ring", "n", "country"], ascending=[True, False, True], kind="stable"))
    country_by = {r: ";".join(g["country"].head(5)) for r, g in top_countries.groupby("ring", sort=False)}
    cols = {c: tests[c].to_numpy() for c in tests.columns}
    rows = []
    for ring, ring_id in enumerate(ring_ids):
        t = {c: v[ring] for c, v in cols.items()}
        sh = shared_by.get(ring, [])
        n = int(n_members[ring])
        ring_pv = float(t["p_ring"])
        test = next((x for x in sharing if x.name == t["best_sharing"]), None)
        if t["p_timing"] <= t["p_sharing"]:
            test = None
            kind = "hub spikes" if t["best_timing"] == "hub" else "co-activity"
        else:
            kind = test.label
        days = int(t["coactive_days"]) if test is None else int(share_days[test.name].get(ring, 0))
        significant = ring_pv < threshold and days >= params["min_evidence_days"]
        ips = [e for e in sh if e.type == "ip"]
        risk_known = [e.risk for e in ips if not np.isnan(e.risk)]
        tor = [bool(e.tor) for e in ips]
        comp = {
            "coordination": float(1 - np.exp(-(-np.log10(max(ring_pv, 1e-300))) / 20)),
            "specificity": float(np.mean([e.entity_accounts <= e.members for e in sh])) if sh else 0.0,
            "infrastructure_risk": float(max(np.mean(risk_known) / 100 if risk_known else 0.0,
                                             np.mean(tor) if tor else 0.0)),
            "member_signals": float(mean_composite[ring]),
            "bursts": n_bursts[ring] / n, "findings": n_find[ring] / n, "bad_payments": n_bad[ring] / n,
        }
        verdict, reason = _verdict(significant, ring_pv, threshold, days, params["min_evidence_days"],
                                   float(ent_share[ring]), float(mfa[ring]), int(n_bad[ring]), int(n_find[ring]),
                                   int(n_bursts[ring]), any(tor), bool(household[ring]))
        first_seen, last_seen = seen.get(ring, (pd.NaT, pd.NaT))
        rows.append({
            "ring_id": ring_id, "size": n, "verdict": verdict,
            "score": round(float(sum(SCORE_WEIGHTS[k] * comp[k] for k in SCORE_WEIGHTS)), 4),
            "pvalue": ring_pv, "flagged": verdict == VERDICTS[0], "evidence_kind": kind,
            "shared_ips": ";".join(e.value for e in ips),
            "shared_devices": ";".join(e.value for e in sh if e.type == "device"),
            "countries": country_by.get(ring, ""),
            "members_with_bursts": int(n_bursts[ring]), "members_with_findings": int(n_find[ring]),
            "members_with_bad_payments": int(n_bad[ring]),
            "first_seen": first_seen, "last_seen": last_seen,
            "top_evidence": _evidence_text(n, kind, t, sh, days, ring_pv, activity, sharing,
                                           params["max_entity_accounts"]),
            "verdict_reason": reason,
            "significant_pairs": 0, "coactive_days": days,
            **{f"c_{k}": round(v, 4) for k, v in comp.items()},
        })
    out = pd.DataFrame(rows)
    out["significant_pairs"] = _significant_pairs(pairs, ring_code, threshold, len(ring_ids))[
        np.searchsorted(ring_ids, out["ring_id"])]
    order = out["verdict"].map({v: i for i, v in enumerate(VERDICTS)})
    out = out.assign(_o=order).sort_values(["_o", "score", "ring_id"], ascending=[True, False, True], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)


def _verdict(significant, pv, threshold, days, min_days, ent_share, mfa_share, n_bad, n_find, n_bursts, tor,
             household):
    if not significant:
        why = (f"p={_pv(pv)} is not below the threshold {threshold:.2g}" if pv >= threshold else
               f"evidence on {days} day(s), fewer than {min_days}")
        return VERDICTS[2], why
    clean = n_bad == 0 and n_find == 0 and n_bursts == 0 and not tor
    if clean and ent_share >= BENIGN_ENTERPRISE_SHARE and mfa_share >= BENIGN_MFA_SHARE:
        return VERDICTS[1], (f"{ent_share:.0%} of members are enterprise accounts, MFA on {mfa_share:.0%} of their "
                             "logins, no bad payment, finding or burst, no TOR: one hand (e.g. an IT admin or MSP) "
                             "running accounts it is entitled to")
    if clean and household:
        return VERDICTS[1], ("a household: every member's main IP is the same (home), each member also has a device "
                             "of its own, and no member has a bad payment, finding or burst")
    bad = [w for w, n in (("bad payments", n_bad), ("security findings", n_find), ("EC2 bursts", n_bursts)) if n]
    return VERDICTS[0], ("common control beyond chance" + (f"; members with {', '.join(bad)}" if bad else "")
                         + ("; TOR on shared IPs" if tor else "")
                         + (f"; {ent_share:.0%} of members enterprise, MFA on {mfa_share:.0%} of logins")
                         + ("" if not household else "; members share a home IP but not a clean history"))


def _household_traits(activity):
    """Per account code: its main IP (``-1`` if none carries half its logins) and whether it has a device of its own."""
    ip_rows = ~activity.is_device[activity.entity]
    home = main_entity(activity.entity[ip_rows], activity.account[ip_rows], activity.n_accounts, MAIN_SHARE)
    pop = activity.popularity()
    dev = ~ip_rows
    own = np.zeros(activity.n_accounts, dtype=bool)
    own[activity.account[dev][pop[activity.entity[dev]] == 1]] = True
    return home, own


def _significant_pairs(pairs, ring_code, threshold, n_rings) -> np.ndarray:
    ra, rb = ring_code[pairs["a"].to_numpy()], ring_code[pairs["b"].to_numpy()]
    ok = (ra >= 0) & (ra == rb) & (pairs["pvalue"].to_numpy() < threshold)
    return np.bincount(ra[ok], minlength=n_rings)


def _thing_days(activity, ring_code, thing_of_ring, name) -> dict:
    """Per ring: distinct days its members used the ring's best shared device."""
    device = thing_of_ring
    rows = ring_code[activity.account] >= 0
    r = ring_code[activity.account[rows]]
    on = activity.entity[rows].astype(np.int64) == device[r]
    days = np.unique(r[on] * np.int64(1 << 32) + activity.ts[rows][on] // 86400)
    rings, n = np.unique(days // np.int64(1 << 32), return_counts=True)
    return dict(zip(rings.tolist(), n.tolist()))


def _enterprise(case) -> pd.Series:
    users = case.users
    if users is None or not len(users) or "is_enterprise" not in users:
        return pd.Series(dtype=float)
    return pd.Series(users["is_enterprise"].to_numpy(dtype=float),
                     index=users["account_id"].to_numpy(dtype=object)).groupby(level=0).max()


def _member_logins(case, rings, params) -> pd.DataFrame:
    """Successful logins of ring members in the analysis period: ring, ip, device, country, mfa, ts."""
    lg = case.logins
    ring_ids = np.array(sorted(rings["ring_id"].unique()), dtype=object)
    # the ring of each distinct account id, then of each login through its code (no string per login)
    acct, acct_ids = column_codes(lg["account_id"])
    at = text_index(acct_ids, rings["account_id"])
    ring_of_id = np.append(np.where(at >= 0, np.searchsorted(ring_ids, rings["ring_id"].to_numpy(dtype=object)[at]),
                                    -1), -1)
    ring = ring_of_id[acct]
    keep = (ring >= 0) & (lg["result"].to_numpy() == "SUCCESS")
    keep &= window_mask(lg["event_ts"], params.get("since"), params.get("until"))
    return pd.DataFrame({
        "ring": ring[keep],
        "ip": column_values(lg["ip"], keep), "device": column_values(lg["device_id"], keep),
        "country": column_values(lg["country_iso"], keep),
        "mfa": lg["mfa_used"].to_numpy(dtype=float)[keep],
        "ts": lg["event_ts"].to_numpy(dtype="datetime64[ns]")[keep]})


def _n(k: int, one: str, many: str) -> str:
    return f"{k:,} {one if k == 1 else many}"


def _evidence_text(n, kind, t, sh, days, pv, activity, sharing, max_entity_accounts=100) -> str:
    """The infrastructure, then the strongest evidence of each family that is itself below 0.01, in words."""
    if not sh:
        infra = "no IP or device shared by 2+ members"
    else:
        top = sh[0]  # most members, then fewest accounts in all
        what = "IP" if top.type == "ip" else "device"
        risk = f", risk {int(top.risk)}" if top.type == "ip" and not np.isnan(top.risk) else ""
        tor = ", TOR" if bool(top.tor) else ""
        hub = (", a hub: only its spike hours are evidence" if top.entity_accounts > max_entity_accounts
               else "")
        infra = (f"{int(top.members)} of {n} accounts used {what} {top.value} ({int(top.entity_accounts)} "
                 f"accounts in all{risk}{tor}{hub}); {_n(len(sh), 'shared IP or device', 'shared IPs and devices')}")
    parts = []
    if t["p_timing"] < 0.01 or kind in ("co-activity", "hub spikes"):
        parts.append(_timing_text(t))
    test = next((x for x in sharing if x.name == t["best_sharing"]), None)
    if test is not None and (t["p_sharing"] < 0.01 or kind == test.label):
        parts.append(_sharing_text(t, test, activity))
    if kind not in ("co-activity", "hub spikes"):
        parts.reverse()
    if pv >= 0.01:
        parts = ["nothing beyond chance"]
    return f"{infra}; " + "; ".join(parts) + f"; evidence on {_n(days, 'day', 'days')} (p={_pv(pv)})"


def _timing_text(t) -> str:
    if t["best_timing"] == "hub":
        return (f"members shared {int(t['coactive_hub'])} extra spike hour(s) on a hub (an hour with far more "
                f"accounts than the hub's own rate at that hour) vs {t['expected_hub']:.2f} expected by chance")
    best = t["best_timing"]
    width, tol = TIME_SCALES[best]
    return (f"members co-active {_n(int(t[f'coactive_{best}']), 'time', 'times')} {_span(width, tol)} on the same "
            f"shared IP or device (member pairs x time slots) vs {t[f'expected_{best}']:.2f} expected by chance")


def _sharing_text(t, test, activity) -> str:
    what = test.describe(t[f"{test.name}_thing"], activity)
    k = int(t[f"{test.name}_members"])
    if test.name == "device":
        return (f"one device ({what}) is the main device of {k} members (honest sharing of a main device fitted "
                f"at r={test.r:.2g} per extra account)")
    return (f"{k} members used one device ({what}) on 2+ days each through IPs that are not their own main IP "
            f"(honest sharing fitted at r={test.r:.2g} per extra account)")


def _span(width: int, tol: int) -> str:
    """How far apart two co-active logins can be at a scale (bins at most ``tol`` apart)."""
    if tol == 0 and width == 86400:
        return "on the same day"
    hi = width * (tol + 1)
    unit, div = ("hours", 3600) if hi >= 7200 else ("minutes", 60)
    return f"less than {hi // div:g} {unit} apart"


def _pv(p: float) -> str:
    return "<1e-300" if p < 1e-300 else f"{p:.2g}"


def _shared_login_times(member_logins: pd.DataFrame, shared: pd.DataFrame) -> dict:
    """Per ring: the first and last successful login (real event times) of a member on the ring's shared entities."""
    parts = []
    for col, kind in (("ip", "ip"), ("device", "device")):
        sh = shared.loc[shared["type"] == kind, ["ring", "value"]].rename(columns={"value": col})
        parts.append(member_logins[["ring", col, "ts"]].dropna(subset=[col]).merge(sh, on=["ring", col])[["ring", "ts"]])
    on = pd.concat(parts, ignore_index=True)
    g = on.groupby("ring")["ts"]
    lo, hi = g.min(), g.max()
    return {r: (pd.Timestamp(a), pd.Timestamp(b)) for r, a, b in zip(lo.index, lo, hi)}
