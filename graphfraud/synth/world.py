"""One chunk of a synthetic case, built in named steps.

The steps run in a fixed order on one :class:`_World` (the chunk's accounts,
infrastructure and events so far). The original steps share one generator; the
ring shapes and honest groups of :mod:`graphfraud.synth.shapes` each draw from
their own (:func:`~graphfraud.synth.shapes.step_rng`), so adding them left every
earlier draw, and so every earlier account, login and lockstep ring, unchanged.
A new behaviour is a new step with its own generator, appended before
:func:`_assemble_logins`; what it needs in the later tables goes in
:func:`~graphfraud.synth.shapes.shape_tables`. The money side comes last
(:func:`~graphfraud.synth.money.money_side`, its own generators too): it replaces
the plain payments of :func:`_payments` and the shapes, which are still drawn so
that the shared stream reaches :func:`_findings` where it always did.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from . import money, shapes
from .config import SynthConfig
from .vocab import (BENIGN_ACTIONS, COUNTRIES, COUNTRY_P, DOMAINS, FINDING_TYPES, FOREIGN, REGIONS, THROWAWAY, Ids,
                    code_text, diurnal_minutes, ip_text, minute_text)

__all__ = ["make_chunk"]


class _World(SimpleNamespace):
    """The state the steps share; each step documents what it adds."""


def make_chunk(cfg: SynthConfig, chunk: int, lo: int, hi: int) -> tuple[dict, dict]:
    """The case tables and the ground-truth tables of accounts ``lo`` to ``hi`` (chunk number ``chunk``)."""
    w = _World(cfg=cfg, chunk=chunk, rng=np.random.default_rng([cfg.seed, chunk]), m=hi - lo, lo=lo,
               start=pd.Timestamp(cfg.start), total_min=cfg.days * 1440, minute_text=minute_text(
                   pd.Timestamp(cfg.start), cfg.days), ids=Ids(chunk, cfg.chunk_size),
               acct_names=np.array([f"A{100000 + i}" for i in range(lo, hi)], dtype=object),
               login_parts=[], ec2_parts=[])
    for step in (_assign_roles, _benign_infrastructure, _benign_logins, _ring_sessions, _credential_stuffing,
                 _targeted_takeovers, _benign_ec2, shapes.assign_shapes, shapes.slow_rings, shapes.device_farms,
                 shapes.tiny_rings, shapes.proxy_rotation_rings, shapes.carrier_nat_rings, shapes.small_lockstep_rings,
                 shapes.msp_groups, shapes.family_tablets, shapes.drop_normal_life, _assemble_logins, _ip_reputation,
                 _ec2_table, _users, _payments, _findings, shapes.shape_tables, money.money_side):
        step(w)
    return _tables(w), _truth(w)


def _assign_roles(w: _World) -> None:
    """``home`` country, ring membership (``ring_of``), households (``household_of``) and the rest (``others``)."""
    rng, m, cfg = w.rng, w.m, w.cfg
    w.home = rng.choice(len(COUNTRIES), size=m, p=COUNTRY_P)
    w.n_rings = max(1, m // cfg.accounts_per_ring)
    sizes = rng.integers(cfg.ring_size[0], cfg.ring_size[1] + 1, size=w.n_rings)
    perm = rng.permutation(m)
    w.ring_of = np.full(m, -1)
    pos = 0
    for r, s in enumerate(sizes):
        w.ring_of[perm[pos:pos + s]] = r
        pos += s
    free = perm[pos:]  # accounts not in a ring
    w.household_of = np.full(m, -1)
    n_house_members = int(cfg.household_share * m)
    hh_members = free[:n_house_members]
    w.hh_sizes = []
    p = 0
    while p < len(hh_members):
        s = int(min(rng.integers(2, 5), len(hh_members) - p))
        if s < 2:
            break
        w.household_of[hh_members[p:p + s]] = len(w.hh_sizes)
        w.hh_sizes.append(s)
        p += s
    w.others = free[n_house_members:]


def _benign_infrastructure(w: _World) -> None:
    """Home IPs (shared in households), devices, carrier-NAT hubs, VPN exits and travel IPs."""
    rng, m, cfg, ids = w.rng, w.m, w.cfg, w.ids
    w.home_ip = ids.ips(m)
    for h in range(len(w.hh_sizes)):
        members = np.flatnonzero(w.household_of == h)
        w.home_ip[members] = w.home_ip[members[0]]
    w.n_dev = rng.integers(1, 4, size=m)
    w.dev_base = ids.devices(3 * m)[::3]
    w.shared_dev = np.full(m, -1)
    for h in range(len(w.hh_sizes)):
        if rng.random() < 0.4:
            members = np.flatnonzero(w.household_of == h)
            w.shared_dev[members] = ids.devices(1)[0]

    n_hubs = max(2, m // cfg.accounts_per_hub)
    w.hub_ids = ids.ips(n_hubs)
    hub_country = rng.choice(len(COUNTRIES), size=n_hubs, p=COUNTRY_P)
    w.mobile = rng.random(m) < cfg.mobile_share
    w.hub_of = np.full(m, -1)
    for c in np.unique(w.home[w.mobile]):
        idx = np.flatnonzero(w.mobile & (w.home == c))
        local = np.flatnonzero(hub_country == c)
        w.hub_of[idx] = (w.hub_ids[rng.choice(local)] if len(local)
                         else w.hub_ids[rng.integers(0, n_hubs, size=len(idx))])
    w.n_vpn = max(2, m // 800)
    w.vpn_ids = ids.ips(w.n_vpn)
    w.vpn_country = rng.choice(len(COUNTRIES), size=w.n_vpn)
    w.vpn_tor = rng.random(w.n_vpn) < 0.3
    w.vpn_user = rng.random(m) < cfg.vpn_share
    w.travel_ips = {c: ids.ips(max(3, m // 2000)) for c in range(len(COUNTRIES))}
    w.traveller = rng.random(m) < cfg.traveller_share
    w.trip_start = rng.integers(0, w.total_min - 10 * 1440, size=m)
    w.trip_len = rng.integers(3, 9, size=m) * 1440
    w.trip_country = (w.home + rng.integers(1, len(COUNTRIES), size=m)) % len(COUNTRIES)


def _benign_logins(w: _World) -> None:
    """Everyone's ordinary logins: home, carrier NAT, VPN, cafés, trips, family devices."""
    rng, m, cfg, ids = w.rng, w.m, w.cfg, w.ids
    rate = rng.gamma(2.0, cfg.login_rate / 2.0, size=m)
    rate[w.ring_of >= 0] *= 0.6  # members keep a quieter normal life beside the ring's sessions
    counts = rng.poisson(rate * cfg.days)
    counts = np.maximum(counts, 1)
    acct = np.repeat(np.arange(m), counts)
    n = len(acct)
    day = rng.integers(0, cfg.days, size=n)
    t = np.minimum(day * 1440 + diurnal_minutes(rng, n), w.total_min - 1)
    p_fail = rng.beta(1.2, 18, size=m)
    p_mfa = rng.beta(1.5, 2.0, size=m)
    fail = rng.random(n) < p_fail[acct]
    mfa = rng.random(n) < p_mfa[acct]
    u = rng.random(n)
    ip = w.home_ip[acct].copy()
    country = w.home[acct].copy()
    use_hub = (w.hub_of[acct] >= 0) & (u < 0.35)
    ip[use_hub] = w.hub_of[acct][use_hub]
    use_vpn = w.vpn_user[acct] & (u >= 0.35) & (u < 0.65)
    vpn_pick = rng.integers(0, w.n_vpn, size=n)
    ip[use_vpn] = w.vpn_ids[vpn_pick[use_vpn]]
    country[use_vpn] = w.vpn_country[vpn_pick[use_vpn]]
    cafe = (u > 0.96)
    ip[cafe] = ids.ips(int(cafe.sum()))
    on_trip = w.traveller[acct] & (t >= w.trip_start[acct]) & (t < w.trip_start[acct] + w.trip_len[acct])
    tc = w.trip_country[acct][on_trip]
    ip[on_trip] = np.array([w.travel_ips[c][k % len(w.travel_ips[c])] for c, k in
                            zip(tc, rng.integers(0, 1 << 30, size=int(on_trip.sum())))], dtype=np.int64)
    country[on_trip] = tc
    device = w.dev_base[acct] + rng.integers(0, 3, size=n) % w.n_dev[acct]
    fam = (w.shared_dev[acct] >= 0) & (rng.random(n) < 0.5)
    device[fam] = w.shared_dev[acct][fam]
    new_dev = rng.random(n) < 0.01
    device[new_dev] = ids.devices(int(new_dev.sum()))
    country_code = np.asarray(COUNTRIES, dtype=object)[country]
    w.benign_logins = dict(t=t, acct=acct, ip=ip, country=country_code, fail=fail, mfa=mfa, device=device)
    w.login_parts.append(w.benign_logins)


