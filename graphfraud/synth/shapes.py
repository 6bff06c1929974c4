"""Ring shapes and honest groups: how each shows up in one chunk's logins, users and payments.

Besides the lockstep rings of :mod:`graphfraud.synth.world` (shared proxies and devices within
minutes), a chunk holds rings that a detector tuned on lockstep misses, and honest groups that
look like rings but are not:

==================  ======================================================================
``slow``            one operator, 1-2 residential proxies and 1-2 devices, working 2-5 members
                    a day on 10-25 days, at least 80 minutes between two members' logins
``device_farm``     one emulator used by fresh accounts one after another, each signed up
                    hours before its first login, alive 1-5 days, each from its own IP
``tiny``            a fraudster's own everyday account plus 1-2 mules, used 1-10 minutes apart
                    from his home IP and his device on 3-8 evenings
``proxy_rotation``  lockstep sessions where every login comes through a fresh residential exit
                    (sometimes an honest household's IP), on 1-2 device fingerprints
``carrier_nat``     20-60 accounts on 2-6 phones behind one busy carrier-NAT IP, in lockstep
``msp``             honest: an IT admin logging into 5-15 enterprise clients minutes apart
                    from one office IP and one workstation, MFA on, on working days
``family_tablet``   honest: 2-3 accounts sharing a home IP and a tablet, sometimes minutes apart
==================  ======================================================================

Every step here draws from its own generator (:func:`step_rng`), never from the chunk's
shared one, so the accounts, logins and rings of the earlier steps stay exactly as they were.
Their accounts are the chunk's ordinary accounts (not in a lockstep ring or a household, not a
stuffing victim, not a VPN user or traveller, whose shared exits would tie groups together by
accident); the accounts that should have no life of their own (farm accounts, mules,
carrier-NAT accounts) lose their ordinary logins.

Examples
--------
>>> from graphfraud import synth
>>> s = synth.generate_case(3000, seed=1)
>>> sorted(s.truth.rings["shape"].unique())
['carrier_nat', 'device_farm', 'lockstep', 'proxy_rotation', 'slow', 'tiny']
>>> sorted(s.truth.honest_groups["kind"].unique())
['family_tablet', 'household', 'msp', 'public_ip']
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from .vocab import COUNTRIES, COUNTRY_P, DOMAINS, REGIONS, THROWAWAY, ip_text

__all__ = ["step_rng", "lockstep_ring", "assign_shapes", "slow_rings", "device_farms", "tiny_rings",
           "proxy_rotation_rings", "carrier_nat_rings", "small_lockstep_rings", "msp_groups", "family_tablets",
           "drop_normal_life", "shape_tables", "truth_ring_rows", "truth_honest_groups", "truth_ring_ids"]

_COUNTRY = np.asarray(COUNTRIES, dtype=object)
DAY = 1440

# (group kind, rate knob, size knob, ring shape in the truth or None for honest groups, id prefix)
_PLAN = (
    ("slow", "accounts_per_slow_ring", "slow_ring_size", "slow", "S"),
    ("device_farm", "accounts_per_device_farm", "device_farm_size", "device_farm", "F"),
    ("tiny", "accounts_per_tiny_ring", "tiny_ring_size", "tiny", "T"),
    ("proxy_rotation", "accounts_per_proxy_rotation_ring", "proxy_rotation_size", "proxy_rotation", "P"),
    ("carrier_nat", "accounts_per_carrier_nat_ring", "carrier_nat_size", "carrier_nat", "N"),
    ("small_lockstep", "accounts_per_small_lockstep_ring", "small_lockstep_size", "lockstep", "L"),
    ("msp", "accounts_per_msp", "msp_clients", None, "M"),
    ("family_tablet", "accounts_per_family_tablet", "family_tablet_size", None, "F"),
)

# a busy carrier NAT: this many honest accounts behind one IP makes it a hub no detector may use
CARRIER_MIN_ACCOUNTS = 100
# the slow operator waits at least this long between two members (so never two in one clock hour)
SLOW_GAP_MINUTES = (80, 180)
# farm accounts follow each other: the next one starts at most this long before the last one ends
FARM_MAX_OVERLAP_MINUTES = 120


def step_rng(w, step: int, stream: int = 7) -> np.random.Generator:
    """The generator of one shape step: independent of the chunk's shared stream and of the other steps.

    ``stream`` tells families of steps apart (7: the ring shapes, 11: the money side).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> w = SimpleNamespace(cfg=SimpleNamespace(seed=1), chunk=0)
    >>> int(step_rng(w, 3).integers(100)) == int(step_rng(w, 3).integers(100))
    True
    """
    return np.random.default_rng([w.cfg.seed, w.chunk, stream, step])


def _add_logins(w, t, acct, ip, country, device, fail, mfa) -> None:
    k = len(t)
    w.login_parts.append(dict(
        t=np.minimum(np.asarray(t, dtype=np.int64), w.total_min - 1), acct=np.asarray(acct, dtype=np.int64),
        ip=np.broadcast_to(np.asarray(ip, dtype=np.int64), (k,)).copy(),
        country=np.broadcast_to(np.asarray(country, dtype=object), (k,)).copy(),
        fail=np.asarray(fail, dtype=bool), mfa=np.asarray(mfa, dtype=bool),
        device=np.broadcast_to(np.asarray(device, dtype=np.int64), (k,)).copy()))
    # when each account was last used by its group: accounts without a life of their own pay until then
    np.maximum.at(w.last_t, w.login_parts[-1]["acct"], w.login_parts[-1]["t"])


def _new_ips(w, k: int, kind: str, mobile: bool | np.ndarray = False) -> np.ndarray:
    ips = w.ids.ips(k)
    w.new_ip_kind.update(dict.fromkeys(ips.tolist(), kind))
    w.new_ip_mobile.update(zip(ips.tolist(), np.broadcast_to(mobile, (k,)).tolist()))
    return ips


def _groups(w, kind: str) -> list:
    return [g for g in w.groups if g.kind == kind]


def _clustered_signups(rng, k: int) -> np.ndarray:
    """Minutes from the start: accounts opened together 10-90 days before (as the lockstep rings' are)."""
    return (int(rng.integers(-90, -10)) + rng.integers(0, 4, size=k)) * DAY + rng.integers(0, DAY, size=k)


def lockstep_ring(w, rng, members: np.ndarray, ring_id: str, ec2_parts: list) -> None:
    """A lockstep ring: sessions through shared proxies and devices within minutes, some crypto-mining.

    Draws in exactly the order the original ``_ring_sessions`` did, so the chunk's lockstep
    rings stay as they were; ``ec2_parts`` is where its mining goes.
    """
    cfg, ids = w.cfg, w.ids
    proxies = ids.ips(int(rng.integers(1, 4)))
    if rng.random() < 0.3:
        proxies = np.append(proxies, w.vpn_ids[rng.integers(0, w.n_vpn)])
    w.ring_proxies.append(proxies)
    devs = ids.devices(int(rng.integers(1, 4)))
    pcountry = rng.choice(len(COUNTRIES), size=len(proxies))
    n_sessions = int(rng.integers(5, 11))
    sess_day = rng.choice(cfg.days, size=n_sessions, replace=False)
    for d in sess_day:
        t0 = d * 1440 + int(rng.integers(0, 1380))
        part = members[rng.random(len(members)) < 0.85]
        if len(part) < 2:
            part = members
        k = len(part)
        pick = (rng.integers(0, len(proxies), size=k) if rng.random() < 0.5
                else np.full(k, rng.integers(0, len(proxies))))
        w.login_parts.append(dict(
            t=np.minimum(t0 + np.sort(rng.integers(0, 40, size=k)), w.total_min - 1),
            acct=part, ip=proxies[pick], country=_COUNTRY[pcountry[pick]],
            fail=rng.random(k) < 0.05, mfa=rng.random(k) < 0.05, device=devs[rng.integers(0, len(devs), size=k)]))
    w.ring_rows.append(pd.DataFrame({"ring_id": ring_id, "account_id": w.acct_names[members], "shape": "lockstep"}))
    if rng.random() < 0.3:  # some rings mine crypto on their accounts
        k = int(rng.integers(4, 12))
        ec2_parts.append(dict(t=rng.integers(0, w.total_min, size=k), acct=rng.choice(members, size=k),
                              action=np.full(k, "RUN_INSTANCES", dtype=object), region=rng.choice(REGIONS, size=k)))


def assign_shapes(w) -> None:
    """Pick every shape's and honest group's accounts (``groups``, ``group_of``) from the spare accounts.

    Also snapshots the IPs the earlier steps used (``base_uniq_ip``): their reputation is drawn
    from the shared stream as before, the IPs added here get theirs in :func:`shape_tables`.
    """
    cfg, m = w.cfg, w.m
    rng = step_rng(w, 0)
    w.base_uniq_ip = np.unique(np.concatenate([p["ip"] for p in w.login_parts]))
    w.new_ip_kind, w.new_ip_mobile, w.shape_ec2_parts = {}, {}, []
    w.last_t = np.full(m, -1)
    w.signup_min = np.full(m, np.nan)
    w.domain_override = np.full(m, None, dtype=object)
    w.country_override = np.full(m, None, dtype=object)
    w.no_life = np.zeros(m, dtype=bool)
    w.group_of = np.full(m, -1)
    o = w.others
    spare = o[~w.victim[o] & ~w.compromised[o] & ~w.vpn_user[o] & ~w.traveller[o]]
    spare = rng.permutation(spare)
    counts = {kind: (max(1, round(m / getattr(cfg, rate))) if getattr(cfg, rate) else 0)
              for kind, rate, *_ in _PLAN}
    w.groups, taken, numbers = [], 0, dict.fromkeys(counts, 0)
    # round robin over the kinds, so a small chunk gets one of each before it gets two of any
    for i in range(max(counts.values(), default=0)):
        for kind, _, size_knob, shape, prefix in _PLAN:
            if i >= counts[kind]:
                continue
            lo, hi = getattr(cfg, size_knob)
            size = int(rng.integers(lo, hi + 1))
            if taken + size > len(spare):
                continue  # too few spare accounts left in this chunk for this group
            members = np.sort(spare[taken:taken + size])
            if kind == "tiny":  # the fraudster's own account first, then the mules
                members = spare[taken:taken + size].copy()
            taken += size
            numbers[kind] += 1
            gid = (f"R{w.chunk:03d}-{prefix}{numbers[kind]:03d}" if shape  # rings: R<chunk>-<shape letter><n>
                   else f"{prefix}{w.chunk:03d}-{numbers[kind]:03d}")
            w.group_of[members] = len(w.groups)
            w.groups.append(SimpleNamespace(kind=kind, id=gid, members=members, shape=shape))


def slow_rings(w) -> None:
    """Slow rings: one operator, a few members a day through the ring's own proxy and device, hours apart."""
    rng = step_rng(w, 1)
    for g in _groups(w, "slow"):
        members = g.members
        proxies = _new_ips(w, int(rng.integers(1, 3)), "residential_proxy")
        devs = w.ids.devices(int(rng.integers(1, 3)))
        country = _COUNTRY[rng.choice(len(COUNTRIES), p=COUNTRY_P)]
        days = np.sort(rng.choice(w.cfg.days, size=min(int(rng.integers(10, 26)), w.cfg.days), replace=False))
        queue: list = []
        t_all, a_all, fail_all, ip_all, dev_all = [], [], [], [], []
        for d in days:
            k = int(rng.integers(2, min(5, len(members)) + 1))
            today: list = []
            while len(today) < k:  # round robin over the members, so every one is worked every few days
                if not queue:
                    queue = list(rng.permutation(members))
                a = queue.pop()
                if a not in today:
                    today.append(a)
            gaps = rng.integers(SLOW_GAP_MINUTES[0], SLOW_GAP_MINUTES[1] + 1, size=k - 1)
            t = d * DAY + int(rng.integers(7 * 60, 10 * 60)) + np.concatenate([[0], np.cumsum(gaps)])
            ip = proxies[rng.integers(0, len(proxies), size=k)]
            dev = devs[rng.integers(0, len(devs), size=k)]
            retry = rng.random(k) < 0.08  # a mistyped password a few minutes before the visit
            t_all += [t, t[retry] - rng.integers(1, 4, size=int(retry.sum()))]
            a_all += [np.array(today), np.array(today)[retry]]
            fail_all += [np.zeros(k, dtype=bool), np.ones(int(retry.sum()), dtype=bool)]
            ip_all += [ip, ip[retry]]
            dev_all += [dev, dev[retry]]
        t = np.concatenate(t_all)
        _add_logins(w, t, np.concatenate(a_all), np.concatenate(ip_all), country, np.concatenate(dev_all),
                    np.concatenate(fail_all), rng.random(len(t)) < 0.05)
        # bought or opened one by one over the past year, half on throwaway mail
        w.signup_min[members] = -rng.integers(20, 400, size=len(members)) * DAY
        throwaway = rng.random(len(members)) < 0.5
        w.domain_override[members[throwaway]] = rng.choice(THROWAWAY)


def device_farms(w) -> None:
    """Device farms: fresh accounts used one after another on one emulator, each from its own IP."""
    rng = step_rng(w, 2)
    avail = (w.cfg.days - 1) * DAY
    for g in _groups(w, "device_farm"):
        members, n = g.members, len(g.members)
        device = w.ids.devices(1)[0]
        country = _COUNTRY[rng.choice(len(COUNTRIES), p=COUNTRY_P)]
        life = rng.uniform(1, 5, size=n) * DAY
        gap = rng.uniform(-FARM_MAX_OVERLAP_MINUTES, 6 * 60, size=n)
        gap[0] = 0
        need = life.sum() + gap.sum()
        if need > avail:  # a big farm in a short case: the same sequence, compressed to fit
            life, gap, need = life * avail / need, gap * avail / need, avail
        start = rng.uniform(0, avail - need + 1) + np.concatenate([[0], np.cumsum(life[:-1] + gap[1:])])
        start, end = start.astype(np.int64), (start + life).astype(np.int64)
        ips = _new_ips(w, n, "farm_ip", mobile=rng.random(n) < 0.5)
        per = rng.integers(2, 7, size=n)  # a few logins each: the first, the last, some between
        acct = np.repeat(members, per)
        pos = np.repeat(np.arange(n), per)
        t = start[pos] + (rng.random(len(acct)) * (end - start)[pos]).astype(np.int64)
        first_row = np.r_[0, np.cumsum(per)[:-1]]
        t[first_row], t[first_row + 1] = start, end
        _add_logins(w, t, acct, ips[pos], country, device, rng.random(len(t)) < 0.03, np.zeros(len(t), dtype=bool))
        w.signup_min[members] = start - rng.integers(10, 20 * 60, size=n)  # signed up hours before first use
        domain = rng.choice(THROWAWAY)
        w.domain_override[members] = np.where(rng.random(n) < 0.7, domain, rng.choice(DOMAINS, size=n))
        w.country_override[members] = country
        w.no_life[members] = True
        if rng.random() < 0.5:  # this farm's accounts launch instances while they live (free-tier mining)
            users = np.flatnonzero(rng.random(n) < 0.6)
            k = rng.integers(1, 5, size=len(users))
            who = np.repeat(users, k)
            w.shape_ec2_parts.append(dict(
                t=start[who] + (rng.random(len(who)) * (end - start)[who]).astype(np.int64), acct=members[who],
                action=np.full(len(who), "RUN_INSTANCES", dtype=object), region=rng.choice(REGIONS, size=len(who))))


def tiny_rings(w) -> None:
    """Tiny rings: a fraudster's own account and 1-2 mules, minutes apart from his home on a few evenings."""
    rng = step_rng(w, 3)
    for g in _groups(w, "tiny"):
        own, members = g.members[0], g.members
        evenings = rng.choice(w.cfg.days, size=int(rng.integers(3, 9)), replace=False)
        t_all, a_all = [], []
        for d in evenings:
            order = rng.permutation(members)
            gaps = rng.integers(1, 11, size=len(order) - 1)
            t_all.append(d * DAY + int(rng.integers(18 * 60, 22 * 60 + 30)) + np.concatenate([[0], np.cumsum(gaps)]))
            a_all.append(order)
        t = np.concatenate(t_all)
        # his home IP and his everyday device (the first of his devices, the one his own logins use most)
        _add_logins(w, t, np.concatenate(a_all), w.home_ip[own], _COUNTRY[w.home[own]], w.dev_base[own],
                    rng.random(len(t)) < 0.03, np.zeros(len(t), dtype=bool))
        mules = members[1:]
        ago = rng.integers(2, 30, size=len(mules)) * DAY + rng.integers(0, DAY, size=len(mules))
        w.signup_min[mules] = t.min() - ago  # opened (or bought) days before their first use
        w.domain_override[mules] = np.where(rng.random(len(mules)) < 0.5, rng.choice(THROWAWAY),
                                            rng.choice(DOMAINS, size=len(mules)))
        w.no_life[mules] = True


def proxy_rotation_rings(w) -> None:
    """Proxy-rotation rings: lockstep sessions, every login through a fresh residential exit, 1-2 devices."""
    rng = step_rng(w, 4)
    # honest households' home IPs, which an infected device at home can turn into proxy exits
    hh = np.flatnonzero(w.household_of >= 0)
    _, first = np.unique(w.household_of[hh], return_index=True)
    heads = hh[first]
    present = np.isin(w.home_ip[heads], w.base_uniq_ip)
    house_ip, house_country = w.home_ip[heads][present], _COUNTRY[w.home[heads][present]]
    for g in _groups(w, "proxy_rotation"):
        members = g.members
        devs = w.ids.devices(int(rng.integers(1, 3)))
        country = _COUNTRY[rng.choice(len(COUNTRIES), p=COUNTRY_P)]
        days = rng.choice(w.cfg.days, size=int(rng.integers(5, 11)), replace=False)
        for i, d in enumerate(days):
            part = members[rng.random(len(members)) < 0.85]
            if len(part) < 2 or i == 0:  # everyone takes part in the first session, so no member is invisible
                part = members
            k = len(part)
            t = d * DAY + int(rng.integers(0, 1380)) + np.sort(rng.integers(0, 30, size=k))
            ip = _new_ips(w, k, "residential_proxy")
            cc = np.full(k, country, dtype=object)
            if len(house_ip):
                use = rng.random(k) < 0.15
                pick = rng.integers(0, len(house_ip), size=k)
                ip[use], cc[use] = house_ip[pick[use]], house_country[pick[use]]
            _add_logins(w, t, part, ip, cc, devs[rng.integers(0, len(devs), size=k)], rng.random(k) < 0.05,
                        rng.random(k) < 0.05)
        w.signup_min[members] = _clustered_signups(rng, len(members))
        w.domain_override[members] = rng.choice(THROWAWAY)


def carrier_nat_rings(w) -> None:
    """Carrier-NAT rings: accounts on a few phones, every login through one busy carrier-NAT IP, in lockstep."""
    rng = step_rng(w, 5)
    groups = _groups(w, "carrier_nat")
    if not groups:
        return
    b = w.benign_logins
    on_hub = np.isin(b["ip"], w.hub_ids)
    pairs = np.unique(np.stack([b["ip"][on_hub], b["acct"][on_hub]]), axis=1)
    hubs, n_accounts = np.unique(pairs[0], return_counts=True)
    busy = hubs[n_accounts > CARRIER_MIN_ACCOUNTS]
    if not len(busy):  # a small chunk: the busiest hub it has
        busy = hubs[[np.argmax(n_accounts)]] if len(hubs) else w.hub_ids[:1]
    for g in groups:
        members = g.members
        hub = rng.choice(busy)
        seen = b["country"][on_hub][b["ip"][on_hub] == hub]
        names, c = np.unique(seen.astype(str), return_counts=True)
        country = names[np.argmax(c)] if len(names) else _COUNTRY[0]
        n_phones = min(int(rng.integers(2, 7)), len(members))
        phones = w.ids.devices(n_phones)
        phone_of = rng.permutation(np.arange(len(members)) % n_phones)
        days = rng.choice(w.cfg.days, size=int(rng.integers(5, 11)), replace=False)
        for i, d in enumerate(days):
            idx = np.flatnonzero(rng.random(len(members)) < 0.85)
            if len(idx) < 2 or i == 0:  # everyone takes part in the first session, so no member is invisible
                idx = np.arange(len(members))
            k = len(idx)
            t = d * DAY + int(rng.integers(0, 1380)) + np.sort(rng.integers(0, 41, size=k))
            _add_logins(w, t, members[idx], hub, country, phones[phone_of[idx]], rng.random(k) < 0.05,
                        rng.random(k) < 0.05)
        w.signup_min[members] = _clustered_signups(rng, len(members))
        if rng.random() < 0.5:
            w.domain_override[members] = rng.choice(THROWAWAY)
        w.no_life[members] = True


def small_lockstep_rings(w) -> None:
    """Lockstep rings of two or three accounts, drawn like the chunk's other lockstep rings."""
    rng = step_rng(w, 6)
    for g in _groups(w, "small_lockstep"):
        lockstep_ring(w, rng, g.members, g.id, w.shape_ec2_parts)
        w.signup_min[g.members] = _clustered_signups(rng, len(g.members))
        w.domain_override[g.members] = rng.choice(THROWAWAY)


def msp_groups(w) -> None:
    """Honest MSPs: an admin logs into enterprise clients minutes apart from one office, on working days."""
    rng = step_rng(w, 7)
    weekdays = np.flatnonzero(pd.date_range(w.start, periods=w.cfg.days).day_of_week < 5)
    b = w.benign_logins
    for g in _groups(w, "msp"):
        members = g.members
        office = _new_ips(w, 1, "office")[0]
        workstation = w.ids.devices(1)[0]
        country = _COUNTRY[w.home[members[0]]]
        days = rng.choice(weekdays, size=min(int(rng.integers(15, 36)), len(weekdays)), replace=False)
        t_all, a_all = [], []
        for d in days:
            part = members[rng.random(len(members)) < 0.7]
            if len(part) < 2:
                part = rng.choice(members, size=2, replace=False)
            order = rng.permutation(part)
            gaps = rng.integers(1, 11, size=len(order) - 1)
            t_all.append(d * DAY + int(rng.integers(8 * 60 + 30, 16 * 60)) + np.concatenate([[0], np.cumsum(gaps)]))
            a_all.append(order)
        t = np.concatenate(t_all)
        _add_logins(w, t, np.concatenate(a_all), office, country, workstation, rng.random(len(t)) < 0.02,
                    rng.random(len(t)) < 0.95)
        # the clients' own staff use MFA too (an enterprise policy)
        rows = np.flatnonzero(np.isin(b["acct"], members))
        b["mfa"][rows] = rng.random(len(rows)) < 0.9
        w.signup_min[members] = -rng.integers(400, 2500, size=len(members)) * DAY


def family_tablets(w) -> None:
    """Honest families: one home IP for all, a shared tablet, and evenings on it minutes apart."""
    rng = step_rng(w, 8)
    b = w.benign_logins
    for g in _groups(w, "family_tablet"):
        members = g.members
        home_ip, home = w.home_ip[members[0]], w.home[members[0]]
        tablet = w.ids.devices(1)[0]
        rows = np.flatnonzero(np.isin(b["acct"], members))
        at_home = rows[b["ip"][rows] == w.home_ip[b["acct"][rows]]]
        b["ip"][at_home], b["country"][at_home] = home_ip, _COUNTRY[home]
        on_tablet = rows[rng.random(len(rows)) < 0.35]
        b["device"][on_tablet] = tablet
        w.home[members] = home  # one household, one country (also in users)
        t_all, a_all = [], []
        for d in rng.choice(w.cfg.days, size=int(rng.integers(3, 11)), replace=False):
            order = rng.permutation(members)[:int(rng.integers(2, len(members) + 1))]
            gaps = rng.integers(2, 31, size=len(order) - 1)
            t_all.append(d * DAY + int(rng.integers(18 * 60, 22 * 60)) + np.concatenate([[0], np.cumsum(gaps)]))
            a_all.append(order)
        t = np.concatenate(t_all)
        _add_logins(w, t, np.concatenate(a_all), home_ip, _COUNTRY[home], tablet, rng.random(len(t)) < 0.03,
                    rng.random(len(t)) < 0.3)


def drop_normal_life(w) -> None:
    """Accounts that exist only for the fraud (farm accounts, mules, carrier-NAT ones) lose their ordinary logins."""
    b = w.benign_logins
    keep = ~w.no_life[b["acct"]]
    for k in list(b):
        b[k] = b[k][keep]


def shape_tables(w) -> None:
    """Reputation of the IPs the shapes added, and users, payments, findings and EC2 for their accounts.

    Rows of everyone else stay exactly as the earlier steps drew them; rows of IPs no login
    uses any more (the home IPs of accounts that lost their ordinary life) are dropped.
    """
    rng = step_rng(w, 20)
    _shape_reputation(w, rng)
    names = w.acct_names
    grouped = w.group_of >= 0
    kinds = np.array([g.kind for g in w.groups] + [""], dtype=object)[w.group_of]  # group_of -1 picks the ""
    fraud = grouped & (kinds != "msp") & (kinds != "family_tablet")

    u = w.users
    cols = {c: u[c].to_numpy(dtype=object, copy=True) for c in ("signup_ts", "email_domain", "country")}
    s = ~np.isnan(w.signup_min)
    signup = w.start + pd.to_timedelta(w.signup_min[s], unit="min")
    cols["signup_ts"][s] = signup.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object)
    d = pd.notna(w.domain_override)
    cols["email_domain"][d] = w.domain_override[d]
    c = pd.notna(w.country_override)
    cols["country"][c] = w.country_override[c]
    enterprise = u["is_enterprise"].to_numpy(copy=True)
    enterprise[fraud] = 0
    enterprise[kinds == "msp"] = 1
    w.users = u = u.assign(is_enterprise=enterprise, **cols)

    _shape_payments(w, rng, fraud | (kinds == "msp"), kinds, u)
    # the shapes' accounts are never taken over, so any finding on them would be label noise
    w.findings = w.findings[~w.findings["account_id"].isin(names[fraud | (kinds == "msp")])].reset_index(drop=True)
    _shape_ec2(w, rng)


