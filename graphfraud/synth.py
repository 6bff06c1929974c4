"""Synthetic fraud cases with ground truth, deterministic by seed.

The generator reproduces what makes real case data hard: carrier NAT / mobile IPs
shared by hundreds of honest accounts, VPN and TOR exits used by honest people,
households sharing an IP and sometimes a device, travellers, credential-stuffing
IPs failing against many random victims (a few of whom are taken over and then
launch EC2 bursts across regions), and colluding rings that log in to their
accounts through the same proxies and devices within minutes of each other while
each member also behaves normally (camouflage).

Accounts are generated in independent chunks (each with its own hubs, campaigns
and rings), so a million accounts stream to SQLite without holding the whole case
in memory. Ground truth is kept apart from the case: a second SQLite file with
``truth_accounts``, ``truth_rings``, ``truth_campaigns`` and ``truth_ips``.

Examples
--------
>>> from graphfraud import synth
>>> result = synth.generate_case(300, seed=1)
>>> len(result.case.users), result.truth.rings["ring_id"].nunique() > 0
(300, True)
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .case import Case, case_from_frames
from .errors import InputError
from .schema import TABLE_NAMES, TABLES

__all__ = ["SynthConfig", "Truth", "SyntheticCase", "generate_case", "write_case", "truth_path_for", "load_truth"]

_COUNTRIES = np.array(["US", "GB", "DE", "FR", "IN", "BR", "ES", "PL", "NL", "JP", "CA", "AU", "IT", "SE", "MX", "SG"])
_COUNTRY_P = np.array([30, 10, 9, 7, 8, 6, 5, 4, 4, 4, 4, 3, 3, 1, 1, 1], dtype=float)
_COUNTRY_P /= _COUNTRY_P.sum()
_FOREIGN = np.array(["RU", "CN", "VN", "NG", "RO", "UA", "KP", "IR"])
_REGIONS = np.array(["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1",
                     "ap-southeast-1", "ap-northeast-1", "sa-east-1", "ca-central-1"])
_DOMAINS = np.array(["example.com", "corp.com", "pro.net", "mail.org", "startup.io", "shop.co"])
_THROWAWAY = np.array(["tempmail.xyz", "quickbox.top", "mailnow.click", "fastinbox.icu"])
_BENIGN_ACTIONS = np.array(["RUN_INSTANCES", "TERMINATE_INSTANCES", "CREATE_SECURITY_GROUP", "CREATE_KEY_PAIR",
                            "ALLOCATE_ADDRESS", "DESCRIBE_INSTANCES"])
_FINDING_TYPES = np.array(["CREDENTIAL_EXFIL", "ABUSE_COMPUTE", "BRUTE_FORCE"])


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator; the defaults give ~30 logins per account over 60 days."""

    n_accounts: int = 2000
    seed: int = 0
    start: str = "2025-08-01"
    days: int = 60
    login_rate: float = 0.5
    chunk_size: int = 25_000
    household_share: float = 0.05
    mobile_share: float = 0.35
    vpn_share: float = 0.04
    traveller_share: float = 0.06
    accounts_per_hub: int = 300
    accounts_per_campaign: int = 1000
    accounts_per_ring: int = 350
    ring_size: tuple[int, int] = (4, 12)
    missing_reputation_share: float = 0.02

    def __post_init__(self):
        if self.n_accounts < 50:
            raise InputError(f"n_accounts must be at least 50 to hold rings and campaigns, got {self.n_accounts}")
        if self.days < 21:
            raise InputError(f"days must be at least 21 (a 14-day window plus history), got {self.days}")


@dataclass(frozen=True, eq=False)
class Truth:
    """What really happened in a synthetic case (never part of the case itself)."""

    accounts: pd.DataFrame
    rings: pd.DataFrame
    campaigns: pd.DataFrame
    ips: pd.DataFrame


@dataclass(frozen=True, eq=False)
class SyntheticCase:
    case: Case
    truth: Truth
    config: SynthConfig


