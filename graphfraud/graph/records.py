"""The property graph as two tables, vertices and edges: what every graph store is loaded from.

One function turns a case into these records, so the NetworkX backend, the
Gremlin backend and the Neptune bulk-load export all hold the very same graph.
The evidence the ring scoring needs (who logged in successfully from which IP or
device, and when) travels on the account–IP and account–device edges as
``success_us``: the distinct successful-login times in microseconds since the
Unix epoch, so any store can give back exactly what
:func:`graphfraud.graph.activity.entity_activity` computes from the case.

Vertices (``gf_id`` is the namespaced id, e.g. ``ip:1.2.3.4``; ``name`` the raw value):

=========  =========================================
label      properties
=========  =========================================
account    gf_id, name (ring_id, ring_score, ring_flagged, ring_size after a ring run)
ip         gf_id, name, risk_score, is_tor, asn, n_accounts
device     gf_id, name, n_accounts
country    gf_id, name
asn        gf_id, name
=========  =========================================

Edges (``src`` → ``dst`` are vertex ``gf_id``): ``USED_IP`` and ``USED_DEVICE``
(account → ip/device: logins, fails, mfa_share, first_seen, last_seen,
success_us), ``LOGGED_IN_FROM`` (account → country: logins), ``IN_ASN`` (ip → asn).
When the case's payments carry ``ip``/``device_id`` (the money side), a payment is
evidence like a successful login: its time joins ``success_us``, the edge gains
``payments`` (its count; ``logins`` still counts logins only) and ``n_accounts``
counts payers too. A case without them gives the records it always gave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..case import Case
from ..case.arrays import payment_evidence, run_starts, sort_order, window_logins

__all__ = ["GraphRecords", "graph_records", "PROPERTY_TYPES", "EVIDENCE_LABELS",
           "RING_PROPERTIES", "encode_times", "decode_times", "edge_id"]

#: every property a graphfraud graph holds, with its type (Neptune bulk-load names)
PROPERTY_TYPES = {
    "gf_id": "String", "name": "String", "risk_score": "Int", "is_tor": "Bool", "asn": "Long",
    "n_accounts": "Int", "logins": "Int", "fails": "Int", "mfa_share": "Double", "first_seen": "String",
    "last_seen": "String", "success_us": "String", "payments": "Int",
    "ring_id": "String", "ring_score": "Double", "ring_flagged": "Bool", "ring_size": "Int",
}
#: edge label -> entity type of the evidence it carries
EVIDENCE_LABELS = {"USED_IP": "ip", "USED_DEVICE": "device"}
RING_PROPERTIES = ("ring_id", "ring_score", "ring_flagged", "ring_size")

_VERTEX_PROPS = {"account": [], "ip": ["risk_score", "is_tor", "asn", "n_accounts"], "device": ["n_accounts"],
                 "country": [], "asn": []}
_EDGE_PROPS = {"USED_IP": ["logins", "fails", "mfa_share", "first_seen", "last_seen", "success_us"],
               "USED_DEVICE": ["logins", "fails", "mfa_share", "first_seen", "last_seen", "success_us"],
               "LOGGED_IN_FROM": ["logins"], "IN_ASN": []}


@dataclass(frozen=True, eq=False)
class GraphRecords:
    """``vertices`` (``gf_id, label, name`` + properties) and ``edges`` (``gf_id, label, src, dst`` + properties).

    A property that does not apply to a row is ``None``; ``success_us`` holds
    int64 arrays here and is encoded with :func:`encode_times` for a store.
    """

    vertices: pd.DataFrame
    edges: pd.DataFrame

    def vertex_properties(self, label: str) -> list[str]:
        return ["name"] + _VERTEX_PROPS[label]

    def edge_properties(self, label: str) -> list[str]:
        props = list(_EDGE_PROPS[label])
        if label in EVIDENCE_LABELS and "payments" in self.edges.columns:
            props.insert(props.index("success_us"), "payments")
        return props

    def vertex_rows(self, label: str | None = None):
        """Dicts of ``gf_id``, ``label`` and the label's properties (None values left out)."""
        return _rows(self.vertices, label, self.vertex_properties, ("gf_id", "label"))

    def edge_rows(self, label: str | None = None):
        return _rows(self.edges, label, self.edge_properties, ("gf_id", "label", "src", "dst"))


def _rows(df: pd.DataFrame, label, props_of, keys):
    labels = [label] if label else list(dict.fromkeys(df["label"]))
    for lab in labels:
        sub = df[df["label"] == lab]
        cols = list(keys) + props_of(lab)
        for rec in sub[cols].itertuples(index=False, name=None):
            yield {k: v for k, v in zip(cols, rec) if v is not None and not (isinstance(v, float) and np.isnan(v))}


