"""Minimal implementations of each stage: the yardsticks ``bench_stages.py`` measures graphfraud against.

Each function does the core computation of one stage in the plainest fast way
(Arrow and numpy on integer codes) and nothing else: no validation, no rejected-row
accounting, no period bookkeeping, no explanations. ``bench_stages.py`` checks that
each gives the same numbers as graphfraud's stage before it prints the ratio, so a
ratio says what the library's extra work costs, never that it computes less.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa


def _uniq(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort and mask: np.unique is far slower on millions of int64 under numpy 2.4)."""
    x = np.sort(x)
    return x[np.append(True, x[1:] != x[:-1])] if len(x) else x


# ------------------------------------------------------------------------------------------- load

def load_sqlite(path) -> dict[str, pa.Table]:
    """Every contract table read through sqlite3, text dictionary-encoded, timestamps parsed once per distinct value."""
    from graphfraud.case.schema import TABLE_NAMES, TABLES

    conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    out = {}
    try:
        for name in TABLE_NAMES:
            cur = conn.execute(f'SELECT * FROM "{name}"')
            cols = [d[0].lower() for d in cur.description]
            rows = cur.fetchall()
            values = list(zip(*rows)) if rows else [()] * len(cols)
            arrays = {}
            for col, vals in zip(cols, values):
                kind = TABLES[name].column(col).kind if col in TABLES[name].column_names else "text"
                arr = pa.array(vals, from_pandas=True)
                if pa.types.is_string(arr.type) or pa.types.is_null(arr.type):
                    arr = arr.cast(pa.string()).dictionary_encode()
                    if kind == "ts":
                        parsed = pd.to_datetime(pd.Series(arr.dictionary.to_numpy(zero_copy_only=False)),
                                                format="%Y-%m-%d %H:%M:%S").to_numpy()
                        idx = arr.indices.to_numpy(zero_copy_only=False)
                        arr = pa.array(parsed[idx])
                arrays[col] = arr
            out[name] = pa.table(arrays)
    finally:
        conn.close()
    return out


# ---------------------------------------------------------------------------------------- signals

