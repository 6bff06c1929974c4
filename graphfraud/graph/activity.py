"""The activity table: who logged in successfully through which IP or device, and when, as integer codes.

This table is the boundary between the graph and the ring stage. It is built
from the case's logins (:func:`entity_activity`) or read back from any graph
store's evidence edges (:func:`evidence_to_activity`), with the same result
(same dictionaries, same codes, same rows), and :mod:`graphfraud.rings` scores it.

Ids are integer codes into two sorted dictionaries, ``accounts`` and
``entities`` (``device:…`` then ``ip:…``, so a code's order is its name's
order); times are whole seconds since the Unix epoch. Strings appear only when
a result is written (:meth:`Activity.frame`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..case import Case
from ..case.arrays import payment_evidence, run_starts, sort_order, window_mask
from ..case.validate import union_categories
from ..errors import InputError
from .records import decode_times

__all__ = ["Activity", "entity_activity", "evidence_to_activity", "activity_from_rows", "ACTIVITY_COLUMNS"]

ACTIVITY_COLUMNS = ["account_id", "entity", "entity_type", "ts"]
_KINDS = ("device", "ip")  # in name order: "device:…" sorts before "ip:…"


@dataclass(frozen=True, eq=False)
class Activity:
    """Distinct ``(account, entity, ts)`` of successful logins, sorted by entity, account and time.

    Attributes
    ----------
    account, entity
        int32 codes into ``accounts`` and ``entities`` (one row per distinct login second).
    ts
        int64 seconds since the Unix epoch.
    accounts, entities
        the dictionaries (sorted object arrays); ``is_device[e]`` tells the entity's kind.
    """

    account: np.ndarray
    entity: np.ndarray
    ts: np.ndarray
    accounts: np.ndarray
    entities: np.ndarray
    is_device: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)

    @property
    def n_entities(self) -> int:
        return len(self.entities)

    def popularity(self) -> np.ndarray:
        """Accounts using each entity (indexed by entity code)."""
        first = run_starts(self.entity, self.account)
        return np.bincount(self.entity[first], minlength=self.n_entities)

    def entity_type(self) -> np.ndarray:
        """``"ip"`` or ``"device"`` per entity code."""
        return np.where(self.is_device, "device", "ip").astype(object)

    def account_codes(self, ids) -> np.ndarray:
        """Codes of the given account ids (``-1`` where an id has no activity)."""
        ids = np.asarray(list(ids), dtype=object)
        pos = np.searchsorted(self.accounts, ids) if len(self.accounts) else np.zeros(len(ids), dtype=np.int64)
        pos = np.minimum(pos, max(len(self.accounts) - 1, 0))
        ok = (len(self.accounts) > 0) & (self.accounts[pos] == ids) if len(ids) else np.zeros(0, dtype=bool)
        return np.where(ok, pos, -1)

    def select(self, keep: np.ndarray) -> "Activity":
        """The rows where ``keep`` is True, with the same dictionaries (codes keep their meaning)."""
        return Activity(self.account[keep], self.entity[keep], self.ts[keep], self.accounts, self.entities,
                        self.is_device)

    def frame(self) -> pd.DataFrame:
        """The rows with strings and real times: ``account_id, entity, entity_type, ts``."""
        return pd.DataFrame({
            "account_id": self.accounts[self.account], "entity": self.entities[self.entity],
            "entity_type": self.entity_type()[self.entity], "ts": self.ts.astype("datetime64[s]")})

    def equals(self, other: "Activity") -> bool:
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in
                   ("account", "entity", "ts", "accounts", "entities", "is_device"))


def activity_from_rows(account_ids, kinds, values, ts_seconds) -> Activity:
    """Build an :class:`Activity` from one row per login and entity (the one constructor every source uses).

    Parameters
    ----------
    account_ids, values
        account ids and entity values (the IP or device id) as strings.
    kinds
        ``"ip"`` or ``"device"`` per row.
    ts_seconds
        int64 seconds since the epoch.

    Examples
    --------
    >>> act = activity_from_rows(["B", "A", "A"], ["ip", "ip", "device"], ["1.1.1.1", "1.1.1.1", "d1"], [60, 0, 0])
    >>> act.entities.tolist(), act.accounts.tolist(), act.entity.tolist(), act.account.tolist()
    (['device:d1', 'ip:1.1.1.1'], ['A', 'B'], [0, 1, 1], [0, 0, 1])
    """
    account_ids = np.asarray(account_ids, dtype=object)
    kinds = np.asarray(kinds, dtype=object)
    values = np.asarray(values, dtype=object)
    ts = np.asarray(ts_seconds, dtype=np.int64)
    acct, accounts = pd.factorize(account_ids, sort=True)
    entity = np.empty(len(ts), dtype=np.int64)
    names, is_device, offset = [], [], 0
    for kind in _KINDS:
        rows = kinds == kind
        codes, uniq = pd.factorize(values[rows], sort=True)
        entity[rows] = codes + offset
        names.append(kind + ":" + np.asarray(uniq, dtype=object).astype(str))
        is_device.append(np.full(len(uniq), kind == "device"))
        offset += len(uniq)
    entities = np.concatenate(names).astype(object) if names else np.empty(0, dtype=object)
    order = sort_order(entity, acct, ts)
    acct, entity, ts = acct[order], entity[order], ts[order]
    first = run_starts(entity, acct, ts)
    return Activity(acct[first].astype(np.int32), entity[first].astype(np.int32), ts[first],
                    np.asarray(accounts, dtype=object), entities, np.concatenate(is_device).astype(bool))


def entity_activity(case: Case, since=None, until=None, exclude_ips=(), payments: bool = True) -> Activity:
    """Successful logins (and payments) on IPs and devices in ``[since, until]`` as a coded :class:`Activity`.

    Only SUCCESS logins count: failing against an account is not evidence of
    controlling it. A payment made from an IP or device is evidence like a
    successful login when the case's payments carry ``ip``/``device_id`` (the
    money side); ``payments=False`` leaves them out. IPs in ``exclude_ips``
    (campaigns) are left out. Works on the columns' integer codes (the loader's
    categories): no string is made per login.

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> lg = pd.DataFrame({"event_ts": ["2025-08-01 10:00", "2025-08-01 10:10"], "account_id": ["A", "B"],
    ...     "ip": ["1.1.1.1", "1.1.1.1"], "country_iso": ["DE", "DE"], "result": ["SUCCESS", "SUCCESS"],
    ...     "mfa_used": [0, 0], "device_id": ["d1", None]})
    >>> entity_activity(graphfraud.case_from_frames(logins=lg)).frame()["entity"].tolist()
    ['device:d1', 'ip:1.1.1.1', 'ip:1.1.1.1']
    """
    lg = case.logins
    keep = window_mask(lg["event_ts"], since, until) & (lg["result"].to_numpy() == "SUCCESS")
    ts = lg["event_ts"].to_numpy(dtype="datetime64[s]")[keep].view(np.int64)
    columns = {c: lg[c] for c in ("account_id", "ip", "device_id")}
    pay = payment_evidence(case, since, until) if payments else None
    if pay is not None and len(pay):
        # the payments' rows join the kept logins' rows: one set of codes for both
        columns = {c: pd.Series(union_categories([_as_category(lg[c][keep]), _as_category(pay[c])]))
                   for c in columns}
        ts = np.concatenate([ts, pay["payment_ts"].to_numpy(dtype="datetime64[s]").view(np.int64)])
        keep = np.ones(len(ts), dtype=bool)
    acct, accounts = _sorted_codes(columns["account_id"], keep)
    ip, ips = _sorted_codes(columns["ip"], keep, drop=set(map(str, exclude_ips)))
    dev, devices = _sorted_codes(columns["device_id"], keep)
    del columns
    entities = np.array(["device:" + d for d in devices] + ["ip:" + i for i in ips], dtype=object)
    is_device = np.arange(len(entities)) < len(devices)
    # keep only the accounts and entities that have a row, as a store's evidence would
    has_ip, has_dev = ip >= 0, dev >= 0
    a_used = (np.bincount(acct[has_dev], minlength=len(accounts)) + np.bincount(acct[has_ip], minlength=len(accounts))) > 0
    e_used = np.concatenate([np.bincount(dev[has_dev], minlength=len(devices)),
                             np.bincount(ip[has_ip], minlength=len(ips))]) > 0
    a_new, e_new = (np.cumsum(a_used) - 1).astype(np.int32), (np.cumsum(e_used) - 1).astype(np.int32)
    n_dev = np.int32(len(devices))
    # devices first, then IPs ("device:..." sorts before "ip:..."): each block is sorted on its own,
    # which halves what the sort holds at once
    blocks = [_distinct_sorted(e_new[dev[has_dev]], a_new[acct[has_dev]], ts[has_dev])]
    del dev
    blocks.append(_distinct_sorted(e_new[ip[has_ip] + n_dev], a_new[acct[has_ip]], ts[has_ip]))
    del ip, acct, ts
    return Activity(np.concatenate([b[1] for b in blocks]), np.concatenate([b[0] for b in blocks]),
                    np.concatenate([b[2] for b in blocks]), accounts[a_used], entities[e_used], is_device[e_used])


def _as_category(s: pd.Series) -> pd.Series:
    s = s.reset_index(drop=True)
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s
    return s.astype(object).astype("category")


def _distinct_sorted(entity: np.ndarray, account: np.ndarray, ts: np.ndarray):
    """The distinct ``(entity, account, ts)`` rows, sorted so (int32, int32, int64)."""
    order = sort_order(entity, account, ts)
    entity, account, ts = entity[order], account[order], ts[order]
    del order
    first = run_starts(entity, account, ts)
    return entity[first], account[first], ts[first]


def _sorted_codes(col: pd.Series, keep: np.ndarray, drop=frozenset()) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``col[keep]`` into its sorted distinct values (``-1`` for null or dropped), and those values."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes, cats = col.cat.codes.to_numpy()[keep].astype(np.int32), np.asarray(col.cat.categories, dtype=object)
    else:
        codes, cats = pd.factorize(col.to_numpy(dtype=object)[keep])
        codes, cats = codes.astype(np.int32), np.asarray(cats, dtype=object)
    cats = cats.astype(str).astype(object)
    if not len(cats):
        return np.full(len(codes), -1, dtype=np.int32), cats
    if drop:
        gone = np.flatnonzero(pd.Index(cats).isin(list(drop)))
        codes[np.isin(codes, gone)] = -1
    order = _text_order(cats)
    rank = np.empty(len(cats), dtype=np.int32)
    rank[order] = np.arange(len(cats))
    return np.where(codes >= 0, rank[np.maximum(codes, 0)], -1), cats[order]


def _text_order(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` for distinct strings, sorted in Arrow (code point order, as Python's)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.sort_indices(pa.array(values, type=pa.string())).to_numpy().astype(np.int64)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.argsort(values, kind="stable")


def evidence_to_activity(evidence: pd.DataFrame, since=None, until=None, exclude_ips=()) -> Activity:
    """The coded activity from evidence edges read back from a graph store.

    ``evidence`` has ``account_id, entity, entity_type, success_us`` (arrays or
    the encoded text). The result equals :func:`entity_activity` on the same case
    and arguments.

    Examples
    --------
    >>> ev = pd.DataFrame({"account_id": ["A", "B"], "entity": ["ip:1.1.1.1"] * 2, "entity_type": ["ip"] * 2,
    ...                    "success_us": ["0 1800000000", "60000000"]})
    >>> evidence_to_activity(ev).ts.tolist()
    [0, 1800, 60]
    """
    arrays = [decode_times(t) for t in evidence["success_us"]]
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    us = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)
    kinds = evidence["entity_type"].to_numpy(dtype=object)
    values = np.array([e.split(":", 1)[1] for e in evidence["entity"]], dtype=object)
    acct = np.repeat(evidence["account_id"].to_numpy(dtype=object), lengths)
    kinds, values = np.repeat(kinds, lengths), np.repeat(values, lengths)
    ts = us // 1_000_000
    keep = np.ones(len(ts), dtype=bool)
    if since is not None:
        keep &= us >= pd.Timestamp(since).value // 1000
    if until is not None:
        keep &= us <= pd.Timestamp(until).value // 1000
    if len(exclude_ips):
        keep &= ~((kinds == "ip") & pd.Index(values).isin([str(i) for i in exclude_ips]))
    unknown = set(kinds) - set(_KINDS)
    if unknown:
        raise InputError(f"evidence edges have unknown entity_type {sorted(unknown)}; expected ip or device")
    return activity_from_rows(acct[keep], kinds[keep], values[keep], ts[keep])