def _shape_reputation(w, rng) -> None:
    present = np.isin(w.ip_ids, w.uniq_ip)
    rep_rows = present[w.has_reputation]
    new = np.setdiff1d(w.uniq_ip, w.ip_ids)
    kind = np.array([w.new_ip_kind.get(int(i), "other") for i in new], dtype=object)
    kind[np.isin(new, np.concatenate(w.ring_proxies))] = "ring_proxy"
    # residential and mobile exits look like anyone's home or phone: that is what the fraudster pays for
    lo = np.select([kind == "ring_proxy", kind == "office"], [45, 0], 5)
    hi = np.select([kind == "ring_proxy", kind == "office"], [95, 15], 45)
    risk = rng.uniform(lo, hi)
    tor = (kind == "ring_proxy") & (rng.random(len(new)) < 0.25)
    mobile = np.array([w.new_ip_mobile.get(int(i), False) for i in new], dtype=bool)
    asn = np.where(mobile, 20000 + (new % 50), rng.integers(1000, 99999, size=len(new)))  # carriers' ASNs, as hubs'
    keep = rng.random(len(new)) >= w.cfg.missing_reputation_share
    new_names = ip_text(new)
    w.ip_reputation = pd.concat([
        w.ip_reputation[rep_rows],
        pd.DataFrame({"ip": new_names[keep], "risk_score": np.round(risk[keep]).astype(np.int64),
                      "asn": asn[keep].astype(np.int64), "is_tor": tor[keep].astype(np.int64)})], ignore_index=True)
    w.ip_ids = np.concatenate([w.ip_ids[present], new])
    w.ip_names = np.concatenate([w.ip_names[present], new_names])
    w.ip_kind = np.concatenate([w.ip_kind[present], kind])
    w.has_reputation = np.concatenate([w.has_reputation[present], keep])