def _ring_sessions(w: _World) -> None:
    """Colluding rings: sessions through shared proxies and devices within minutes, some crypto-mining."""
    w.ring_proxies, w.ring_rows = [], []
    for r in range(w.n_rings):
        shapes.lockstep_ring(w, w.rng, np.flatnonzero(w.ring_of == r), f"R{w.chunk:03d}-{r:03d}", w.ec2_parts)


def _credential_stuffing(w: _World) -> None:
    """Campaign IPs failing against random victims; a few victims are taken over (``compromised``)."""
    rng, m, ids = w.rng, w.m, w.ids
    w.compromised = np.zeros(m, dtype=bool)
    w.victim = np.zeros(m, dtype=bool)
    w.takeover_t = np.full(m, -1)
    w.campaign_rows, w.attack_ips = [], []
    n_campaigns = max(2, m // w.cfg.accounts_per_campaign)
    for c in range(n_campaigns):
        cips = ids.ips(int(rng.integers(1, 3)))
        w.attack_ips.append(cips)
        ccountry = rng.choice(FOREIGN)
        k = int(min(rng.integers(40, 160), max(1, len(w.others) // 2)))
        vic = rng.choice(w.others, size=k, replace=False)
        w.victim[vic] = True
        t0 = int(rng.integers(3 * 1440, w.total_min - 3 * 1440))
        dur = int(rng.integers(120, 720))
        tries = rng.integers(1, 5, size=k)
        va = np.repeat(vic, tries)
        vt = t0 + rng.integers(0, dur, size=len(va))
        w.login_parts.append(dict(t=vt, acct=va, ip=cips[rng.integers(0, len(cips), size=len(va))],
                                  country=np.full(len(va), ccountry, dtype=object),
                                  fail=np.ones(len(va), dtype=bool), mfa=np.zeros(len(va), dtype=bool),
                                  device=ids.devices(len(va))))
        taken = vic[rng.random(k) < 0.05]
        if not len(taken):
            taken = vic[:1]
        for a in taken:
            last_fail = int(vt[va == a].max())
            _takeover(w, a, last_fail + int(rng.integers(1, 30)), cips[0], ccountry)
        w.campaign_rows.append(dict(campaign_id=f"C{w.chunk:03d}-{c:03d}", ip=",".join(ip_text(cips)),
                                    victims=k, compromised=len(taken), first_minute=t0, country=ccountry))


def _targeted_takeovers(w: _World) -> None:
    """Takeovers outside campaigns: one risky IP, a failed guess, then success."""
    rng, ids = w.rng, w.ids
    n_targeted = max(1, w.m // 1000)
    spare = w.others[~w.victim[w.others]]
    for a in rng.choice(spare, size=min(n_targeted, len(spare)), replace=False):
        tip = ids.ips(1)
        w.attack_ips.append(tip)
        cc = rng.choice(FOREIGN)
        tf = int(rng.integers(2 * 1440, w.total_min - 2 * 1440))
        w.login_parts.append(dict(t=np.array([tf]), acct=np.array([a]), ip=tip, country=np.array([cc], dtype=object),
                                  fail=np.array([True]), mfa=np.array([False]), device=ids.devices(1)))
        _takeover(w, a, tf + int(rng.integers(5, 90)), tip[0], cc)


def _takeover(w: _World, a: int, ts_ok: int, ip, country) -> None:
    """The attacker logs in, then launches instances across regions within hours."""
    rng = w.rng
    w.login_parts.append(dict(t=np.array([min(ts_ok, w.total_min - 1)]), acct=np.array([a]), ip=np.array([ip]),
                              country=np.array([country], dtype=object), fail=np.array([False]),
                              mfa=np.array([False]), device=w.ids.devices(1)))
    k = int(rng.integers(4, 16))
    regions = rng.choice(REGIONS, size=k, replace=True)
    regions[:2] = rng.choice(REGIONS, size=2, replace=False)
    w.ec2_parts.append(dict(t=ts_ok + rng.integers(10, 20 * 60, size=k), acct=np.full(k, a),
                            action=np.full(k, "RUN_INSTANCES", dtype=object), region=regions))
    w.compromised[a] = True
    w.takeover_t[a] = ts_ok


def _benign_ec2(w: _World) -> None:
    """Ordinary EC2 use, mostly in the account's home region."""
    rng, m = w.rng, w.m
    ec2_user = rng.random(m) < 0.4
    n_calls = np.where(ec2_user, rng.poisson(6, size=m), 0)
    ea = np.repeat(np.arange(m), n_calls)
    home_region = rng.integers(0, len(REGIONS), size=m)
    second = rng.random(len(ea)) < 0.15
    region_idx = np.where(second, (home_region[ea] + 3) % len(REGIONS), home_region[ea])
    w.ec2_parts.insert(0, dict(t=rng.integers(0, w.total_min, size=len(ea)), acct=ea,
                               action=rng.choice(BENIGN_ACTIONS, size=len(ea), p=[.35, .25, .1, .1, .05, .15]),
                               region=REGIONS[region_idx]))


def _assemble_logins(w: _World) -> None:
    """All login parts in time order as the ``logins`` table; ``uniq_ip`` keeps the IP ids for reputation."""
    L = {k: np.concatenate([p[k] for p in w.login_parts]) for k in w.login_parts[0]}
    order = np.lexsort((L["acct"], L["t"]))
    L = {k: v[order] for k, v in L.items()}
    w.uniq_ip, ip_inv = np.unique(L["ip"], return_inverse=True)
    uniq_dev, dev_inv = np.unique(L["device"], return_inverse=True)
    w.logins = pd.DataFrame({
        "event_ts": w.minute_text[L["t"]],
        "account_id": w.acct_names[L["acct"]],
        "ip": ip_text(w.uniq_ip)[ip_inv],
        "country_iso": L["country"],
        "result": np.where(L["fail"], "FAIL", "SUCCESS").astype(object),
        "mfa_used": L["mfa"].astype(np.int64),
        "device_id": code_text(uniq_dev, salt=w.cfg.seed)[dev_inv],
    })


def _ip_reputation(w: _World) -> None:
    """Risk, TOR and ASN per IP by what it really is (``ip_kind`` in the truth); a few IPs have no row.

    Covers the IPs of the original steps (``base_uniq_ip``); the shapes' IPs follow in ``shape_tables``.
    """
    rng, uniq_ip = w.rng, w.base_uniq_ip
    kind = np.full(len(uniq_ip), "other", dtype=object)
    for name, arr in {"home": w.home_ip, "hub": w.hub_ids, "vpn": w.vpn_ids}.items():
        kind[np.isin(uniq_ip, arr)] = name
    for c, arr in w.travel_ips.items():
        kind[np.isin(uniq_ip, arr)] = "travel"
    kind[np.isin(uniq_ip, np.concatenate(w.ring_proxies)) & (kind == "other")] = "ring_proxy"
    kind[np.isin(uniq_ip, np.concatenate(w.attack_ips))] = "attack"
    kind[kind == "other"] = "cafe"
    nip = len(uniq_ip)
    risk = np.clip(rng.normal(15, 10, size=nip), 0, 100)
    risk = np.where(kind == "hub", rng.uniform(20, 55, size=nip), risk)
    risk = np.where(kind == "cafe", rng.uniform(5, 60, size=nip), risk)
    risk = np.where(kind == "travel", rng.uniform(10, 50, size=nip), risk)
    risk = np.where(kind == "vpn", rng.uniform(60, 95, size=nip), risk)
    risk = np.where(kind == "ring_proxy", rng.uniform(45, 95, size=nip), risk)
    risk = np.where(kind == "attack", rng.uniform(85, 100, size=nip), risk)
    risk = np.where((kind == "home") & (rng.random(nip) < 0.01), rng.uniform(80, 95, size=nip), risk)
    tor = np.zeros(nip, dtype=bool)
    tor[np.isin(uniq_ip, w.vpn_ids[w.vpn_tor])] = True
    tor |= (kind == "attack") & (rng.random(nip) < 0.3)
    tor |= (kind == "ring_proxy") & (rng.random(nip) < 0.25)
    asn = np.where(np.isin(kind, ["hub"]), 20000 + (uniq_ip % 50), rng.integers(1000, 99999, size=nip))
    keep = rng.random(nip) >= w.cfg.missing_reputation_share
    w.ip_ids, w.ip_names = uniq_ip, ip_text(uniq_ip)
    w.ip_kind, w.has_reputation = kind, keep
    w.ip_reputation = pd.DataFrame({"ip": w.ip_names[keep], "risk_score": np.round(risk[keep]).astype(np.int64),
                                    "asn": asn[keep].astype(np.int64), "is_tor": tor[keep].astype(np.int64)})


def _ec2_table(w: _World) -> None:
    E = {k: np.concatenate([p[k] for p in w.ec2_parts]) for k in w.ec2_parts[0]}
    E["t"] = np.clip(E["t"], 0, w.total_min - 1)
    order = np.lexsort((E["acct"], E["t"]))
    w.ec2 = pd.DataFrame({
        "event_ts": w.minute_text[E["t"][order]],
        "account_id": w.acct_names[E["acct"][order]],
        "action": E["action"][order].astype(object),
        "instance_id": np.array([f"i-{x:08d}" for x in w.rng.integers(0, 10**8, size=len(order))], dtype=object),
        "region": E["region"][order].astype(object),
    })


def _users(w: _World) -> None:
    """Signups: ring members sign up close together with throwaway e-mail domains; never enterprise."""
    rng, m = w.rng, w.m
    signup = rng.integers(-720, -1, size=m).astype(float)
    domain = rng.choice(DOMAINS, size=m).astype(object)
    for r in range(w.n_rings):
        members = np.flatnonzero(w.ring_of == r)
        signup[members] = int(rng.integers(-90, -10)) + rng.integers(0, 4, size=len(members))
        domain[members] = rng.choice(THROWAWAY)
    signup_country = np.where(rng.random(m) < 0.05, rng.integers(0, len(COUNTRIES), size=m), w.home)
    w.users = pd.DataFrame({
        "account_id": w.acct_names,
        "country": np.asarray(COUNTRIES, dtype=object)[signup_country],
        "signup_ts": (w.start + pd.to_timedelta(signup, unit="D")).strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
        "email_domain": domain,
        "is_enterprise": ((rng.random(m) < 0.1) & (w.ring_of < 0)).astype(np.int64),
    })


def _payments(w: _World) -> None:
    """Plain payments (without the money side); rings and accounts after a takeover have far more bad ones."""
    rng, m = w.rng, w.m
    n_pay = np.where(rng.random(m) < 0.9, rng.integers(3, 12, size=m), 0)
    pa = np.repeat(np.arange(m), n_pay)
    pday = rng.integers(-90, w.cfg.days, size=len(pa))
    p_bad = np.full(len(pa), 0.004)
    p_bad[w.ring_of[pa] >= 0] = 0.12
    after = w.compromised[pa] & (pday * 1440 >= w.takeover_t[pa])
    p_bad[after] = 0.5
    bad = rng.random(len(pa)) < p_bad
    status = np.where(bad, np.where(rng.random(len(pa)) < 0.6, "CHARGEBACK", "DECLINED"), "PAID").astype(object)
    method = rng.choice(["CARD", "INVOICE", "WIRE"], size=len(pa), p=[0.6, 0.3, 0.1]).astype(object)
    amount = np.round(rng.lognormal(4.5, 0.8, size=len(pa)), 2)
    if w.cfg.money_side:
        return  # the money side makes the payments; drawn all the same, so the shared stream stays where it was
    w.payments = pd.DataFrame({
        "payment_ts": (w.start + pd.to_timedelta(pday, unit="D")).strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
        "account_id": w.acct_names[pa],
        "method": method,
        "amount_usd": amount,
        "status": status,
    }).sort_values(["payment_ts", "account_id"], kind="stable").reset_index(drop=True)


def _findings(w: _World) -> None:
    """Most takeovers get confirmed, plus a little label noise."""
    rng, m = w.rng, w.m
    found = w.compromised & (rng.random(m) < 0.7)
    noise = (w.ring_of < 0) & ~w.compromised & (rng.random(m) < 0.002)
    fa = np.flatnonzero(found | noise)
    fts = np.where(w.compromised[fa], w.takeover_t[fa] + rng.integers(1, 6, size=len(fa)) * 1440,
                   rng.integers(0, w.total_min, size=len(fa)))
    w.findings = pd.DataFrame({
        "finding_ts": (w.start + pd.to_timedelta(np.minimum(fts, w.total_min) // 1440, unit="D")).strftime(
            "%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
        "account_id": w.acct_names[fa],
        "type": np.where(w.compromised[fa], rng.choice(FINDING_TYPES, size=len(fa)), "BRUTE_FORCE").astype(object),
        "severity": np.where(w.compromised[fa], "HIGH", "LOW").astype(object),
    })


def _tables(w: _World) -> dict:
    tables = {"users": w.users, "logins": w.logins, "ip_reputation": w.ip_reputation, "ec2_activity": w.ec2,
              "payments": w.payments, "security_findings": w.findings}
    if w.cfg.money_side:
        tables["blocklist"] = w.blocklist
    return tables


def _truth(w: _World) -> dict:
    accounts = pd.DataFrame({
        "account_id": w.acct_names,
        "ring_id": shapes.truth_ring_ids(w),
        "household_id": [f"H{w.chunk:03d}-{h:04d}" if h >= 0 else None for h in w.household_of],
        "compromised": w.compromised.astype(int),
        "stuffing_victim": w.victim.astype(int),
        "mobile": w.mobile.astype(int),
        "vpn_user": w.vpn_user.astype(int),
        "traveller": w.traveller.astype(int),
        "mule": w.mule.astype(int),
    })
    ips = pd.DataFrame({"ip": w.ip_names, "kind": w.ip_kind, "has_reputation": w.has_reputation.astype(int)})
    campaigns = pd.DataFrame(w.campaign_rows)
    campaigns["first_seen"] = w.minute_text[campaigns.pop("first_minute").to_numpy()]
    rings = pd.concat(w.ring_rows + shapes.truth_ring_rows(w), ignore_index=True)
    payments = (w.truth_payments if w.cfg.money_side
                else pd.DataFrame({c: pd.Series(dtype=object) for c in money.TRUTH_PAYMENT_COLUMNS}))
    return {"accounts": accounts, "rings": rings, "campaigns": campaigns, "ips": ips,
            "honest_groups": shapes.truth_honest_groups(w), "payments": payments}