def generate_case(n_accounts: int = 2000, seed: int = 0, **options) -> SyntheticCase:
    """Generate a case in memory (fine up to ~100k accounts) with its ground truth.

    Examples
    --------
    >>> from graphfraud.synth import generate_case
    >>> a, b = generate_case(200, seed=3), generate_case(200, seed=3)
    >>> a.case.logins.equals(b.case.logins)
    True
    """
    cfg = SynthConfig(n_accounts=n_accounts, seed=seed, **options)
    parts = [_chunk(cfg, i, lo, hi) for i, (lo, hi) in enumerate(_chunks(cfg))]
    tables = {name: pd.concat([p[0][name] for p in parts], ignore_index=True) for name in TABLE_NAMES}
    truth = {name: pd.concat([p[1][name] for p in parts], ignore_index=True) for name in parts[0][1]}
    case = case_from_frames(**tables)
    return SyntheticCase(case, Truth(**truth), cfg)


def truth_path_for(case_path: str | Path) -> Path:
    """Where :func:`write_case` puts the ground truth for ``case_path``."""
    p = Path(case_path)
    return p.with_name(p.stem + ".truth.sqlite")


def write_case(path: str | Path, n_accounts: int = 2000, seed: int = 0, progress=None, **options) -> Path:
    """Generate a case chunk by chunk straight into a SQLite file (memory stays bounded).

    The ground truth goes to :func:`truth_path_for` ``(path)``. Existing files are replaced.
    Returns the path of the truth file.
    """
    cfg = SynthConfig(n_accounts=n_accounts, seed=seed, **options)
    path = Path(path)
    truth_path = truth_path_for(path)
    for p in (path, truth_path):
        if p.exists():
            p.unlink()
    conn, tconn = sqlite3.connect(path), sqlite3.connect(truth_path)
    try:
        for name in TABLE_NAMES:
            cols = ", ".join(f"{c.name} {_SQLTYPE[c.kind]}" for c in TABLES[name].columns)
            conn.execute(f"CREATE TABLE {name} ({cols})")
        bounds = _chunks(cfg)
        for i, (lo, hi) in enumerate(bounds):
            tables, truth = _chunk(cfg, i, lo, hi)
            for name, df in tables.items():
                _append(conn, name, df)
            for name, df in truth.items():
                df.to_sql(f"truth_{name}", tconn, if_exists="append", index=False)
            conn.commit()
            tconn.commit()
            if progress:
                progress(hi, cfg.n_accounts)
        meta = pd.DataFrame([{k: str(v) for k, v in asdict(cfg).items()}])
        meta.to_sql("truth_config", tconn, if_exists="replace", index=False)
        tconn.commit()
    finally:
        conn.close()
        tconn.close()
    return truth_path


def load_truth(path: str | Path) -> Truth:
    """Read the ground truth written by :func:`write_case` (give the case or the truth path)."""
    p = Path(path)
    if not p.name.endswith(".truth.sqlite"):
        p = truth_path_for(p)
    if not p.exists():
        raise InputError(f"no ground truth at {p}")
    with sqlite3.connect(p) as conn:
        return Truth(**{n: pd.read_sql_query(f"SELECT * FROM truth_{n}", conn) for n in
                        ("accounts", "rings", "campaigns", "ips")})


_SQLTYPE = {"id": "TEXT", "text": "TEXT", "ts": "TIMESTAMP", "flag": "INTEGER", "int": "INTEGER",
            "float": "REAL", "enum": "TEXT"}


def _append(conn: sqlite3.Connection, name: str, df: pd.DataFrame) -> None:
    cols = list(TABLES[name].column_names)
    arrays = [df[c].to_numpy(dtype=object) if df[c].dtype == object else df[c].tolist() for c in cols]
    conn.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})", zip(*arrays))