def edge_id(label: str, src: str, dst: str) -> str:
    """The key of an edge: its label and both ends, so upserting it twice finds the same edge.

    Examples
    --------
    >>> edge_id("USED_IP", "account:A1", "ip:1.2.3.4")
    'USED_IP|account:A1|ip:1.2.3.4'
    """
    return f"{label}|{src}|{dst}"


def encode_times(us) -> str:
    """Microsecond timestamps as the space-separated text a graph store keeps.

    Examples
    --------
    >>> encode_times([1, 20, 300])
    '1 20 300'
    >>> decode_times('1 20 300').tolist()
    [1, 20, 300]
    """
    return " ".join(map(str, np.asarray(us, dtype=np.int64).tolist()))


def decode_times(text) -> np.ndarray:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return np.empty(0, dtype=np.int64)
    if isinstance(text, np.ndarray):
        return text.astype(np.int64)
    return np.array(str(text).split(), dtype=np.int64)


def _iso(us: np.ndarray) -> np.ndarray:
    if not len(us):
        return np.empty(0, dtype=object)
    text = np.datetime_as_string(np.asarray(us, dtype=np.int64).astype("datetime64[us]"), unit="s")
    return np.char.replace(text, "T", " ").astype(object)


def _edge_ids(label: str, src: pd.Series, dst: pd.Series) -> np.ndarray:
    return (label + "|" + src.astype(str) + "|" + dst.astype(str)).to_numpy(dtype=object)


