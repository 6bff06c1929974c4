"""The real-time event: its fields, the gateway aliases, and validation of one event or a whole frame.

An event is a JSON object (the data contract's "real-time event")::

    {"event_id": "e-000123", "event_ts": "2025-09-01 12:00:05", "account_id": "A100232",
     "event_type": "payment", "amount": 1000.0, "currency": "USD", "ip": "203.0.113.9",
     "device_id": "dev-42", "country_iso": "DE", "merchant_id": "M-7", "merchant_category": "RETAIL"}

Simple gateway integrations send ``transaction_amount``, ``ip_address``,
``user_id`` and ``location`` instead of ``amount``, ``ip``, ``account_id`` and
``country_iso``; :data:`ALIASES` maps them, and giving both names with different
values is an error. Every problem names the field and says what to send instead.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..case import Case
from ..case.schema import CURRENCIES
from ..errors import InputError

__all__ = ["Event", "EventError", "EVENT_FIELDS", "ALIASES", "parse_event", "events_frame", "FRAME_COLUMNS",
           "case_events"]

#: field -> (required, what it holds); the order is the contract's
EVENT_FIELDS = {
    "event_id": (True, "unique id of the event (text, at most 200 characters); a repeat returns the stored decision"),
    "event_ts": (False, "event time, ISO-8601 or 'YYYY-MM-DD HH:MM:SS' (UTC if no offset) or epoch seconds; "
                        "absent: the time it is scored"),
    "account_id": (True, "the account (alias user_id); an account never seen is scored as a new customer"),
    "event_type": (False, "'payment' (default) or 'login'"),
    "amount": (False, "payment amount in `currency`, >= 0 (alias transaction_amount); required for a payment"),
    "currency": (False, "ISO-4217 code (default USD); converted at the scorer's FX rates"),
    "ip": (False, "source IP (alias ip_address)"),
    "device_id": (False, "device fingerprint"),
    "country_iso": (False, "ISO-3166 alpha-2 country of the IP (alias location)"),
    "merchant_id": (False, "merchant paid"),
    "merchant_category": (False, "merchant category"),
}

#: gateway name -> contract name
ALIASES = {"transaction_amount": "amount", "ip_address": "ip", "user_id": "account_id", "location": "country_iso"}

_EPOCH = re.compile(r"\d{9,11}(\.\d+)?")
_ALIAS_RANK = {a: i for i, a in enumerate(ALIASES, 1)}
_TEXT = ("event_id", "account_id", "ip", "device_id", "merchant_id", "merchant_category")
_MAX_TEXT = 200
#: larger amounts are refused: no payment is that big, and cents must fit in 64 bits
MAX_AMOUNT = 1e12
_CURRENCIES = frozenset(CURRENCIES)
_KINDS = {"payment": "payment", "login": "login"}

# the order in which parse_event checks the fields (an alias conflict, rank 0, comes first)
_CHECK_ORDER = {f: i for i, f in enumerate(["event_id", "account_id", "event_type", "amount", "currency", "country_iso",
                                            "event_ts", "ip", "device_id", "merchant_id", "merchant_category"], 1)}

#: the columns of :func:`events_frame`'s typed events
FRAME_COLUMNS = ["event_id", "ts", "account_id", "kind", "amount", "currency", "ip", "device_id", "country_iso",
                 "merchant_id", "merchant_category"]


class EventError(InputError):
    """One event cannot be scored; ``field`` names the field and ``reason`` says why.

    Examples
    --------
    >>> err = EventError("amount", "must be a number >= 0, got 'abc'")
    >>> str(err), err.field
    ("amount: must be a number >= 0, got 'abc'", 'amount')
    """

    def __init__(self, field: str, reason: str, event_id: str | None = None):
        self.field, self.reason, self.event_id = field, reason, event_id
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True)
class Event:
    """One validated event: times in ns since the epoch (UTC), text ids, the amount in its currency."""

    event_id: str
    ts: int
    account_id: str
    kind: str
    amount: float = math.nan
    currency: str = "USD"
    ip: str | None = None
    device_id: str | None = None
    country_iso: str | None = None
    merchant_id: str | None = None
    merchant_category: str | None = None

    @property
    def timestamp(self) -> pd.Timestamp:
        return pd.Timestamp(self.ts)


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _key(v) -> str:
    """What a value says, for comparing a field with its alias (a frame column with a gap holds 7 as 7.0)."""
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _canonical(raw: dict) -> dict:
    if not isinstance(raw, dict):
        raise EventError("event", f"must be a JSON object with the event's fields, got {type(raw).__name__}")
    out = {}
    for key, value in sorted(raw.items(), key=lambda kv: _ALIAS_RANK.get(kv[0], 0)):  # contract names first
        name = ALIASES.get(key, key)
        if (name in out and key != name and not _blank(value) and not _blank(out[name])
                and _key(out[name]) != _key(value)):
            raise EventError(key, f"both {name!r} and its alias {key!r} are given, with different values "
                                  f"({out[name]!r} and {value!r}); send one")
        if name not in out or _blank(out[name]):
            out[name] = value
    return out


def _text(d: dict, name: str) -> str | None:
    v = d.get(name)
    if _blank(v):
        return None
    if isinstance(v, float) and v.is_integer():  # JSON numbers and frames give ids as 123.0 too
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise EventError(name, f"must be text, got {type(v).__name__} {v!r}")
    v = str(v).strip()
    if len(v) > _MAX_TEXT:
        raise EventError(name, f"is {len(v)} characters long; at most {_MAX_TEXT}")
    return v


def _stamp(v, now_ns: int | None) -> int:
    if _blank(v):
        return now_ns if now_ns is not None else time.time_ns()
    if isinstance(v, bool):
        raise EventError("event_ts", f"must be a time, got {v!r}")
    if isinstance(v, str) and _EPOCH.fullmatch(v.strip()):  # epoch seconds as text, as a CSV carries them
        v = float(v)
    try:
        t = pd.Timestamp(float(v), unit="s") if isinstance(v, (int, float)) else pd.Timestamp(v)
    except (ValueError, TypeError, OverflowError):
        raise EventError("event_ts", f"is not a time: {v!r}; send ISO-8601 like '2025-09-01T12:00:05Z', "
                                     "'2025-09-01 12:00:05' or epoch seconds") from None
    if t is pd.NaT:
        raise EventError("event_ts", f"is not a time: {v!r}")
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    try:
        return int(t.as_unit("ns").value)
    except (OverflowError, ValueError):  # pandas' OutOfBoundsDatetime is a ValueError
        raise EventError("event_ts", f"{v!r} is out of range (1677 to 2262)") from None


def _amount(v) -> float:
    if _blank(v):
        return math.nan
    if isinstance(v, bool):
        raise EventError("amount", f"must be a number >= 0, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        raise EventError("amount", f"must be a number >= 0, got {_short(v)}") from None
    if not math.isfinite(x) or x < 0:
        raise EventError("amount", f"must be a finite number >= 0, got {_short(v)}")
    if x > MAX_AMOUNT:
        raise EventError("amount", f"{_short(v)} is above {MAX_AMOUNT:.0e}: not a payment amount")
    return x


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_event(raw: dict, now_ns: int | None = None) -> Event:
    """Validate one event (a dict from JSON) into an :class:`Event`; aliases are mapped, unknown fields ignored.

    Raises
    ------
    EventError
        the first problem found, naming the field.

    Examples
    --------
    >>> e = parse_event({"event_id": "e1", "event_ts": "2025-09-01 12:00:05", "user_id": "A1",
    ...                  "transaction_amount": "12.50", "location": "de"})
    >>> e.account_id, e.kind, e.amount, e.currency, e.country_iso
    ('A1', 'payment', 12.5, 'USD', 'DE')
    >>> parse_event({"event_id": "e2", "account_id": "A1", "event_type": "payment"})
    Traceback (most recent call last):
    ...
    graphfraud.realtime.events.EventError: amount: is required for a payment (alias transaction_amount)
    """
    try:
        d = _canonical(raw)
    except EventError as exc:  # an alias clash: still say which event it was
        try:
            exc.event_id = _text(raw, "event_id") if isinstance(raw, dict) else None
        except EventError:
            exc.event_id = None
        raise
    event_id = _text(d, "event_id")
    if event_id is None:
        raise EventError("event_id", "is required: a unique id per event, so a retry is not scored twice")
    try:
        account = _text(d, "account_id")
        if account is None:
            raise EventError("account_id", "is required (alias user_id)")
        kind = d.get("event_type")
        kind = "payment" if _blank(kind) else _KINDS.get(str(kind).strip().lower())
        if kind is None:
            raise EventError("event_type", f"must be 'payment' or 'login', got {d.get('event_type')!r}")
        amount = _amount(d.get("amount"))
        if kind == "payment" and math.isnan(amount):
            raise EventError("amount", "is required for a payment (alias transaction_amount)")
        cur = d.get("currency")
        cur = "USD" if _blank(cur) else str(cur).strip().upper()
        if cur not in _CURRENCIES:
            raise EventError("currency", f"{d.get('currency')!r} is not an ISO-4217 code (USD, EUR, ...)")
        country = _text(d, "country_iso")
        if country is not None:
            if len(country) != 2 or not country.isalpha():
                raise EventError("country_iso", f"must be an ISO-3166 alpha-2 code like 'DE' (alias location), "
                                                f"got {country!r}")
            country = country.upper()
        return Event(event_id, _stamp(d.get("event_ts"), now_ns), account, kind, amount, cur, _text(d, "ip"),
                     _text(d, "device_id"), country, _text(d, "merchant_id"), _text(d, "merchant_category"))
    except EventError as exc:
        exc.event_id = event_id
        raise


def events_frame(df: pd.DataFrame, now_ns: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate a frame of events at once: ``(events, rejected)``, every input row in exactly one of them.

    The columns are the event's fields (aliases accepted). ``events`` has
    :data:`FRAME_COLUMNS` (``ts`` a datetime, ``row`` the input position) in input
    order; ``rejected`` has ``row, event_id, field, reason`` with the same
    messages as :func:`parse_event`.

    Examples
    --------
    >>> df = pd.DataFrame({"event_id": ["a", "b"], "event_ts": ["2025-09-01 12:00", "2025-09-01 12:01"],
    ...                    "user_id": ["A1", "A2"], "transaction_amount": [10.0, -1.0]})
    >>> ev, rej = events_frame(df)
    >>> ev["event_id"].tolist(), rej["reason"].tolist()
    (['a'], ['must be a finite number >= 0, got -1.0'])
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"events must be a pandas DataFrame, got {type(df).__name__}")
    n = len(df)
    problems = pd.Series([None] * n, dtype=object)
    fields = pd.Series([None] * n, dtype=object)
    ranks = np.full(n, len(_CHECK_ORDER) + 1)

    def reject(mask, field, reason):
        # a row reports the problem parse_event would raise first, whatever order the columns are checked in here
        rank = _CHECK_ORDER.get(field, 0)
        mask = np.asarray(mask, dtype=bool) & (rank < ranks)
        if mask.any():
            problems[mask] = reason if isinstance(reason, str) else reason[mask]
            fields[mask] = field
            ranks[mask] = rank

    d = _frame_canonical(df, reject)

    text = {c: _frame_text(d, c, n, reject) for c in _TEXT}
    reject(text["event_id"].isna(), "event_id", "is required: a unique id per event, so a retry is not scored twice")
    reject(text["account_id"].isna(), "account_id", "is required (alias user_id)")
    kind_raw = d.get("event_type", pd.Series([None] * n))
    kind = kind_raw.astype(object).where(kind_raw.notna(), "payment").astype(str).str.strip().str.lower()
    kind = kind.where(kind != "", "payment")
    reject(~kind.isin(list(_KINDS)), "event_type",
           np.asarray(["must be 'payment' or 'login', got " + repr(v) for v in kind_raw.tolist()], dtype=object))
    amount = _frame_amount(d.get("amount"), n, reject)
    reject((kind == "payment").to_numpy() & np.isnan(amount), "amount",
           "is required for a payment (alias transaction_amount)")
    cur_raw = d.get("currency", pd.Series([None] * n))
    cur = cur_raw.astype(object).where(cur_raw.notna(), "USD").astype(str).str.strip().str.upper()
    cur = cur.where(cur != "", "USD")
    reject(~cur.isin(list(_CURRENCIES)), "currency",
           np.asarray([f"{v!r} is not an ISO-4217 code (USD, EUR, ...)" for v in cur_raw.tolist()], dtype=object))
    country = _frame_text(d, "country_iso", n, reject)
    ok_country = country.isna() | (country.str.len().eq(2) & country.str.isalpha())
    reject(~ok_country.fillna(False).to_numpy(dtype=bool), "country_iso",
           np.asarray([f"must be an ISO-3166 alpha-2 code like 'DE' (alias location), got {v!r}"
                       for v in country.tolist()], dtype=object))
    ts = _frame_times(d.get("event_ts"), n, now_ns, reject)
    bad = problems.notna().to_numpy()
    rejected = pd.DataFrame({"row": np.flatnonzero(bad), "event_id": text["event_id"][bad].to_numpy(),
                             "field": fields[bad].to_numpy(), "reason": problems[bad].to_numpy()})
    ok = ~bad
    events = pd.DataFrame({
        "event_id": text["event_id"][ok].to_numpy(), "ts": pd.to_datetime(ts[ok]),
        "account_id": text["account_id"][ok].to_numpy(), "kind": kind[ok].to_numpy(), "amount": amount[ok],
        "currency": cur[ok].to_numpy(), "ip": text["ip"][ok].to_numpy(), "device_id": text["device_id"][ok].to_numpy(),
        "country_iso": country[ok].str.upper().to_numpy(), "merchant_id": text["merchant_id"][ok].to_numpy(),
        "merchant_category": text["merchant_category"][ok].to_numpy(), "row": np.flatnonzero(ok)})
    return events, rejected


def _frame_canonical(df: pd.DataFrame, reject) -> dict[str, pd.Series]:
    d = {}
    # contract names first, so that an alias is what a conflict is reported on (as parse_event does)
    for col in sorted(df.columns, key=lambda c: _ALIAS_RANK.get(c, 0)):
        name = ALIASES.get(col, col)
        s = df[col].reset_index(drop=True)
        if name in d:
            blank = _blank_mask(s) | _blank_mask(d[name])
            both = ~blank & (np.asarray([_key(a) for a in d[name]]) != np.asarray([_key(b) for b in s]))
            reject(both, col, np.asarray([f"both {name!r} and its alias {col!r} are given, with different values "
                                          f"({a!r} and {b!r}); send one" for a, b in zip(d[name], s)], dtype=object))
            d[name] = d[name].where(~_blank_mask(d[name]), s)
        else:
            d[name] = s
    return d


def _blank_mask(s: pd.Series) -> np.ndarray:
    return np.asarray([_blank(v) for v in s], dtype=bool)


def _frame_text(d: dict, name: str, n: int, reject) -> pd.Series:
    if name not in d:
        return pd.Series([None] * n, dtype=object)
    # a column of ids with a gap comes as floats (0 -> 0.0): a whole float is the id it was
    s = pd.Series([int(v) if isinstance(v, float) and v.is_integer() else v for v in d[name]], dtype=object)
    null = s.isna().to_numpy()
    is_num = np.asarray([isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in s], dtype=bool)
    is_text = np.asarray([isinstance(v, str) for v in s], dtype=bool)
    reject(~null & ~is_text & ~is_num, name,
           np.asarray([f"must be text, got {type(v).__name__} {v!r}" for v in s], dtype=object))
    out = s.where(null | ~(is_text | is_num), s.astype(str).str.strip())
    out = out.where(~(is_text | is_num) | (out.astype(str) != ""), None)
    too_long = out.astype(str).str.len().gt(_MAX_TEXT).to_numpy() & out.notna().to_numpy()
    reject(too_long, name, np.asarray([f"is {len(str(v))} characters long; at most {_MAX_TEXT}" for v in out],
                                      dtype=object))
    return out.where(is_text | is_num, None)


def _frame_amount(s: pd.Series | None, n: int, reject) -> np.ndarray:
    if s is None:
        return np.full(n, np.nan)
    num = pd.to_numeric(s.where(~s.map(lambda v: isinstance(v, bool)), "bad"), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)
    given = s.notna().to_numpy() & ~s.astype(str).str.strip().eq("").to_numpy()
    reject(given & np.isnan(num), "amount",
           np.asarray([f"must be a number >= 0, got {_short(v)}" for v in s.tolist()], dtype=object))
    reject(given & ~np.isnan(num) & (~np.isfinite(num) | (num < 0)), "amount",
           np.asarray([f"must be a finite number >= 0, got {_short(v)}" for v in s.tolist()], dtype=object))
    reject(given & np.isfinite(num) & (num > MAX_AMOUNT), "amount",
           np.asarray([f"{_short(v)} is above {MAX_AMOUNT:.0e}: not a payment amount" for v in s.tolist()],
                      dtype=object))
    return np.where(given & np.isfinite(num) & (num >= 0) & (num <= MAX_AMOUNT), num, np.nan)


def _frame_times(s: pd.Series | None, n: int, now_ns: int | None, reject) -> np.ndarray:
    now = now_ns if now_ns is not None else time.time_ns()
    if s is None:
        return np.full(n, now, dtype="datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(s):
        t = s.dt.tz_convert("UTC").dt.tz_localize(None) if s.dt.tz is not None else s
        t = t.astype("datetime64[ns]")
    elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        t = pd.to_datetime(s, unit="s", errors="coerce")
    else:
        t = pd.Series([_one_time(v) for v in s.tolist()], dtype="datetime64[ns]")
    blank = s.isna().to_numpy() | s.astype(str).str.strip().eq("").to_numpy()
    reject(~blank & t.isna().to_numpy(), "event_ts",
           np.asarray([f"is not a time: {v!r}; send ISO-8601 like '2025-09-01T12:00:05Z', '2025-09-01 12:00:05' "
                       "or epoch seconds" for v in s.tolist()], dtype=object))
    return np.where(blank, np.datetime64(now, "ns"), t.to_numpy(dtype="datetime64[ns]"))


def _one_time(v):
    if _blank(v) or isinstance(v, bool):
        return pd.NaT
    try:
        return pd.Timestamp(_stamp(v, 0))
    except EventError:
        return pd.NaT


def case_events(case: Case) -> pd.DataFrame:
    """The case's payments and logins as real-time events (ids ``pay-ROW`` / ``login-ROW`` unless payment_id).

    A payment with ``amount_usd`` is sent in USD; without it, in its own
    currency (the scorer converts at the case's FX rates).
    """
    pay, lg = case.payments, case.logins
    usd = pay["amount_usd"].to_numpy(dtype=np.float64, na_value=np.nan)
    has_usd = ~np.isnan(usd)
    amount = pay["amount"].to_numpy(dtype=np.float64, na_value=np.nan) if "amount" in pay else np.full(len(pay), np.nan)
    cur = pay["currency"].astype(object).to_numpy() if "currency" in pay else np.full(len(pay), None, dtype=object)
    pid = (pay["payment_id"].astype(object).where(pay["payment_id"].notna(), None).to_numpy()
           if "payment_id" in pay else np.full(len(pay), None, dtype=object))
    pay_ids = np.where(pd.isna(pid), "pay-" + pd.Series(np.arange(len(pay))).astype(str).to_numpy(), pid)

    def col(df, name):
        return df[name].astype(object).to_numpy() if name in df else np.full(len(df), None, dtype=object)

    payments = pd.DataFrame({
        "event_id": pay_ids, "event_ts": pay["payment_ts"].to_numpy(), "account_id": col(pay, "account_id"),
        "event_type": "payment", "amount": np.where(has_usd, usd, amount),
        "currency": np.where(has_usd, "USD", cur), "ip": col(pay, "ip"), "device_id": col(pay, "device_id"),
        "country_iso": col(pay, "country_iso"), "merchant_id": col(pay, "merchant_id"),
        "merchant_category": col(pay, "merchant_category"), "status": col(pay, "status")})
    logins = pd.DataFrame({
        "event_id": "login-" + pd.Series(np.arange(len(lg))).astype(str).to_numpy(),
        "event_ts": lg["event_ts"].to_numpy(), "account_id": col(lg, "account_id"), "event_type": "login",
        "amount": np.nan, "currency": None, "ip": col(lg, "ip"), "device_id": col(lg, "device_id"),
        "country_iso": col(lg, "country_iso"), "merchant_id": None, "merchant_category": None, "status": None})
    return pd.concat([payments, logins], ignore_index=True)