def signals(logins: pd.DataFrame, rep: pd.DataFrame, window_days: float = 14, high_risk: float = 80) -> pd.DataFrame:
    """The four signals and the composite on codes, for the accounts with a login in the window."""
    ts = logins["event_ts"].to_numpy(dtype="datetime64[ns]")
    as_of = ts.max()
    start = as_of - np.timedelta64(int(window_days * 86400), "s")
    w, h = (ts >= start) & (ts <= as_of), ts < start
    acct = logins["account_id"].cat.codes.to_numpy().astype(np.int64)
    n = len(logins["account_id"].cat.categories)
    ip = logins["ip"].cat.codes.to_numpy()
    ip_rep = rep.set_index("ip").reindex(logins["ip"].cat.categories.astype(object))
    risk = np.append(ip_rep["risk_score"].to_numpy(dtype=float), np.nan)[ip]
    tor = np.append(ip_rep["is_tor"].fillna(False).to_numpy(dtype=bool), False)[ip]
    fail = (logins["result"] == "FAIL").to_numpy()
    wa = acct[w]
    cnt = np.bincount(wa, minlength=n)
    d = np.maximum(cnt, 1)

    def new_rate(col):
        v = logins[col].cat.codes.to_numpy().astype(np.int64)
        width = v.max() + 1
        ok = v >= 0
        wk = _uniq(acct[w & ok] * width + v[w & ok])
        hk = _uniq(acct[h & ok] * width + v[h & ok])
        new = ~np.isin(wk, hk)
        tot = np.bincount(wk // width, minlength=n)
        rate = np.divide(np.bincount(wk[new] // width, minlength=n), tot, out=np.zeros(n), where=tot > 0)
        return np.where(np.bincount(acct[h], minlength=n) > 0, rate, 1.0)

    out = pd.DataFrame({"account_id": np.asarray(logins["account_id"].cat.categories, dtype=object),
                        "failed_login_rate": np.bincount(wa, weights=fail[w], minlength=n) / d,
                        "new_country_rate": new_rate("country_iso"),
                        "tor_login_count": np.bincount(wa, weights=tor[w], minlength=n),
                        "high_risk_ip_share": np.bincount(wa, weights=(risk >= high_risk)[w], minlength=n) / d})
    out = out[cnt > 0]
    out["composite"] = (0.4 * out["failed_login_rate"] + 0.3 * out["new_country_rate"]
                        + 0.2 * (out["tor_login_count"] > 0) + 0.1 * out["high_risk_ip_share"])
    return out.sort_values("account_id").reset_index(drop=True)


# ------------------------------------------------------------------------------- ring evidence

def coactive_pairs(logins: pd.DataFrame, exclude_ips, max_accounts: int = 100,
                   scales=((120, 1), (600, 1), (3600, 1), (86400, 0))) -> dict:
    """Per time scale: pair keys and their distinct co-active bin pairs, on shared non-hub IPs and devices.

    Successful logins only, campaign IPs left out; pair key = ``a * n + b`` over the
    sorted account ids (what ``pair_evidence``'s codes are).
    """
    ok = (logins["result"] == "SUCCESS").to_numpy()
    ts = logins["event_ts"].to_numpy(dtype="datetime64[s]").view(np.int64)[ok]
    acc_cat = logins["account_id"].cat
    order = np.argsort(np.asarray(acc_cat.categories, dtype=object))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    acct = rank[acc_cat.codes.to_numpy()[ok]]
    n = np.int64(len(order))
    ents, accs, tss = [], [], []
    offset = 0
    for col, drop in (("device_id", ()), ("ip", set(map(str, exclude_ips)))):
        cat = logins[col].cat
        c = cat.codes.to_numpy()[ok].astype(np.int64)
        if drop:
            c = np.where(np.append(np.isin(np.asarray(cat.categories, dtype=object), list(drop)), True)[c], -1, c)
        keep = c >= 0
        ents.append(c[keep] + offset)
        accs.append(acct[keep])
        tss.append(ts[keep])
        offset += len(cat.categories)
    ent, acc, t = np.concatenate(ents), np.concatenate(accs), np.concatenate(tss)
    ea = _uniq(ent * n + acc)
    pop = np.bincount(ea // n, minlength=offset)
    keep = (pop[ent] >= 2) & (pop[ent] <= max_accounts)
    ent, acc, t = ent[keep], acc[keep], t[keep]
    out = {}
    for width, tol in scales:
        b = t // width
        span = np.int64(b.max() - b.min() + tol + 2)
        key = _uniq((ent * span + (b - b.min())) * n + acc)  # distinct (entity, bin, account), sorted
        eb, a = key // n, key % n
        end = np.searchsorted(eb, eb + tol, side="right")
        cnt = end - np.arange(len(eb)) - 1
        i = np.repeat(np.arange(len(eb)), cnt)
        j = i + 1 + (np.arange(len(i)) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        ai, aj = a[i], a[j]
        diff = ai != aj
        i, j, ai, aj = i[diff], j[diff], ai[diff], aj[diff]
        lo, hi = np.minimum(ai, aj), np.maximum(ai, aj)
        bi, bj = eb[i] % span, eb[j] % span
        b_lo, b_hi = np.where(ai < aj, bi, bj), np.where(ai < aj, bj, bi)
        # the two bins are at most `tol` apart: (pair, bin of a, offset of b's bin) packs into one int64
        wide = np.int64(2 * tol + 1)
        trip = _uniq(((lo * n + hi) * span + b_lo) * wide + (b_hi - b_lo + tol))  # distinct (pair, bin, bin)
        pk = trip // wide // span
        starts = np.flatnonzero(np.append(True, pk[1:] != pk[:-1])) if len(pk) else np.zeros(0, np.int64)
        counts = np.diff(np.append(starts, len(pk)))
        out[(width, tol)] = (pk[starts], counts)
    return out


# ------------------------------------------------------------------------------------- hubs

def hubs(activity_entity: np.ndarray, activity_account: np.ndarray, n_entities: int, max_accounts: int = 100):
    """Accounts per entity and the entities above ``max_accounts``."""
    n_acc = np.int64(activity_account.max() + 1) if len(activity_account) else np.int64(1)
    ea = _uniq(activity_entity.astype(np.int64) * n_acc + activity_account)
    pop = np.bincount(ea // n_acc, minlength=n_entities)
    return pop, np.flatnonzero(pop > max_accounts)


# -------------------------------------------------------------------------------- baselines

def daily_fail_rate(logins: pd.DataFrame) -> pd.DataFrame:
    day = logins["event_ts"].dt.floor("D")
    fail = (logins["result"] == "FAIL")
    g = pd.DataFrame({"day": day, "fail": fail, "acct": logins["account_id"].cat.codes}).groupby("day")
    out = pd.DataFrame({"logins": g.size(), "fails": g["fail"].sum(), "accounts": g["acct"].nunique()})
    out["fail_rate"] = out["fails"] / out["logins"]
    return out.reset_index()


# ------------------------------------------------------------------------------ case folders

def case_folders(logins: pd.DataFrame, rings: pd.DataFrame, out_dir: Path) -> int:
    """Per ring: its members' logins as a CSV and a page with the ring's account-IP graph as JSON."""
    member = rings.set_index("account_id")["ring_id"]
    acct = logins["account_id"].astype(object)
    mine = logins[acct.isin(member.index).to_numpy()].assign(ring_id=lambda d: member.reindex(
        d["account_id"].astype(object)).to_numpy())
    written = 0
    for ring_id, g in mine.groupby("ring_id", sort=True):
        folder = out_dir / ring_id
        folder.mkdir(parents=True, exist_ok=True)
        g.drop(columns="ring_id").to_csv(folder / "evidence_logins.csv", index=False)
        edges = g[["account_id", "ip"]].astype(str).drop_duplicates().values.tolist()
        (folder / "graph.html").write_text("<html><body><script>const edges = " + json.dumps(edges)
                                           + ";</script><script src='../_assets/vis-network.min.js'></script>"
                                           "</body></html>")
        written += 1
    return written


# ------------------------------------------------------------------------------- graph records

def used_edges(logins: pd.DataFrame, kind_col: str) -> pd.DataFrame:
    """Account-entity edges: string ends, logins, fails, first and last time, distinct success times."""
    a = logins["account_id"].cat.codes.to_numpy().astype(np.int64)
    e = logins[kind_col].cat.codes.to_numpy().astype(np.int64)
    ok = e >= 0
    a, e = a[ok], e[ok]
    ts = logins["event_ts"].to_numpy(dtype="datetime64[s]").view(np.int64)[ok]
    fail = (logins["result"] == "FAIL").to_numpy()[ok]
    success = (logins["result"] == "SUCCESS").to_numpy()[ok]
    n_e = np.int64(len(logins[kind_col].cat.categories))
    key = a * n_e + e
    order = np.argsort(key, kind="stable")
    key, ts, fail, success = key[order], ts[order], fail[order], success[order]
    starts = np.flatnonzero(np.append(True, key[1:] != key[:-1]))
    # the distinct success times of each edge (what the stores keep as evidence)
    sk, st = key[success], ts[success]
    o = np.lexsort((st, sk))
    sk, st = sk[o], st[o]
    d = np.append(True, (sk[1:] != sk[:-1]) | (st[1:] != st[:-1]))
    sk, st = sk[d], st[d]
    lo, hi = np.searchsorted(sk, key[starts]), np.searchsorted(sk, key[starts], side="right")
    times = [st[x:y] for x, y in zip(lo.tolist(), hi.tolist())]
    accts = np.asarray(logins["account_id"].cat.categories, dtype=object)[key[starts] // n_e]
    ents = np.asarray(logins[kind_col].cat.categories, dtype=object)[key[starts] % n_e]
    return pd.DataFrame({"src": ["account:" + x for x in accts], "dst": [f"{kind_col}:" + x for x in ents],
                         "logins": np.diff(np.append(starts, len(key))),
                         "fails": np.add.reduceat(fail.astype(np.int64), starts),
                         "first": np.minimum.reduceat(ts, starts), "last": np.maximum.reduceat(ts, starts),
                         "success_times": times})