def _edge_groups(acct: np.ndarray, value, sub: pd.DataFrame, acct_names: np.ndarray):
    """Per (account, entity): login counts, fails, MFA share, first/last time and distinct success times.

    One sort of integer keys and ``reduceat`` over its runs, instead of a groupby on strings;
    rows come out in (account, entity) name order, as the string groupby gave them.
    """
    code, names = pd.factorize(value, sort=True)
    key = acct.astype(np.int64) * np.int64(max(len(names), 1)) + code
    ts = sub["ts"].to_numpy()
    order = sort_order(key, ts)
    key, ts = key[order], ts[order]
    fail = sub["fail"].to_numpy()[order].astype(np.int64)
    mfa = sub["mfa"].to_numpy()[order].astype(np.float64)
    ok = sub["success"].to_numpy()[order]
    starts = run_starts(key)
    n = np.diff(np.append(starts, len(key)))
    agg = pd.DataFrame({
        "account": acct_names[key[starts] // max(len(names), 1)],
        "value": np.asarray(names, dtype=object)[key[starts] % max(len(names), 1)],
        "logins": n, "fails": np.add.reduceat(fail, starts) if len(starts) else n,
        "mfa_share": (np.add.reduceat(mfa, starts) / n) if len(starts) else n.astype(float),
        "first_seen": ts[starts], "last_seen": ts[np.append(starts[1:], len(key)) - 1] if len(starts) else ts,
    })
    if "payment" in sub:
        paid = np.add.reduceat(sub["payment"].to_numpy()[order].astype(np.int64), starts) if len(starts) else n
        agg["payments"] = paid
        agg["logins"] = n - paid
        with np.errstate(invalid="ignore", divide="ignore"):
            agg["mfa_share"] = np.where(n > paid, agg["mfa_share"].to_numpy() * n / np.maximum(n - paid, 1), np.nan)
    # distinct success times per group: ts is sorted within each key, so runs of (key, ts) dedupe it
    sk, st = key[ok], ts[ok]
    first = run_starts(sk, st)
    sk, st = sk[first], st[first]
    bounds = np.searchsorted(sk, key[starts])
    ends = np.searchsorted(sk, key[starts], side="right")
    success = [st[a:b] if b > a else None for a, b in zip(bounds.tolist(), ends.tolist())]
    return agg, success


def graph_records(case: Case, since=None, until=None, payments: bool = True) -> GraphRecords:
    """Vertices and edges of the account–IP–device–country–ASN graph from the logins in ``[since, until]``.

    ``payments``: a case whose payments carry ``ip``/``device_id`` adds them as
    evidence (see the module docstring); False leaves them out.

    Sorted by ``gf_id`` so the same case always gives the same records.

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> lg = pd.DataFrame({"event_ts": ["2025-08-01 10:00", "2025-08-01 10:05"], "account_id": ["A", "B"],
    ...     "ip": ["1.1.1.1", "1.1.1.1"], "country_iso": ["DE", "DE"], "result": ["SUCCESS", "FAIL"],
    ...     "mfa_used": [0, 0], "device_id": [None, None]})
    >>> rec = graph_records(graphfraud.case_from_frames(logins=lg))
    >>> rec.vertices["gf_id"].tolist()
    ['account:A', 'account:B', 'country:DE', 'ip:1.1.1.1']
    >>> rec.edges.loc[rec.edges["label"] == "USED_IP", ["src", "logins", "fails"]].values.tolist()
    [['account:A', 1, 0], ['account:B', 1, 1]]
    """
    df = window_logins(case, since, until)
    pay = payment_evidence(case, since, until) if payments else None
    if pay is not None:
        df["payment"] = False
        df = pd.concat([df, pd.DataFrame({
            "account": pay["account_id"].to_numpy(dtype=object), "ip": pay["ip"].to_numpy(dtype=object),
            "device": pay["device_id"].to_numpy(dtype=object), "country": None, "fail": False, "success": True,
            "mfa": False, "ts": pay["payment_ts"].to_numpy(dtype="datetime64[us]"), "payment": True})],
            ignore_index=True)
    df["ts"] = df["ts"].to_numpy(dtype="datetime64[us]").view(np.int64)
    vertices, edges = [], []
    accounts = pd.unique(df["account"])
    vertices.append(pd.DataFrame({"gf_id": "account:" + accounts.astype(str), "label": "account", "name": accounts}))

    rep = case.ip_reputation.set_index("ip")
    acct_code, acct_names = pd.factorize(df["account"].to_numpy(dtype=object), sort=True)
    for kind, label in (("ip", "USED_IP"), ("device", "USED_DEVICE")):
        sub = df[df[kind].notna()]
        agg, success_us = _edge_groups(acct_code[df[kind].notna().to_numpy()], sub[kind],
                                       sub, np.asarray(acct_names, dtype=object))
        src, dst = "account:" + agg["account"].astype(str), kind + ":" + agg["value"].astype(str)
        edges.append(pd.DataFrame({
            "gf_id": _edge_ids(label, src, dst), "label": label, "src": src, "dst": dst,
            "logins": agg["logins"].astype(int).to_numpy(dtype=object),
            "fails": agg["fails"].astype(int).to_numpy(dtype=object),
            "mfa_share": agg["mfa_share"].astype(float).to_numpy(dtype=object),
            "first_seen": _iso(agg["first_seen"].to_numpy()), "last_seen": _iso(agg["last_seen"].to_numpy()),
            **({"payments": agg["payments"].astype(int).to_numpy(dtype=object)} if "payments" in agg else {}),
            "success_us": success_us,
        }))
        per = sub.groupby(kind)["account"].nunique()
        v = pd.DataFrame({"gf_id": kind + ":" + per.index.astype(str), "label": kind, "name": per.index.to_numpy(),
                          "n_accounts": per.to_numpy(dtype=object)})
        if kind == "ip":
            r = rep.reindex(per.index)
            # object arrays: a list of ints with a None would silently become floats
            v["risk_score"] = np.array([None if pd.isna(x) else int(x) for x in r["risk_score"]], dtype=object)
            v["is_tor"] = np.array([None if pd.isna(x) else bool(x) for x in r["is_tor"]], dtype=object)
            v["asn"] = np.array([None if pd.isna(x) else int(x) for x in r["asn"]], dtype=object)
            asn = r["asn"].dropna().astype("int64")
            if len(asn):
                names = sorted(set(asn.tolist()))
                vertices.append(pd.DataFrame({"gf_id": [f"asn:{a}" for a in names], "label": "asn",
                                              "name": [str(a) for a in names]}))
                src = pd.Series("ip:" + asn.index.astype(str))
                dst = pd.Series("asn:" + asn.astype(str).to_numpy())
                edges.append(pd.DataFrame({"gf_id": _edge_ids("IN_ASN", src, dst), "label": "IN_ASN",
                                           "src": src.to_numpy(), "dst": dst.to_numpy()}))
        vertices.append(v)

    sub = df[df["country"].notna()]  # payment rows have none: LOGGED_IN_FROM counts logins
    per = sub.groupby(["account", "country"], sort=True).size()
    countries = sorted(set(sub["country"].unique()))  # distinct first: iterating 30M Arrow strings is slow
    vertices.append(pd.DataFrame({"gf_id": [f"country:{c}" for c in countries], "label": "country",
                                  "name": countries}))
    src = pd.Series("account:" + per.index.get_level_values(0).astype(str))
    dst = pd.Series("country:" + per.index.get_level_values(1).astype(str))
    edges.append(pd.DataFrame({"gf_id": _edge_ids("LOGGED_IN_FROM", src, dst), "label": "LOGGED_IN_FROM",
                               "src": src.to_numpy(), "dst": dst.to_numpy(), "logins": per.to_numpy(dtype=object)}))

    v = pd.concat(vertices, ignore_index=True)
    e = pd.concat(edges, ignore_index=True)
    v = v.astype(object).where(v.notna(), None).sort_values("gf_id", kind="stable").reset_index(drop=True)
    e = e.astype(object)
    e = e.where(e.notna(), None)
    e = e.sort_values("gf_id", kind="stable").reset_index(drop=True)
    return GraphRecords(v, e)