def _chunks(cfg: SynthConfig) -> list[tuple[int, int]]:
    n, size = cfg.n_accounts, cfg.chunk_size
    bounds = [(lo, min(lo + size, n)) for lo in range(0, n, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 50:  # never leave a chunk too small for a ring
        lo, _ = bounds.pop(-2)
        bounds[-1] = (lo, n)
    return bounds


# ----------------------------------------------------------------------------- chunk


class _Ids:
    """Allocates IP and device ids unique across chunks."""

    def __init__(self, chunk: int, chunk_size: int):
        stride = 12 * chunk_size + 10_000  # far more than a chunk ever allocates
        self.ip_next = chunk * stride
        self.dev_next = chunk * stride

    def ips(self, k: int) -> np.ndarray:
        out = np.arange(self.ip_next, self.ip_next + k, dtype=np.int64)
        self.ip_next += k
        return out

    def devices(self, k: int) -> np.ndarray:
        out = np.arange(self.dev_next, self.dev_next + k, dtype=np.int64)
        self.dev_next += k
        return out


_FIRST_OCTETS = np.array([o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198)])


def _ip_text(ids: np.ndarray) -> np.ndarray:
    """Public-looking, unique IPv4 text for each integer id."""
    ids = (np.asarray(ids, dtype=np.int64) * 2654435761) % (1 << 31)  # odd multiplier: a bijection
    first = _FIRST_OCTETS[ids % len(_FIRST_OCTETS)]
    rest = ids // len(_FIRST_OCTETS)
    parts = [first, (rest >> 16) & 255, (rest >> 8) & 255, rest & 255]
    return _join([p.astype(str) for p in parts], ".")


def _join(parts: list[np.ndarray], sep: str) -> np.ndarray:
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + sep + p.astype(object)
    return out


def _code_text(ids: np.ndarray, width: int = 12, salt: int = 0) -> np.ndarray:
    """12-character device fingerprints (base 36) from integer ids, unique per id."""
    alphabet = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
    x = (np.asarray(ids, dtype=np.uint64) * np.uint64(6364136223846793005) + np.uint64(salt * 1442695040888963407 + 1))
    digits = np.empty((len(x), width), dtype=np.uint8)
    for k in range(width):
        digits[:, k] = alphabet[(x % np.uint64(36)).astype(np.int64)]
        x //= np.uint64(36)
    return digits.view(f"S{width}").ravel().astype(str).astype(object)


def _minute_text(start: pd.Timestamp, days: int) -> np.ndarray:
    minutes = pd.date_range(start, periods=days * 1440 + 1, freq="min")
    return np.asarray(minutes.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)


def _diurnal_minutes(rng, k: int) -> np.ndarray:
    hours = np.array([1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 7, 8, 8, 7, 7, 7, 6, 5, 4, 3, 2], dtype=float)
    h = rng.choice(24, size=k, p=hours / hours.sum())
    return h * 60 + rng.integers(0, 60, size=k)


def _chunk(cfg: SynthConfig, chunk: int, lo: int, hi: int):
    rng = np.random.default_rng([cfg.seed, chunk])
    m = hi - lo
    start = pd.Timestamp(cfg.start)
    total_min = cfg.days * 1440
    minute_text = _minute_text(start, cfg.days)
    ids = _Ids(chunk, cfg.chunk_size)
    acct_names = np.array([f"A{100000 + i}" for i in range(lo, hi)], dtype=object)

    home = rng.choice(len(_COUNTRIES), size=m, p=_COUNTRY_P)
    # --- roles ------------------------------------------------------------------
    n_rings = max(1, m // cfg.accounts_per_ring)
    sizes = rng.integers(cfg.ring_size[0], cfg.ring_size[1] + 1, size=n_rings)
    perm = rng.permutation(m)
    ring_of = np.full(m, -1)
    pos = 0
    for r, s in enumerate(sizes):
        ring_of[perm[pos:pos + s]] = r
        pos += s
    free = perm[pos:]  # accounts not in a ring
    household_of = np.full(m, -1)
    n_house_members = int(cfg.household_share * m)
    hh_members = free[:n_house_members]
    hh_sizes = []
    p = 0
    while p < len(hh_members):
        s = int(min(rng.integers(2, 5), len(hh_members) - p))
        if s < 2:
            break
        household_of[hh_members[p:p + s]] = len(hh_sizes)
        hh_sizes.append(s)
        p += s
    others = free[n_house_members:]

    # --- benign infrastructure ----------------------------------------------------
    home_ip = ids.ips(m)
    for h in range(len(hh_sizes)):
        members = np.flatnonzero(household_of == h)
        home_ip[members] = home_ip[members[0]]
    n_dev = rng.integers(1, 4, size=m)
    dev_base = ids.devices(3 * m)[::3]
    shared_dev = np.full(m, -1)
    for h in range(len(hh_sizes)):
        if rng.random() < 0.4:
            members = np.flatnonzero(household_of == h)
            shared_dev[members] = ids.devices(1)[0]

    n_hubs = max(2, m // cfg.accounts_per_hub)
    hub_ids = ids.ips(n_hubs)
    hub_country = rng.choice(len(_COUNTRIES), size=n_hubs, p=_COUNTRY_P)
    mobile = rng.random(m) < cfg.mobile_share
    hub_of = np.full(m, -1)
    for c in np.unique(home[mobile]):
        idx = np.flatnonzero(mobile & (home == c))
        local = np.flatnonzero(hub_country == c)
        hub_of[idx] = hub_ids[rng.choice(local)] if len(local) else hub_ids[rng.integers(0, n_hubs, size=len(idx))]
    n_vpn = max(2, m // 800)
    vpn_ids = ids.ips(n_vpn)
    vpn_country = rng.choice(len(_COUNTRIES), size=n_vpn)
    vpn_tor = rng.random(n_vpn) < 0.3
    vpn_user = rng.random(m) < cfg.vpn_share
    travel_ips = {c: ids.ips(max(3, m // 2000)) for c in range(len(_COUNTRIES))}
    traveller = rng.random(m) < cfg.traveller_share
    trip_start = rng.integers(0, total_min - 10 * 1440, size=m)
    trip_len = rng.integers(3, 9, size=m) * 1440
    trip_country = (home + rng.integers(1, len(_COUNTRIES), size=m)) % len(_COUNTRIES)

    # --- benign logins ------------------------------------------------------------
    rate = rng.gamma(2.0, cfg.login_rate / 2.0, size=m)
    rate[ring_of >= 0] *= 0.6  # members keep a quieter normal life beside the ring's sessions
    counts = rng.poisson(rate * cfg.days)
    counts = np.maximum(counts, 1)
    acct = np.repeat(np.arange(m), counts)
    n = len(acct)
    day = rng.integers(0, cfg.days, size=n)
    t = np.minimum(day * 1440 + _diurnal_minutes(rng, n), total_min - 1)
    p_fail = rng.beta(1.2, 18, size=m)
    p_mfa = rng.beta(1.5, 2.0, size=m)
    fail = rng.random(n) < p_fail[acct]
    mfa = rng.random(n) < p_mfa[acct]
    u = rng.random(n)
    ip = home_ip[acct].copy()
    country = home[acct].copy()
    use_hub = (hub_of[acct] >= 0) & (u < 0.35)
    ip[use_hub] = hub_of[acct][use_hub]
    use_vpn = vpn_user[acct] & (u >= 0.35) & (u < 0.65)
    vpn_pick = rng.integers(0, n_vpn, size=n)
    ip[use_vpn] = vpn_ids[vpn_pick[use_vpn]]
    country[use_vpn] = vpn_country[vpn_pick[use_vpn]]
    cafe = (u > 0.96)
    ip[cafe] = ids.ips(int(cafe.sum()))
    on_trip = traveller[acct] & (t >= trip_start[acct]) & (t < trip_start[acct] + trip_len[acct])
    tc = trip_country[acct][on_trip]
    ip[on_trip] = np.array([travel_ips[c][k % len(travel_ips[c])] for c, k in
                            zip(tc, rng.integers(0, 1 << 30, size=int(on_trip.sum())))], dtype=np.int64)
    country[on_trip] = tc
    device = dev_base[acct] + rng.integers(0, 3, size=n) % n_dev[acct]
    fam = (shared_dev[acct] >= 0) & (rng.random(n) < 0.5)
    device[fam] = shared_dev[acct][fam]
    new_dev = rng.random(n) < 0.01
    device[new_dev] = ids.devices(int(new_dev.sum()))
    country_code = np.asarray(_COUNTRIES, dtype=object)[country]

    login_parts = [dict(t=t, acct=acct, ip=ip, country=country_code, fail=fail, mfa=mfa, device=device)]
    ip_kind = {"home": home_ip, "hub": hub_ids, "vpn": vpn_ids}

    # --- rings --------------------------------------------------------------------
    ring_proxies, ring_devices = [], []
    ring_rows = []
    ec2_parts = []
    for r in range(n_rings):
        members = np.flatnonzero(ring_of == r)
        proxies = ids.ips(int(rng.integers(1, 4)))
        if rng.random() < 0.3:
            proxies = np.append(proxies, vpn_ids[rng.integers(0, n_vpn)])
        ring_proxies.append(proxies)
        devs = ids.devices(int(rng.integers(1, 4)))
        ring_devices.append(devs)
        pcountry = rng.choice(len(_COUNTRIES), size=len(proxies))
        n_sessions = int(rng.integers(5, 11))
        sess_day = rng.choice(cfg.days, size=n_sessions, replace=False)
        for d in sess_day:
            t0 = d * 1440 + int(rng.integers(0, 1380))
            part = members[rng.random(len(members)) < 0.85]
            if len(part) < 2:
                part = members
            k = len(part)
            pick = rng.integers(0, len(proxies), size=k) if rng.random() < 0.5 else np.full(k, rng.integers(0, len(proxies)))
            login_parts.append(dict(
                t=np.minimum(t0 + np.sort(rng.integers(0, 40, size=k)), total_min - 1),
                acct=part, ip=proxies[pick], country=np.asarray(_COUNTRIES, dtype=object)[pcountry[pick]],
                fail=rng.random(k) < 0.05, mfa=rng.random(k) < 0.05, device=devs[rng.integers(0, len(devs), size=k)]))
        ring_rows.append(pd.DataFrame({"ring_id": f"R{chunk:03d}-{r:03d}", "account_id": acct_names[members]}))
        if rng.random() < 0.3:  # some rings mine crypto on their accounts
            k = int(rng.integers(4, 12))
            ec2_parts.append(dict(t=rng.integers(0, total_min, size=k), acct=rng.choice(members, size=k),
                                  action=np.full(k, "RUN_INSTANCES", dtype=object),
                                  region=rng.choice(_REGIONS, size=k)))

    # --- credential stuffing campaigns and takeovers -----------------------------------
    compromised = np.zeros(m, dtype=bool)
    victim = np.zeros(m, dtype=bool)
    takeover_t = np.full(m, -1)
    campaign_rows = []
    attack_ips = []
    n_campaigns = max(2, m // cfg.accounts_per_campaign)
    for c in range(n_campaigns):
        cips = ids.ips(int(rng.integers(1, 3)))
        attack_ips.append(cips)
        ccountry = rng.choice(_FOREIGN)
        k = int(min(rng.integers(40, 160), max(1, len(others) // 2)))
        vic = rng.choice(others, size=k, replace=False)
        victim[vic] = True
        t0 = int(rng.integers(3 * 1440, total_min - 3 * 1440))
        dur = int(rng.integers(120, 720))
        tries = rng.integers(1, 5, size=k)
        va = np.repeat(vic, tries)
        vt = t0 + rng.integers(0, dur, size=len(va))
        login_parts.append(dict(t=vt, acct=va, ip=cips[rng.integers(0, len(cips), size=len(va))],
                                country=np.full(len(va), ccountry, dtype=object),
                                fail=np.ones(len(va), dtype=bool), mfa=np.zeros(len(va), dtype=bool),
                                device=ids.devices(len(va))))
        taken = vic[rng.random(k) < 0.05]
        if not len(taken):
            taken = vic[:1]
        for a in taken:
            last_fail = int(vt[va == a].max())
            ts_ok = last_fail + int(rng.integers(1, 30))
            _takeover(rng, a, ts_ok, cips[0], ccountry, ids, login_parts, ec2_parts, total_min)
            compromised[a] = True
            takeover_t[a] = ts_ok
        campaign_rows.append(dict(campaign_id=f"C{chunk:03d}-{c:03d}", ip=",".join(_ip_text(cips)),
                                  victims=k, compromised=len(taken), first_minute=t0, country=ccountry))
    # targeted takeovers outside campaigns (one risky IP, a failed guess, then success)
    n_targeted = max(1, m // 1000)
    spare = others[~victim[others]]
    for a in rng.choice(spare, size=min(n_targeted, len(spare)), replace=False):
        tip = ids.ips(1)
        attack_ips.append(tip)
        cc = rng.choice(_FOREIGN)
        tf = int(rng.integers(2 * 1440, total_min - 2 * 1440))
        login_parts.append(dict(t=np.array([tf]), acct=np.array([a]), ip=tip, country=np.array([cc], dtype=object),
                                fail=np.array([True]), mfa=np.array([False]), device=ids.devices(1)))
        ts_ok = tf + int(rng.integers(5, 90))
        _takeover(rng, a, ts_ok, tip[0], cc, ids, login_parts, ec2_parts, total_min)
        compromised[a] = True
        takeover_t[a] = ts_ok

    # --- benign EC2 ---------------------------------------------------------------
    ec2_user = rng.random(m) < 0.4
    n_calls = np.where(ec2_user, rng.poisson(6, size=m), 0)
    ea = np.repeat(np.arange(m), n_calls)
    home_region = rng.integers(0, len(_REGIONS), size=m)
    second = rng.random(len(ea)) < 0.15
    region_idx = np.where(second, (home_region[ea] + 3) % len(_REGIONS), home_region[ea])
    ec2_parts.insert(0, dict(t=rng.integers(0, total_min, size=len(ea)), acct=ea,
                             action=rng.choice(_BENIGN_ACTIONS, size=len(ea), p=[.35, .25, .1, .1, .05, .15]),
                             region=_REGIONS[region_idx]))

    # --- assemble logins ------------------------------------------------------------
    L = {k: np.concatenate([p[k] for p in login_parts]) for k in login_parts[0]}
    order = np.lexsort((L["acct"], L["t"]))
    L = {k: v[order] for k, v in L.items()}
    uniq_ip, ip_inv = np.unique(L["ip"], return_inverse=True)
    uniq_dev, dev_inv = np.unique(L["device"], return_inverse=True)
    logins = pd.DataFrame({
        "event_ts": minute_text[L["t"]],
        "account_id": acct_names[L["acct"]],
        "ip": _ip_text(uniq_ip)[ip_inv],
        "country_iso": L["country"],
        "result": np.where(L["fail"], "FAIL", "SUCCESS").astype(object),
        "mfa_used": L["mfa"].astype(np.int64),
        "device_id": _code_text(uniq_dev, salt=cfg.seed)[dev_inv],
    })

    # --- ip reputation ---------------------------------------------------------------
    kind = np.full(len(uniq_ip), "other", dtype=object)
    for name, arr in ip_kind.items():
        kind[np.isin(uniq_ip, arr)] = name
    for c, arr in travel_ips.items():
        kind[np.isin(uniq_ip, arr)] = "travel"
    kind[np.isin(uniq_ip, np.concatenate(ring_proxies))& (kind == "other")] = "ring_proxy"
    kind[np.isin(uniq_ip, np.concatenate(attack_ips))] = "attack"
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
    tor[np.isin(uniq_ip, vpn_ids[vpn_tor])] = True
    tor |= (kind == "attack") & (rng.random(nip) < 0.3)
    tor |= (kind == "ring_proxy") & (rng.random(nip) < 0.25)
    asn = np.where(np.isin(kind, ["hub"]), 20000 + (uniq_ip % 50), rng.integers(1000, 99999, size=nip))
    keep_rep = rng.random(nip) >= cfg.missing_reputation_share
    ip_text = _ip_text(uniq_ip)
    ip_reputation = pd.DataFrame({"ip": ip_text[keep_rep], "risk_score": np.round(risk[keep_rep]).astype(np.int64),
                                  "asn": asn[keep_rep].astype(np.int64), "is_tor": tor[keep_rep].astype(np.int64)})

    # --- ec2 ---------------------------------------------------------------------------
    E = {k: np.concatenate([p[k] for p in ec2_parts]) for k in ec2_parts[0]}
    E["t"] = np.clip(E["t"], 0, total_min - 1)
    order = np.lexsort((E["acct"], E["t"]))
    ec2 = pd.DataFrame({
        "event_ts": minute_text[E["t"][order]],
        "account_id": acct_names[E["acct"][order]],
        "action": E["action"][order].astype(object),
        "instance_id": np.array([f"i-{x:08d}" for x in rng.integers(0, 10**8, size=len(order))], dtype=object),
        "region": E["region"][order].astype(object),
    })

    # --- users -----------------------------------------------------------------------------
    signup = rng.integers(-720, -1, size=m).astype(float)
    domain = rng.choice(_DOMAINS, size=m).astype(object)
    for r in range(n_rings):
        members = np.flatnonzero(ring_of == r)
        signup[members] = int(rng.integers(-90, -10)) + rng.integers(0, 4, size=len(members))
        domain[members] = rng.choice(_THROWAWAY)
    signup_country = np.where(rng.random(m) < 0.05, rng.integers(0, len(_COUNTRIES), size=m), home)
    users = pd.DataFrame({
        "account_id": acct_names,
        "country": np.asarray(_COUNTRIES, dtype=object)[signup_country],
        "signup_ts": (start + pd.to_timedelta(signup, unit="D")).strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
        "email_domain": domain,
        "is_enterprise": ((rng.random(m) < 0.1) & (ring_of < 0)).astype(np.int64),
    })

    # --- payments -------------------------------------------------------------------
    n_pay = np.where(rng.random(m) < 0.9, rng.integers(3, 12, size=m), 0)
    pa = np.repeat(np.arange(m), n_pay)
    pday = rng.integers(-90, cfg.days, size=len(pa))
    p_bad = np.full(len(pa), 0.004)
    p_bad[ring_of[pa] >= 0] = 0.12
    after = compromised[pa] & (pday * 1440 >= takeover_t[pa])
    p_bad[after] = 0.5
    bad = rng.random(len(pa)) < p_bad
    status = np.where(bad, np.where(rng.random(len(pa)) < 0.6, "CHARGEBACK", "DECLINED"), "PAID").astype(object)
    payments = pd.DataFrame({
        "payment_ts": (start + pd.to_timedelta(pday, unit="D")).strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
        "account_id": acct_names[pa],
        "method": rng.choice(["CARD", "INVOICE", "WIRE"], size=len(pa), p=[0.6, 0.3, 0.1]).astype(object),
        "amount_usd": np.round(rng.lognormal(4.5, 0.8, size=len(pa)), 2),
        "status": status,
    }).sort_values(["payment_ts", "account_id"], kind="stable").reset_index(drop=True)

    # --- findings: most takeovers get confirmed, plus a little label noise ----------------------
    found = compromised & (rng.random(m) < 0.7)
    noise = (ring_of < 0) & ~compromised & (rng.random(m) < 0.002)
    fa = np.flatnonzero(found | noise)
    fts = np.where(compromised[fa], takeover_t[fa] + rng.integers(1, 6, size=len(fa)) * 1440,
                   rng.integers(0, total_min, size=len(fa)))
    findings = pd.DataFrame({
        "finding_ts": (start + pd.to_timedelta(np.minimum(fts, total_min) // 1440, unit="D")).strftime(
            "%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
        "account_id": acct_names[fa],
        "type": np.where(compromised[fa], rng.choice(_FINDING_TYPES, size=len(fa)), "BRUTE_FORCE").astype(object),
        "severity": np.where(compromised[fa], "HIGH", "LOW").astype(object),
    })

    truth_accounts = pd.DataFrame({
        "account_id": acct_names,
        "ring_id": [f"R{chunk:03d}-{r:03d}" if r >= 0 else None for r in ring_of],
        "household_id": [f"H{chunk:03d}-{h:04d}" if h >= 0 else None for h in household_of],
        "compromised": compromised.astype(int),
        "stuffing_victim": victim.astype(int),
        "mobile": mobile.astype(int),
        "vpn_user": vpn_user.astype(int),
        "traveller": traveller.astype(int),
    })
    truth_ips = pd.DataFrame({"ip": ip_text, "kind": kind, "has_reputation": keep_rep.astype(int)})
    campaigns = pd.DataFrame(campaign_rows)
    campaigns["first_seen"] = minute_text[campaigns.pop("first_minute").to_numpy()]
    tables = {"users": users, "logins": logins, "ip_reputation": ip_reputation, "ec2_activity": ec2,
              "payments": payments, "security_findings": findings}
    truth = {"accounts": truth_accounts, "rings": pd.concat(ring_rows, ignore_index=True),
             "campaigns": campaigns, "ips": truth_ips}
    return tables, truth


def _takeover(rng, a, ts_ok, ip, country, ids, login_parts, ec2_parts, total_min):
    """The attacker logs in, then launches instances across regions within hours."""
    login_parts.append(dict(t=np.array([min(ts_ok, total_min - 1)]), acct=np.array([a]), ip=np.array([ip]),
                            country=np.array([country], dtype=object), fail=np.array([False]),
                            mfa=np.array([False]), device=ids.devices(1)))
    k = int(rng.integers(4, 16))
    regions = rng.choice(_REGIONS, size=k, replace=True)
    regions[:2] = rng.choice(_REGIONS, size=2, replace=False)
    ec2_parts.append(dict(t=ts_ok + rng.integers(10, 20 * 60, size=k), acct=np.full(k, a),
                          action=np.full(k, "RUN_INSTANCES", dtype=object), region=regions))