def _shape_payments(w, rng, redo: np.ndarray, kinds: np.ndarray, users: pd.DataFrame) -> None:
    """Plain payments for the shapes' accounts, never before signup: bad ones for rings, clean invoices for MSPs.

    With the money side on, only the draws are made (:mod:`graphfraud.synth.money` makes the payments).
    """
    who = np.flatnonzero(redo)
    signup_day = ((pd.to_datetime(users["signup_ts"].to_numpy()[who]) - w.start) / pd.Timedelta(days=1)).to_numpy()
    lo = np.maximum(-90, np.ceil(signup_day)).astype(np.int64)
    hi = np.full(len(who), w.cfg.days - 1)
    k = kinds[who]
    n = np.where(rng.random(len(who)) < 0.9, rng.integers(3, 12, size=len(who)), 0)
    p_bad = np.full(len(who), 0.12)
    p_bad[k == "msp"] = 0.0
    short = w.no_life[who]  # accounts that live only for the fraud pay while they are used
    hi[short] = np.minimum(w.cfg.days - 1, (w.last_t[who][short] + 2 * DAY) // DAY)
    n[short] = rng.integers(0, 3, size=int(short.sum()))
    farm = k == "device_farm"
    p_bad[farm] = 0.35  # stolen cards on throwaway accounts
    n[hi < lo] = 0
    pa = np.repeat(np.arange(len(who)), n)
    pday = lo[pa] + (rng.random(len(pa)) * (hi[pa] - lo[pa] + 1)).astype(np.int64)
    bad = rng.random(len(pa)) < p_bad[pa]
    status = np.where(bad, np.where(rng.random(len(pa)) < 0.6, "CHARGEBACK", "DECLINED"), "PAID").astype(object)
    method = rng.choice(["CARD", "INVOICE", "WIRE"], size=len(pa), p=[0.6, 0.3, 0.1]).astype(object)
    method[k[pa] == "msp"] = rng.choice(["INVOICE", "WIRE"], size=int((k[pa] == "msp").sum()))
    amount = np.round(rng.lognormal(4.5, 0.8, size=len(pa)), 2)
    if w.cfg.money_side:
        return  # the money side makes the payments; drawn all the same, so _shape_ec2's draws stay as they were
    new = pd.DataFrame({
        "payment_ts": (w.start + pd.to_timedelta(pday, unit="D")).strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
        "account_id": w.acct_names[who[pa]], "method": method, "amount_usd": amount, "status": status})
    old = w.payments[~w.payments["account_id"].isin(w.acct_names[who])]
    w.payments = pd.concat([old, new], ignore_index=True).sort_values(
        ["payment_ts", "account_id"], kind="stable").reset_index(drop=True)


def _shape_ec2(w, rng) -> None:
    ec2 = w.ec2[~w.ec2["account_id"].isin(w.acct_names[w.no_life])]
    if w.shape_ec2_parts:
        E = {k: np.concatenate([p[k] for p in w.shape_ec2_parts]) for k in w.shape_ec2_parts[0]}
        t = np.clip(E["t"], 0, w.total_min - 1)
        new = pd.DataFrame({
            "event_ts": w.minute_text[t], "account_id": w.acct_names[E["acct"]], "action": E["action"].astype(object),
            "instance_id": np.array([f"i-{x:08d}" for x in rng.integers(0, 10**8, size=len(t))], dtype=object),
            "region": E["region"].astype(object)})
        ec2 = pd.concat([ec2, new], ignore_index=True)
    w.ec2 = ec2.sort_values("event_ts", kind="stable").reset_index(drop=True)


def truth_ring_ids(w) -> np.ndarray:
    """Each account's ring (lockstep or shape), ``None`` outside rings."""
    out = np.array([f"R{w.chunk:03d}-{r:03d}" if r >= 0 else None for r in w.ring_of], dtype=object)
    for g in w.groups:
        if g.shape:
            out[g.members] = g.id
    return out


def truth_ring_rows(w) -> list[pd.DataFrame]:
    """``ring_id, account_id, shape`` for the shapes' rings (the lockstep ones are in ``ring_rows``)."""
    return [pd.DataFrame({"ring_id": g.id, "account_id": w.acct_names[g.members], "shape": g.shape})
            for g in w.groups if g.shape and g.kind != "small_lockstep"]


def truth_honest_groups(w) -> pd.DataFrame:
    """``group_id, kind, account_id``: households, family tablets, MSPs and public IPs shared by honest accounts."""
    frames = [pd.DataFrame({"group_id": g.id, "kind": g.kind, "account_id": w.acct_names[g.members]})
              for g in w.groups if not g.shape]
    hh = np.flatnonzero(w.household_of >= 0)
    frames.append(pd.DataFrame({"group_id": [f"H{w.chunk:03d}-{h:04d}" for h in w.household_of[hh]],
                                "kind": "household", "account_id": w.acct_names[hh]}))
    # hotels and airports abroad: travel IPs shared by travellers who are in no ring
    travel = np.concatenate(list(w.travel_ips.values()))
    ip = np.concatenate([p["ip"] for p in w.login_parts])
    acct = np.concatenate([p["acct"] for p in w.login_parts])
    in_ring = pd.notna(truth_ring_ids(w))
    sel = np.isin(ip, travel) & ~in_ring[acct]
    pairs = pd.DataFrame({"ip": ip[sel], "acct": acct[sel]}).drop_duplicates()
    pairs = pairs[pairs.groupby("ip")["acct"].transform("size") >= 2].sort_values(["ip", "acct"])
    codes = pd.factorize(pairs["ip"], sort=True)[0]
    frames.append(pd.DataFrame({"group_id": [f"P{w.chunk:03d}-{c:04d}" for c in codes], "kind": "public_ip",
                                "account_id": w.acct_names[pairs["acct"].to_numpy()]}))
    cols = ["group_id", "kind", "account_id"]
    return pd.concat([f[cols] for f in frames], ignore_index=True)
