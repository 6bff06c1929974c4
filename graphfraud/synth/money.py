"""The money side of a synthetic case: payments with merchants, currencies, IPs and devices, and their truth.

Everyday payments come at times of day people shop, each in the session of the account's
last successful everyday login before it (from that login's IP, device and country), at a
merchant of the account's usual categories, in USD or (for accounts outside the US) often in
the local currency; a traveller abroad pays in the currency of the trip. Fraud shows up as:

==================  =====================================================================
``card_testing``    3-12 payments of 0.50-5 USD at one digital-goods merchant, 2-15 s apart,
                    mostly DECLINED: device-farm accounts, taken-over accounts (from the
                    attacker's IP and device), a few lockstep ring members
``pile_up``         a mule cashing out: 6-18 payments within 5 minutes at gift-card,
                    money-transfer and electronics merchants, from the ring's IP and device
``ring_cycle``      a ring's members paying one after another, 10-90 s apart, from ONE IP and
                    device (carrier-NAT rings: one IP, their own phones; proxy-rotation rings:
                    one device, rotating exits; slow rings: hours apart, as they log in)
``high_amount``     20-80 times the account's usual amount: the attacker minutes to hours after
                    a takeover, and ring members busting out late in the case
``fraud_merchant``  payments at a merchant the rings control (some are blocklisted)
==================  =====================================================================

and honest payments that look like fraud stay honest (``fraud = 0``): ``shared_ip`` (carrier
NAT, VPN exits, hotels, offices: many honest accounts paying through one IP all day),
``shared_device`` (households and family tablets), ``busy_shopper`` (a few accounts paying four
times as often, with sprees of 6-12 payments within the hour), ``traveller`` (abroad, in
another currency, sometimes declined), ``big_ticket`` (one honest purchase 8-25 times the
usual), ``remittance`` (wires home in XAF, XOF, PHP, NGN, ...), ``legacy_import`` (payments
carried over from an older system, dated before the account's signup, without IP or device)
and ``camouflage`` (the everyday payments of ring members). The rest is ``honest``.

The ``blocklist`` lists some ring members, mules, ring proxies and devices, device-farm
emulators, the chunk's first credential-stuffing IP, a disposable e-mail domain and some
fraud merchants, most listed during the case and some before it; and, as analysts' lists do,
one false positive: the chunk's busiest carrier-NAT IP, shared by a hundred honest accounts.
``fx_rates`` holds a daily rate per non-USD currency from 120 days before the start (a small
random walk; CFA francs pegged to the euro); USD has no rows (it is 1.0).

Everything here draws from its own generators (:func:`money_rng`), never from the chunk's
shared stream or the shapes', so users, logins, ip_reputation, ec2_activity and
security_findings are the same with the money side on or off.

Examples
--------
>>> from graphfraud import synth
>>> s = synth.generate_case(2000, seed=2)
>>> s.case.payments["payment_id"].is_unique, len(s.case.payments) == len(s.truth.payments)
(True, True)
>>> sorted(s.truth.payments.loc[s.truth.payments["fraud"] == 1, "pattern"].unique())
['card_testing', 'fraud_merchant', 'high_amount', 'pile_up', 'ring_cycle']
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .config import FRAUD_PATTERNS, HONEST_PATTERNS, SynthConfig
from .shapes import step_rng
from .vocab import (COUNTRIES, CURRENCY_CODES, FX_LEVELS, LOCAL_CURRENCY, MERCHANT_CATEGORIES, PEGGED_TO_EUR,
                    REMITTANCE_CURRENCIES, THROWAWAY, ZERO_DECIMALS, code_text, diurnal_minutes, ip_text, opaque_ids,
                    second_text)

__all__ = ["money_rng", "money_side", "case_tables", "fx_series", "catalogue", "TRUTH_PAYMENT_COLUMNS",
           "BLOCKLIST_COLUMNS"]

DAY_S = 86_400
#: the fx_rates series starts this many days before the case (legacy payments are no older)
FX_LEAD_DAYS = 120

TRUTH_PAYMENT_COLUMNS = ["payment_id", "account_id", "fraud", "pattern"]
BLOCKLIST_COLUMNS = ["kind", "value", "reason", "listed_ts"]

_PATTERNS = np.array(FRAUD_PATTERNS + HONEST_PATTERNS, dtype=object)
_PAT = {p: i for i, p in enumerate(_PATTERNS)}
_STATUS = np.array(["PAID", "DECLINED", "CHARGEBACK"], dtype=object)
PAID, DECLINED, CHARGEBACK = 0, 1, 2
_METHOD = np.array(["CARD", "INVOICE", "WIRE"], dtype=object)
CARD, INVOICE, WIRE = 0, 1, 2
_CUR = {c: i for i, c in enumerate(CURRENCY_CODES)}
USD = _CUR["USD"]
_CATS = np.array(list(MERCHANT_CATEGORIES), dtype=object)
_CAT = {c: i for i, c in enumerate(_CATS)}
_CAT_SHARE = np.array([v[0] for v in MERCHANT_CATEGORIES.values()])
_CAT_SHARE = _CAT_SHARE / _CAT_SHARE.sum()
_CAT_MEDIAN = np.array([v[1] for v in MERCHANT_CATEGORIES.values()])
_CAT_SIGMA = np.array([v[2] for v in MERCHANT_CATEGORIES.values()])
_LOCAL = np.array([_CUR[c] for c in LOCAL_CURRENCY])
_COUNTRY_INDEX = {c: i for i, c in enumerate(COUNTRIES)}
# an account's usual amount: the median category's median times its own scale
_USUAL_USD = 40.0
# what card testers charge: amounts no cardholder notices
_TEST_AMOUNTS = np.array([0.5, 0.99, 1.0, 1.0, 1.5, 2.0, 2.99, 4.99])
# payment ids number each account's payments in this many bits (below 2**48 for up to 2**28 accounts)
_SEQ_BITS = 20


def money_rng(w, step: int) -> np.random.Generator:
    """The generator of one money-side step of chunk ``w.chunk``: independent of every other stream.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> w = SimpleNamespace(cfg=SimpleNamespace(seed=1), chunk=0)
    >>> int(money_rng(w, 3).integers(100)) == int(money_rng(w, 3).integers(100))
    True
    """
    return step_rng(w, step, stream=11)


# ------------------------------------------------------------------ case-wide: rates, merchants


def fx_series(cfg: SynthConfig) -> np.ndarray:
    """USD per unit of each of :data:`~graphfraud.synth.vocab.CURRENCY_CODES` (rows), one column per day.

    Day 0 is :data:`FX_LEAD_DAYS` before ``cfg.start``; the USD row is all 1.0. Read-only.
    """
    return _fx_series(cfg.seed, cfg.start, cfg.days)


@lru_cache(maxsize=8)
def _fx_series(seed: int, start: str, days: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 11, 0])
    n_days = FX_LEAD_DAYS + days + 1
    out = np.ones((len(CURRENCY_CODES), n_days))
    for code, level in FX_LEVELS.items():
        walk = np.cumsum(rng.normal(0.0, 0.012 if code == "NGN" else 0.004, size=n_days))
        out[_CUR[code]] = level * np.exp(walk - walk[FX_LEAD_DAYS])  # at the level on the first day of the case
    for code, per_eur in PEGGED_TO_EUR.items():
        out[_CUR[code]] = out[_CUR["EUR"]] / per_eur
    digits = 5 - np.floor(np.log10(out)).astype(int)  # six significant digits, as rate feeds publish them
    out = np.array([[round(v, d) for v, d in zip(row, drow)] for row, drow in zip(out, digits)])
    out.setflags(write=False)
    return out


def catalogue(cfg: SynthConfig) -> SimpleNamespace:
    """The case's merchants (the same in every chunk).

    ``ids``, ``category`` (index into the categories), ``fraud`` (the rings' own merchants,
    which no honest account uses), ``currency`` (a fraud merchant's own pricing currency,
    -1 where the payer's currency is used), ``pick(category, u)`` (an everyday merchant of each
    ``category`` by popularity, ``u`` uniform in [0, 1)) and ``of(category)`` (all everyday
    merchants of one category).
    """
    return _catalogue(cfg.seed, cfg.n_accounts)


@lru_cache(maxsize=8)
def _catalogue(seed: int, n_accounts: int) -> SimpleNamespace:
    rng = np.random.default_rng([seed, 11, 1])
    nc = len(_CATS)
    n = int(np.clip(n_accounts // 25, 40, 20_000))
    cat = np.sort(np.concatenate([np.repeat(np.arange(nc), 2), rng.choice(nc, size=n - 2 * nc, p=_CAT_SHARE)]))
    first = np.searchsorted(cat, np.arange(nc))
    rank = np.arange(n) - first[cat]
    weight = 1.0 / (rank + 1.0) ** 1.1  # a few big merchants per category, a long tail of small ones
    cum = np.cumsum(weight)
    before = np.concatenate([[0.0], cum])[first][cat]
    total = np.bincount(cat, weights=weight, minlength=nc)
    ladder = cat + (cum - before) / total[cat]  # category c's merchants fill [c, c + 1)
    n_fraud = max(1, n_accounts // 25_000)
    fraud_cat = rng.choice([_CAT["ELECTRONICS"], _CAT["GIFT_CARDS"], _CAT["DIGITAL_GOODS"]], size=n_fraud)
    fraud_cur = rng.choice([USD, _CUR["EUR"], _CUR["XAF"]], size=n_fraud, p=[0.5, 0.25, 0.25])
    names = rng.permutation(n + n_fraud) + 1
    ids = np.array([f"M-{k:05d}" for k in names], dtype=object)
    category = np.concatenate([cat, fraud_cat])
    fraud = np.r_[np.zeros(n, dtype=bool), np.ones(n_fraud, dtype=bool)]
    currency = np.r_[np.full(n, -1), fraud_cur]
    bounds = np.r_[first, n]

    def pick(category: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(ladder, category + u, side="right"), bounds[np.asarray(category) + 1] - 1)

    def of(category: int) -> np.ndarray:
        return np.arange(bounds[category], bounds[category + 1])

    return SimpleNamespace(ids=ids, category=category, fraud=fraud, currency=currency, n_everyday=n,
                           fraud_ids=np.arange(n, n + n_fraud), pick=pick, of=of)


def case_tables(cfg: SynthConfig) -> dict[str, pd.DataFrame]:
    """The rows that belong to the whole case rather than a chunk: ``fx_rates`` and the case-wide blocklist.

    The blocklist part lists one disposable e-mail domain (before the case) and, of the fraud
    merchants, the first and about half of the others.
    """
    fx = fx_series(cfg)
    start = pd.Timestamp(cfg.start)
    day_text = second_text(start, (np.arange(fx.shape[1]) - FX_LEAD_DAYS) * DAY_S)
    codes = [c for c in CURRENCY_CODES if c != "USD"]
    fx_rates = pd.DataFrame({
        "currency": np.repeat(np.array(codes, dtype=object), fx.shape[1]),
        "rate_usd": np.concatenate([fx[_CUR[c]] for c in codes]),
        "valid_from": np.tile(day_text, len(codes)),
    })
    rng = np.random.default_rng([cfg.seed, 11, 2])
    cat = catalogue(cfg)
    listed = cat.fraud_ids[(np.arange(len(cat.fraud_ids)) == 0) | (rng.random(len(cat.fraud_ids)) < 0.5)]
    end_s = cfg.days * DAY_S
    blocklist = pd.DataFrame({
        "kind": ["email_domain"] + ["merchant"] * len(listed),
        "value": [str(rng.choice(THROWAWAY))] + cat.ids[listed].tolist(),
        "reason": ["disposable e-mail provider"] + ["merchant terminated for transaction laundering"] * len(listed),
        "listed_ts": second_text(start, np.r_[-int(rng.integers(30, 400)) * DAY_S,
                                               rng.integers(end_s // 4, end_s, size=len(listed))]),
    })
    return {"fx_rates": fx_rates, "blocklist": blocklist}


# ------------------------------------------------------------------ one chunk


class _Rows:
    """Payments as parallel arrays; :meth:`add` broadcasts scalars."""

    FIELDS = ("acct", "t", "ip", "dev", "country", "merchant", "usd", "cur", "method", "status", "pattern")

    def __init__(self):
        self.parts: list[dict] = []

    def add(self, pattern: str | np.ndarray, *, acct, t, ip, dev, country, merchant, usd, cur, method, status) -> None:
        """``pattern`` is a name, or an array of pattern codes (positions in ``_PATTERNS``)."""
        values = dict(acct=acct, t=t, ip=ip, dev=dev, country=country, merchant=merchant, usd=usd, cur=cur,
                      method=method, status=status, pattern=_PAT[pattern] if isinstance(pattern, str) else pattern)
        k = max(v.size if isinstance(v, np.ndarray) else 1 for v in values.values())
        if not k or any(isinstance(v, np.ndarray) and v.size == 0 for v in values.values()):
            return
        self.parts.append({f: v if isinstance(v, np.ndarray) and v.shape == (k,)
                           else np.full(k, v, dtype=object if f == "country" else None) for f, v in values.items()})

    def concat(self) -> dict:
        if not self.parts:
            return {f: np.zeros(0, dtype=object if f == "country" else np.int64) for f in self.FIELDS}
        return {f: np.concatenate([p[f] for p in self.parts]) for f in self.FIELDS}


def _by_account(acct: np.ndarray, rows: np.ndarray, m: int) -> SimpleNamespace:
    """``rows`` (already in account order) indexed by account: ``start``, ``count``, ``pick(a, u)``."""
    count = np.bincount(acct[rows], minlength=m)
    start = np.r_[0, np.cumsum(count)[:-1]]

    def pick(a: np.ndarray, u: np.ndarray) -> np.ndarray:
        return rows[start[a] + (u * count[a]).astype(np.int64)]

    def of(a: int) -> np.ndarray:
        return rows[start[a]:start[a] + count[a]]

    return SimpleNamespace(rows=rows, start=start, count=count, pick=pick, of=of)


def _logins(w, ring_member: np.ndarray, honest_group: np.ndarray) -> SimpleNamespace:
    """Every login of the chunk in account-then-time order, with the rows payments may follow.

    ``everyday``: successful logins of the account's own life (the first login part) and of
    its honest group (MSP office, family tablet). ``fraud``: successful logins that are not the
    account's own life: ring sessions, and an attacker's login after a takeover.
    """
    parts = w.login_parts
    src = np.concatenate([np.full(len(p["t"]), i) for i, p in enumerate(parts)])
    cols = {k: np.concatenate([p[k] for p in parts]) for k in ("t", "acct", "ip", "country", "fail", "device")}
    order = np.argsort(cols["acct"].astype(np.int64) * w.total_min + cols["t"], kind="stable")
    L = SimpleNamespace(**{k: v[order] for k, v in cols.items()})
    L.t = np.minimum(L.t, w.total_min - 1)
    src = src[order]
    ok = ~L.fail
    everyday = ok & ((src == 0) | honest_group[L.acct])
    fraud = ok & (src != 0) & ~honest_group[L.acct] & (ring_member[L.acct] | w.compromised[L.acct])
    L.everyday = _by_account(L.acct, np.flatnonzero(everyday), w.m)
    L.fraud = _by_account(L.acct, np.flatnonzero(fraud), w.m)
    return L


def _rings(w) -> list[SimpleNamespace]:
    rings = [SimpleNamespace(id=f"R{w.chunk:03d}-{r:03d}", shape="lockstep", members=np.flatnonzero(w.ring_of == r))
             for r in range(w.n_rings)]
    rings += [SimpleNamespace(id=g.id, shape=g.shape, members=g.members) for g in w.groups if g.shape]
    return [r for r in rings if len(r.members)]


def money_side(w) -> None:
    """Mules (``mule``, in the truth either way) and, with ``cfg.money_side``, the chunk's payments and blocklist.

    Replaces ``payments`` and adds ``truth_payments`` and ``blocklist`` to the chunk.
    """
    m = w.m
    rings = _rings(w)
    w.mule = _mules(w, rings)
    if not w.cfg.money_side:
        return
    ring_member = np.zeros(m, dtype=bool)
    for r in rings:
        ring_member[r.members] = True
    kinds = np.array([g.kind for g in w.groups] + [""], dtype=object)[w.group_of]
    honest_group = (kinds == "msp") | (kinds == "family_tablet")
    L = _logins(w, ring_member, honest_group)
    users = w.users
    home_country = np.array([_COUNTRY_INDEX.get(c, 0) for c in users["country"].to_numpy(dtype=object)])
    signup_s = ((pd.to_datetime(users["signup_ts"].to_numpy(dtype=object)) - w.start)
                / pd.Timedelta(seconds=1)).to_numpy()
    A = SimpleNamespace(ring_member=ring_member, honest_group=honest_group, kinds=kinds, signup_s=signup_s,
                        home_cur=_LOCAL[home_country], honest=~ring_member & ~w.compromised & ~w.no_life,
                        scale=money_rng(w, 0).lognormal(0.0, 0.45, size=m))
    cat = catalogue(w.cfg)
    rows = _Rows()
    busy = _everyday(w, L, A, cat, rows)
    _honest_lookalikes(w, L, A, cat, rows, busy)
    _ring_cycles(w, L, A, cat, rows, rings)
    _pile_ups(w, L, A, cat, rows, rings)
    _card_testing(w, L, A, cat, rows, rings)
    _high_amounts(w, L, A, cat, rows, rings)
    _fraud_merchant(w, L, A, cat, rows, rings)
    _assemble(w, rows, cat)
    _blocklist(w, L, rings)


def _mules(w, rings) -> np.ndarray:
    """A tiny ring's accounts but the fraudster's own, and one cash-out account in most rings of four or more."""
    rng = money_rng(w, 1)
    mule = np.zeros(w.m, dtype=bool)
    for r in rings:
        if r.shape == "tiny":
            mule[r.members[1:]] = True  # the fraudster's own account comes first
        elif r.shape != "device_farm" and len(r.members) >= 4 and rng.random() < 0.7:
            mule[rng.choice(r.members)] = True
    return mule


def _spread(rng, k: int, lo: int, hi: int) -> np.ndarray:
    """Offsets of ``k`` events one after another, ``lo``-``hi`` seconds apart."""
    return np.r_[0, np.cumsum(rng.integers(lo, hi + 1, size=k - 1))] if k else np.zeros(0, dtype=np.int64)


def _status(rng, k: int, p_declined: float, p_chargeback: float) -> np.ndarray:
    return _status_of(rng.random(k), p_declined, p_chargeback)


def _status_of(u: np.ndarray, p_declined: float, p_chargeback: float) -> np.ndarray:
    return np.where(u < p_declined, DECLINED, np.where(u < p_declined + p_chargeback, CHARGEBACK, PAID))


def _everyday(w, L, A, cat, rows: _Rows) -> np.ndarray:
    """Everyday payments in everyday sessions; returns the would-be busy shoppers (who pay four times as often).

    Every draw is made for every account, and for every payment it would make, whatever its role
    (accounts without an everyday life drop theirs afterwards), so a ring or group added to the
    chunk leaves the other accounts' payments as they were.
    """
    rng, m, cfg = money_rng(w, 2), w.m, w.cfg
    payer = rng.random(m) >= 0.08
    busy = rng.random(m) < 0.004
    rate = rng.gamma(2.0, 0.5, size=m) * cfg.payments_per_account / 0.92 * np.where(busy, 4.0, 1.0)
    acct = np.repeat(np.arange(m), rng.poisson(rate))
    k = len(acct)
    t = rng.integers(0, cfg.days, size=k) * DAY_S + diurnal_minutes(rng, k) * 60 + rng.integers(0, 60, size=k)
    favourite = rng.choice(len(_CATS), size=m, p=_CAT_SHARE)
    category = np.where(rng.random(k) < 0.35, favourite[acct], rng.choice(len(_CATS), size=k, p=_CAT_SHARE))
    u_merchant = rng.random(k)
    spread = rng.lognormal(0.0, _CAT_SIGMA[category])
    # outside the US: the local currency for a share of payments that differs by account
    p_local = np.where(A.home_cur == USD, 0.0, rng.beta(2.0, 2.0, size=m))
    u_local, u_abroad, u_status, u_status_abroad = rng.random((4, k))
    method = rng.choice(3, size=k, p=[0.6, 0.3, 0.1])
    billed = rng.choice([INVOICE, WIRE], size=k)
    keep = payer[acct] & (L.everyday.count[acct] > 0)
    acct, t, category, u_merchant, spread, u_local, u_abroad, u_status, u_status_abroad, method, billed = (
        x[keep] for x in (acct, t, category, u_merchant, spread, u_local, u_abroad, u_status, u_status_abroad,
                          method, billed))
    row = _session(w, L.everyday, L, acct, t)
    cur = np.where(u_local < p_local[acct], A.home_cur[acct], USD)
    abroad = np.isin(L.ip[row], np.concatenate(list(w.travel_ips.values()))) & (u_abroad < 0.85)
    cur[abroad] = _LOCAL[np.array([_COUNTRY_INDEX.get(c, 0) for c in L.country[row][abroad]], dtype=np.int64)]
    status = _status_of(u_status, 0.0025, 0.0008)
    status[abroad] = _status_of(u_status_abroad[abroad], 0.03, 0.0)  # cards get declined abroad
    msp = A.kinds[acct] == "msp"
    method[msp] = billed[msp]
    pattern = np.full(len(acct), _PAT["honest"])
    pattern[np.isin(L.ip[row], _shared_ips(w))] = _PAT["shared_ip"]
    pattern[np.isin(L.device[row], _shared_devices(w, L))] = _PAT["shared_device"]
    pattern[abroad] = _PAT["traveller"]
    pattern[busy[acct] & A.honest[acct]] = _PAT["busy_shopper"]
    pattern[A.ring_member[acct]] = _PAT["camouflage"]
    rows.add(pattern, acct=acct, t=t, ip=L.ip[row], dev=L.device[row], country=L.country[row],
             merchant=cat.pick(category, u_merchant), usd=_CAT_MEDIAN[category] * A.scale[acct] * spread, cur=cur,
             method=method, status=status)
    return np.flatnonzero(busy)


def _session(w, index: SimpleNamespace, L, acct: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The login each payment belongs to: the account's last login in ``index`` before ``t`` (or its first)."""
    rows = index.rows
    keys = L.acct[rows].astype(np.int64) * w.total_min + L.t[rows]  # ascending: rows are in account-then-time order
    pos = np.searchsorted(keys, acct.astype(np.int64) * w.total_min + t // 60, side="right") - 1
    return rows[np.maximum(pos, index.start[acct])]


def _shared_ips(w) -> np.ndarray:
    """Carrier NATs, VPN exits, hotel and airport IPs, MSP offices: IPs many honest accounts use."""
    office = [ip for ip, kind in w.new_ip_kind.items() if kind == "office"]
    return np.concatenate([w.hub_ids, w.vpn_ids, *w.travel_ips.values(), np.array(office, dtype=np.int64)])


def _shared_devices(w, L) -> np.ndarray:
    """Devices two or more accounts use in their everyday logins (household devices, family tablets)."""
    rows = L.everyday.rows
    dev, n = _accounts_per(L.device[rows], L.acct[rows], w.m)
    return dev[n >= 2]


def _accounts_per(key: np.ndarray, acct: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct ``key`` (an IP or device id) and how many distinct accounts use it."""
    pairs = np.unique(key.astype(np.int64) * m + acct)
    return np.unique(pairs // m, return_counts=True)


def _honest_lookalikes(w, L, A, cat, rows: _Rows, busy: np.ndarray) -> None:
    """Shopping sprees, big-ticket purchases, remittances home and payments imported from a legacy system.

    Drawn, like the everyday payments, for every candidate whatever its role; kept for honest accounts.
    """
    rng, m = money_rng(w, 3), w.m
    has_life = A.honest & (L.everyday.count > 0)
    everyday_cats = np.array([_CAT[c] for c in ("GROCERY", "RETAIL", "FOOD", "DIGITAL_GOODS", "ELECTRONICS")])
    for a in busy:  # 1-3 sprees: 6-12 payments within the hour at everyday merchants
        for _ in range(int(rng.integers(1, 4))):
            u_row, k, minutes, local = rng.random(), int(rng.integers(6, 13)), int(rng.integers(20, 61)), rng.random()
            category = rng.choice(everyday_cats, size=k)
            offsets, u_merchant = np.sort(rng.integers(0, minutes * 60, size=k)), rng.random(k)
            spread, status = rng.lognormal(0.0, 0.4, size=k), _status(rng, k, 0.01, 0.0)
            if not has_life[a]:
                continue
            row = L.everyday.pick(np.array([a]), np.array([u_row]))[0]
            rows.add("busy_shopper", acct=a, t=L.t[row] * 60 + 60 + offsets, ip=L.ip[row], dev=L.device[row],
                     country=L.country[row], merchant=cat.pick(category, u_merchant),
                     usd=_CAT_MEDIAN[category] * A.scale[a] * spread, cur=USD if local < 0.5 else A.home_cur[a],
                     method=CARD, status=status)
    # one purchase far above the usual: a flight, a laptop
    big = np.flatnonzero(rng.random(m) < 0.015)
    n = len(big)
    u_row, offset = rng.random(n), rng.integers(60, 1800, size=n)
    category = rng.choice([_CAT["TRAVEL"], _CAT["ELECTRONICS"]], size=n)
    u_merchant, times, local = rng.random(n), rng.uniform(8, 25, size=n), rng.random(n)
    status = _status(rng, n, 0.05, 0.0)
    keep = has_life[big]
    big, u_row, offset, category, u_merchant, times, local, status = (
        x[keep] for x in (big, u_row, offset, category, u_merchant, times, local, status))
    row = L.everyday.pick(big, u_row)
    rows.add("big_ticket", acct=big, t=L.t[row] * 60 + offset, ip=L.ip[row], dev=L.device[row],
             country=L.country[row], merchant=cat.pick(category, u_merchant), usd=_USUAL_USD * A.scale[big] * times,
             cur=np.where(local < 0.5, A.home_cur[big], USD), method=CARD, status=status)
    # wires home through money-transfer services, 1-3 a case, each in the family's currency
    remit = np.flatnonzero(rng.random(m) < 0.015)
    acct = np.repeat(remit, rng.integers(1, 4, size=len(remit)))
    home = np.array([_CUR[c] for c in rng.choice(REMITTANCE_CURRENCIES, size=m)], dtype=np.int64)
    n = len(acct)
    transfer = cat.of(_CAT["MONEY_TRANSFER"])
    u_row, offset = rng.random(n), rng.integers(60, 1800, size=n)
    pick = np.minimum(rng.zipf(1.6, size=n) - 1, len(transfer) - 1)  # a few big services carry most of it
    usd, status = rng.uniform(80, 600, size=n), _status(rng, n, 0.005, 0.0)
    keep = has_life[acct]
    acct, u_row, offset, pick, usd, status = (x[keep] for x in (acct, u_row, offset, pick, usd, status))
    row = L.everyday.pick(acct, u_row)
    rows.add("remittance", acct=acct, t=L.t[row] * 60 + offset, ip=L.ip[row], dev=L.device[row],
             country=L.country[row], merchant=transfer[pick], usd=usd, cur=home[acct], method=WIRE, status=status)
    # carried over from an older system with the original date, before this account's signup, no IP or device
    old = np.flatnonzero(rng.random(m) < 0.03)
    acct = np.repeat(old, rng.integers(1, 4, size=len(old)))
    n = len(acct)
    before, category = rng.integers(3600, 10 * DAY_S, size=n), rng.choice(len(_CATS), size=n, p=_CAT_SHARE)
    u_merchant, spread = rng.random(n), rng.lognormal(0.0, _CAT_SIGMA[category])
    method, status = rng.choice([CARD, INVOICE], size=n), _status(rng, n, 0.0, 0.3)
    recent = has_life & (A.signup_s > -100 * DAY_S) & (A.signup_s < -2 * DAY_S)
    keep = recent[acct]
    acct, before, category, u_merchant, spread, method, status = (
        x[keep] for x in (acct, before, category, u_merchant, spread, method, status))
    rows.add("legacy_import", acct=acct, t=A.signup_s[acct].astype(np.int64) - before, ip=-1, dev=-1, country=None,
             merchant=cat.pick(category, u_merchant), usd=_CAT_MEDIAN[category] * A.scale[acct] * spread, cur=USD,
             method=method, status=status)


def _ring_devices(L, members: np.ndarray, fallback: int) -> np.ndarray:
    """Each member's device in its ring sessions (its first one), or ``fallback``."""
    out = np.full(len(members), fallback, dtype=np.int64)
    has = L.fraud.count[members] > 0
    out[has] = L.device[L.fraud.rows[L.fraud.start[members[has]]]]
    return out


def _ring_cycles(w, L, A, cat, rows: _Rows, rings) -> None:
    """Members paying one after another from one IP and device; slow rings hours apart, as they are worked."""
    rng = money_rng(w, 4)
    cash_out = np.concatenate([cat.of(_CAT["ELECTRONICS"]), cat.of(_CAT["GIFT_CARDS"])])
    for r in rings:
        if r.shape == "device_farm":
            continue  # farm accounts live one after another: they test cards and pay the ring's merchant
        ring_rows = np.concatenate([L.fraud.of(a) for a in r.members])
        if not len(ring_rows):
            continue
        shops = rng.choice(cash_out, size=2, replace=False)
        if r.shape == "slow":
            at = rng.choice(ring_rows, size=min(len(ring_rows), int(rng.integers(4, 11))), replace=False)
            k = len(at)
            rows.add("ring_cycle", acct=L.acct[at], t=L.t[at] * 60 + rng.integers(60, 900, size=k), ip=L.ip[at],
                     dev=L.device[at], country=L.country[at], merchant=rng.choice(shops, size=k),
                     usd=rng.uniform(80, 600, size=k), cur=USD, method=CARD, status=_status(rng, k, 0.08, 0.22))
            continue
        for _ in range(int(rng.integers(2, 6))):
            anchor = rng.choice(ring_rows)
            part = r.members[rng.random(len(r.members)) < 0.8]
            part = rng.permutation(part if len(part) >= 2 else r.members)
            k = len(part)
            t = L.t[anchor] * 60 + int(rng.integers(60, 600)) + _spread(rng, k, 10, 90)
            ip = np.full(k, L.ip[anchor])
            dev = np.full(k, L.device[anchor])
            if r.shape == "carrier_nat":  # one carrier IP, each account on its own phone
                dev = _ring_devices(L, part, L.device[anchor])
            elif r.shape == "proxy_rotation":  # one device, a fresh residential exit each time
                ip = rng.choice(L.ip[ring_rows], size=k)
            rows.add("ring_cycle", acct=part, t=t, ip=ip, dev=dev, country=L.country[anchor],
                     merchant=rng.choice(shops, size=k), usd=rng.uniform(80, 600, size=k),
                     cur=np.where(rng.random(k) < 0.8, USD, A.home_cur[part]), method=CARD,
                     status=_status(rng, k, 0.08, 0.22))


def _pile_ups(w, L, A, cat, rows: _Rows, rings) -> None:
    """Each mule cashes out 1-3 times: 6-18 payments within five minutes, from the ring's IP and device."""
    rng = money_rng(w, 5)
    shops = np.concatenate([cat.of(_CAT[c]) for c in ("GIFT_CARDS", "MONEY_TRANSFER", "ELECTRONICS")])
    for a in (a for r in rings for a in r.members if w.mule[a]):  # ring by ring, as every fraud step goes
        index = L.fraud if L.fraud.count[a] else L.everyday
        if not index.count[a]:
            continue
        mine = rng.choice(shops, size=int(rng.integers(3, 6)), replace=False)
        for _ in range(int(rng.integers(1, 4))):
            row = index.pick(np.array([a]), rng.random(1))[0]
            k = int(rng.integers(6, 19))
            offsets = np.sort(rng.integers(0, 291, size=k))
            offsets -= offsets[0]
            rows.add("pile_up", acct=a, t=L.t[row] * 60 + int(rng.integers(60, 1200)) + offsets, ip=L.ip[row],
                     dev=L.device[row], country=L.country[row], merchant=rng.choice(mine, size=k),
                     usd=rng.uniform(50, 450, size=k), cur=USD, method=rng.choice([CARD, WIRE], size=k, p=[0.7, 0.3]),
                     status=_status(rng, k, 0.10, 0.05))


def _card_testing(w, L, A, cat, rows: _Rows, rings) -> None:
    """Bursts of tiny payments seconds apart: farm accounts, a few lockstep ring members, taken-over accounts."""
    digital = cat.of(_CAT["DIGITAL_GOODS"])

    def burst(rng, a):
        row = L.fraud.pick(np.array([a]), rng.random(1))[0]
        k = int(rng.integers(3, 13))
        rows.add("card_testing", acct=a, t=L.t[row] * 60 + int(rng.integers(60, 1800)) + _spread(rng, k, 2, 15),
                 ip=L.ip[row], dev=L.device[row], country=L.country[row], merchant=rng.choice(digital),
                 usd=rng.choice(_TEST_AMOUNTS, size=k), cur=USD, method=CARD,
                 status=np.where(rng.random(k) < 0.75, DECLINED, PAID))

    rng = money_rng(w, 6)
    for r in rings:  # ring by ring, lockstep rings first: a ring added later leaves the earlier ones' draws
        p = 0.6 if r.shape == "device_farm" else 0.08 if r.shape == "lockstep" else 0.0
        for a in r.members:
            if rng.random() < p and L.fraud.count[a]:
                burst(rng, a)
    rng = money_rng(w, 10)  # the attackers after takeovers: their own stream, whatever the rings
    for a in np.flatnonzero(w.compromised):
        if rng.random() < 0.5 and L.fraud.count[a]:
            burst(rng, a)


def _high_amounts(w, L, A, cat, rows: _Rows, rings) -> None:
    """Amounts 20-80 times the usual: after a takeover (the attacker's IP and device) and ring bust-outs."""
    rng = money_rng(w, 7)
    big = np.array([_CAT["ELECTRONICS"], _CAT["GIFT_CARDS"], _CAT["TRAVEL"]])
    for a in np.flatnonzero(w.compromised):
        if not L.fraud.count[a]:
            continue
        row = L.fraud.of(a)[0]  # the attacker's login
        k = int(rng.integers(1, 4))
        rows.add("high_amount", acct=a, t=L.t[row] * 60 + np.sort(rng.integers(600, 6 * 3600, size=k)), ip=L.ip[row],
                 dev=L.device[row], country=L.country[row], merchant=cat.pick(rng.choice(big, size=k), rng.random(k)),
                 usd=_USUAL_USD * A.scale[a] * rng.uniform(20, 80, size=k), cur=USD, method=CARD,
                 status=_status(rng, k, 0.20, 0.45))
    late = int(w.total_min * 0.75)
    for r in rings:
        if r.shape in ("device_farm", "carrier_nat"):
            continue
        for a in r.members[rng.random(len(r.members)) < 0.15]:
            mine = L.fraud.of(a)
            if not len(mine) or w.mule[a]:
                continue
            row = mine[L.t[mine] >= late][:1] if (L.t[mine] >= late).any() else mine[-1:]
            merchant = cat.pick(rng.choice(big, size=1), rng.random(1))
            rows.add("high_amount", acct=a, t=L.t[row] * 60 + rng.integers(60, 3600, size=1), ip=L.ip[row],
                     dev=L.device[row], country=L.country[row], merchant=merchant,
                     usd=_USUAL_USD * A.scale[a] * rng.uniform(20, 80, size=1), cur=USD, method=CARD,
                     status=_status(rng, 1, 0.0, 0.6))


def _fraud_merchant(w, L, A, cat, rows: _Rows, rings) -> None:
    """Ring members and farm accounts paying the ring's own merchant (transaction laundering)."""
    rng = money_rng(w, 8)
    for r in rings:
        shop = rng.choice(cat.fraud_ids)
        farm = r.shape == "device_farm"
        for a in r.members[rng.random(len(r.members)) < (0.7 if farm else 0.5)]:
            index = L.fraud if (farm or rng.random() < 0.5) and L.fraud.count[a] else L.everyday
            if not index.count[a]:
                continue
            k = int(rng.integers(1, 4 if farm else 5))
            row = index.pick(np.full(k, a), rng.random(k))
            own = cat.currency[shop]
            rows.add("fraud_merchant", acct=a, t=L.t[row] * 60 + rng.integers(60, 1800, size=k), ip=L.ip[row],
                     dev=L.device[row], country=L.country[row], merchant=shop, usd=rng.uniform(40, 400, size=k),
                     cur=own if own >= 0 else USD, method=CARD, status=_status(rng, k, 0.0, 0.15))


def _assemble(w, rows: _Rows, cat) -> None:
    """The chunk's ``payments`` (contract columns, time order) and ``truth_payments``."""
    P = rows.concat()
    end_s = w.total_min * 60 - 1
    t = np.minimum(P["t"].astype(np.int64), end_s)
    order = np.lexsort((P["acct"], t))
    P = {k: v[order] for k, v in P.items()}
    t = t[order]
    n = len(t)
    fx = fx_series(w.cfg)
    day = np.clip(t // DAY_S + FX_LEAD_DAYS, 0, fx.shape[1] - 1)
    cur = P["cur"].astype(np.int64)
    usd = np.maximum(P["usd"].astype(float), 0.5)
    zero = np.isin(CURRENCY_CODES[cur], ZERO_DECIMALS)
    local = usd / fx[cur, day]
    amount = np.where(zero, np.round(local), np.round(local, 2))
    amount = np.where(cur == USD, np.round(usd, 2), np.maximum(amount, np.where(zero, 1.0, 0.01)))
    acct = P["acct"].astype(np.int64)
    # an id from the account and the payment's place among its own (in time order): opaque, unique in the
    # case, and the same for an account whatever else the chunk holds
    by_account = np.lexsort((np.arange(n), acct))
    first = np.searchsorted(acct[by_account], acct[by_account])
    seq = np.empty(n, dtype=np.int64)
    seq[by_account] = np.arange(n) - first
    ids = opaque_ids(((w.lo + acct) << _SEQ_BITS) + seq, "P", salt=w.cfg.seed)
    names = w.acct_names[acct]
    ip, dev = P["ip"].astype(np.int64), P["dev"].astype(np.int64)
    merchant = P["merchant"].astype(np.int64)
    # object columns: the frame goes straight to SQLite or the validator, so Arrow strings would be a detour
    w.payments = _frame({
        "payment_ts": second_text(w.start, t),
        "account_id": names,
        "method": _METHOD[P["method"].astype(np.int64)],
        "amount_usd": np.where(cur == USD, amount, np.nan),
        "status": _STATUS[P["status"].astype(np.int64)],
        "payment_id": ids,
        "currency": CURRENCY_CODES.astype(object)[cur],
        "amount": amount,
        "merchant_id": cat.ids[merchant],
        "merchant_category": _CATS[cat.category[merchant]],
        "ip": _text(ip, ip_text),
        "device_id": _text(dev, lambda d: code_text(d, salt=w.cfg.seed)),
        "country_iso": P["country"],
    })
    pattern = P["pattern"].astype(np.int64)
    w.truth_payments = pd.DataFrame({"payment_id": ids, "account_id": names,
                                     "fraud": (pattern < len(FRAUD_PATTERNS)).astype(int),
                                     "pattern": _PATTERNS[pattern]})


def _frame(columns: dict) -> pd.DataFrame:
    """A DataFrame whose text columns stay object arrays (pandas 3 would make them Arrow strings)."""
    return pd.DataFrame({k: pd.Series(v, dtype=object) if v.dtype == object else v for k, v in columns.items()},
                        copy=False)


def _text(ids: np.ndarray, render) -> np.ndarray:
    """Text of integer ids (rendered once per distinct id); ``-1`` is null."""
    out = np.full(len(ids), None, dtype=object)
    has = ids >= 0
    uniq, inv = np.unique(ids[has], return_inverse=True)
    out[has] = render(uniq)[inv]
    return out


def _blocklist(w, L, rings) -> None:
    """The chunk's listed accounts, IPs and devices, with a realistic false positive."""
    rng = money_rng(w, 9)
    start, end_m = w.start, w.total_min
    entries: list[tuple] = []  # (kind, id, reason, after: minute the fraud was first seen or None)

    def first_seen(accounts) -> int | None:
        rows_ = np.concatenate([L.fraud.of(a) for a in np.atleast_1d(accounts)])
        return int(L.t[rows_].min()) if len(rows_) else None

    for r in rings:
        if rng.random() < 0.5:
            who = rng.choice(r.members, size=min(len(r.members), int(rng.integers(1, 4))), replace=False)
            entries += [("account", a, "chargeback fraud, linked accounts", first_seen(a)) for a in who]
        ring_rows = np.concatenate([L.fraud.of(a) for a in r.members])
        if not len(ring_rows):
            continue
        if r.shape in ("lockstep", "slow") and rng.random() < 0.3:
            ips, n = np.unique(L.ip[ring_rows], return_counts=True)
            entries.append(("ip", ips[np.argmax(n)], "proxy used by a fraud ring", first_seen(r.members)))
        if r.shape == "device_farm" and rng.random() < 0.7:
            entries.append(("device", L.device[ring_rows[0]], "emulator (device farm)", first_seen(r.members)))
        elif r.shape != "carrier_nat" and rng.random() < 0.25:
            devs, n = np.unique(L.device[ring_rows], return_counts=True)
            entries.append(("device", devs[np.argmax(n)], "device shared by a fraud ring", first_seen(r.members)))
    listed = {e[1] for e in entries if e[0] == "account"}
    for a in np.flatnonzero(w.mule):
        if rng.random() < 0.3 and a not in listed:
            entries.append(("account", a, "money mule reported by the receiving bank", first_seen(a)))
    if w.attack_ips:
        entries.append(("ip", w.attack_ips[0][0], "credential stuffing", int(w.campaign_rows[0]["first_minute"])))
    # the false positive: a busy carrier NAT listed after one card-testing report; a hundred honest accounts use it
    hub = _busiest_hub(w, L)
    if hub is not None:
        entries.append(("ip", hub, "card testing reported by the acquirer", None))
    kind = np.array([e[0] for e in entries], dtype=object)
    value = np.empty(len(entries), dtype=object)
    for k, render in (("account", lambda x: w.acct_names[x]), ("ip", ip_text),
                      ("device", lambda d: code_text(d, salt=w.cfg.seed))):
        sel = kind == k
        if sel.any():
            value[sel] = render(np.array([e[1] for e in entries], dtype=np.int64)[sel])
    # a quarter listed before the case (from earlier cases); the rest days after the fraud was first seen
    after = np.array([-1 if e[3] is None else e[3] for e in entries], dtype=np.int64)
    before = rng.random(len(entries)) < 0.25
    during = np.where(after >= 0, after + rng.integers(12 * 60, 10 * 1440, size=len(entries)),
                      rng.integers(0, end_m, size=len(entries)))
    earlier = -rng.integers(1, 365, size=len(entries)) * 1440 - rng.integers(0, 1440, size=len(entries))
    minute = np.where(before, earlier, np.minimum(during, end_m - 1))
    w.blocklist = pd.DataFrame({"kind": kind, "value": value, "reason": [e[2] for e in entries],
                                "listed_ts": second_text(start, minute * 60)}, columns=BLOCKLIST_COLUMNS)


def _busiest_hub(w, L):
    """The carrier-NAT IP most honest accounts use in their everyday logins (None if the chunk has none)."""
    rows = L.everyday.rows
    on_hub = rows[np.isin(L.ip[rows], w.hub_ids)]
    if not len(on_hub):
        return None
    hubs, n = _accounts_per(L.ip[on_hub], L.acct[on_hub], w.m)
    return hubs[np.argmax(n)]
