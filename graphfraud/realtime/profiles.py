"""Per-account profiles for real-time scoring: as of a snapshot, then kept current by the events scored.

A profile holds what the six common transaction rules read: the account's
payments over the last 30 days (their count and mean in USD), its last payment
device and country, its signup time and a risk level (``LOW``, ``MEDIUM``,
``HIGH``, ``NEW``). Two sources:

- a case (:meth:`Profiles.from_case`): the payments of the 30 days before the
  snapshot time are kept one by one, so a window slides exactly as events
  arrive, and the last device and country are those of the last payment
  (of the last successful login when payments carry no device);
- a profile table (:meth:`Profiles.from_table`), as a customer-profile store
  exports it: ``avg_amount_30d`` and ``payment_count_30d`` are a fixed base to
  which the payments scored since are added (a table has no payment times to
  age out; reload it daily).

Accounts are integer rows inside (a dict maps the text id once); the live part
is a dict of the accounts that had an event since the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..case import Case
from ..detect.micro import Fifo
from ..errors import InputError

__all__ = ["Profiles", "FxRates", "RISK_LEVELS", "PROFILE_COLUMNS", "WINDOW_NS", "risk_levels"]

RISK_LEVELS = ("LOW", "MEDIUM", "HIGH", "NEW")
PROFILE_COLUMNS = ["account_id", "avg_amount_30d", "payment_count_30d", "last_device_id", "last_country",
                   "signup_ts", "risk_level"]
WINDOW_NS = 30 * 86_400 * 10**9
_NAT = np.iinfo(np.int64).min


class FxRates:
    """USD per unit of a currency at a time: the rate with the latest ``valid_from`` at or before it.

    Examples
    --------
    >>> fx = FxRates(pd.DataFrame({"currency": ["EUR"], "rate_usd": [1.1],
    ...                            "valid_from": pd.to_datetime(["2025-08-01"])}))
    >>> fx.rate("EUR", pd.Timestamp("2025-08-02").value), fx.rate("USD", 0), fx.rate("EUR", 0)
    (1.1, 1.0, nan)
    """

    def __init__(self, table: pd.DataFrame | None = None):
        self._tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if table is not None and len(table):
            t = table.sort_values("valid_from", kind="stable")
            for cur, g in t.groupby(t["currency"].astype(object), sort=False):
                self._tables[str(cur)] = (g["valid_from"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
                                          g["rate_usd"].to_numpy(dtype=np.float64))

    def rate(self, currency: str, ts_ns: int) -> float:
        table = self._tables.get(currency)
        if table is None:
            return 1.0 if currency == "USD" else float("nan")
        k = int(np.searchsorted(table[0], ts_ns, side="right")) - 1
        return float(table[1][k]) if k >= 0 else float("nan")

    def rates(self, currency: np.ndarray, ts_ns: np.ndarray) -> np.ndarray:
        out = np.full(len(currency), np.nan)
        for cur in pd.unique(currency):
            at = np.flatnonzero(currency == cur)
            table = self._tables.get(cur)
            if table is None:
                out[at] = 1.0 if cur == "USD" else np.nan
                continue
            k = np.searchsorted(table[0], ts_ns[at], side="right") - 1
            out[at] = np.where(k >= 0, table[1][np.maximum(k, 0)], np.nan)
        return out

    def first(self, currency: str) -> pd.Timestamp | None:
        table = self._tables.get(currency)
        return pd.Timestamp(table[0][0]) if table is not None else None


@dataclass(eq=False)
class _Live:
    """What the events scored since the snapshot changed for one account."""

    first_seen: int
    payments: Fifo = field(default_factory=Fifo)  # (ts ns, cents) of payments scored, oldest first
    last_device: str | None = None
    last_country: str | None = None


def risk_levels(composite: pd.Series, high: float = 0.5, medium: float = 0.3) -> pd.Series:
    """``HIGH`` / ``MEDIUM`` / ``LOW`` from the composite signal (NaN: ``LOW``).

    Examples
    --------
    >>> risk_levels(pd.Series([0.7, 0.3, 0.1, None])).tolist()
    ['HIGH', 'MEDIUM', 'LOW', 'LOW']
    """
    c = composite.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.Series(np.where(c >= high, "HIGH", np.where(c >= medium, "MEDIUM", "LOW")), index=composite.index)


class Profiles:
    """The profile store: one row per known account plus the live part (see the module docstring)."""

    def __init__(self, account_ids, signup_ns, risk, base_count, base_sum, last_device, last_country,
                 hist_ptr=None, hist_ts=None, hist_cents=None, as_of_ns: int | None = None, source: str = ""):
        self.account_ids = pd.Index(account_ids, dtype=object)
        n = len(self.account_ids)
        self.ids = dict(zip(self.account_ids.tolist(), range(n)))
        self.signup_ns = np.asarray(signup_ns, dtype=np.int64)
        self.risk = np.asarray(risk, dtype=np.int8)
        self.base_count = np.asarray(base_count, dtype=np.float64)
        self.base_sum = np.asarray(base_sum, dtype=np.float64)
        self.last_device = np.asarray(last_device, dtype=object)
        self.last_country = np.asarray(last_country, dtype=object)
        self.hist_ptr = np.zeros(n + 1, dtype=np.int64) if hist_ptr is None else hist_ptr
        self.hist_ts = np.zeros(0, dtype=np.int64) if hist_ts is None else hist_ts
        self.hist_cents = np.zeros(0, dtype=np.int64) if hist_cents is None else hist_cents
        self.as_of_ns = as_of_ns
        self.source = source
        self.live: dict[str, _Live] = {}
        self.rejected = pd.DataFrame(columns=["row", "account_id", "reason"])

    def __len__(self) -> int:
        return len(self.account_ids)

    def copy_fresh(self) -> Profiles:
        """The same snapshot with no live part (what a replay starts from)."""
        fresh = object.__new__(Profiles)
        fresh.__dict__.update(self.__dict__)
        fresh.live = {}
        return fresh

    def nbytes(self) -> int:
        """Bytes held by the arrays (the id dict and strings not counted; see bench/bench_scoring.py for RSS)."""
        return sum(a.nbytes for a in (self.signup_ns, self.risk, self.base_count, self.base_sum, self.last_device,
                                      self.last_country, self.hist_ptr, self.hist_ts, self.hist_cents))

    # ------------------------------------------------------------------ builders

    @classmethod
    def from_case(cls, case: Case, as_of=None, risk: pd.Series | None = None, amounts_usd: np.ndarray | None = None,
                  new_days: float = 7) -> Profiles:
        """Profiles as of ``as_of`` (None: before the case, with no history) from the case's tables.

        ``risk`` maps account id to a level (default ``LOW``); an account that
        signed up less than ``new_days`` before ``as_of`` is ``NEW``.
        ``amounts_usd`` is per payment row (default: converted as the ETL does).
        """
        from ..detect.transaction_flags import payment_amounts_usd

        users, pay = case.users, case.payments
        ids = pd.Index(pd.unique(pd.concat([users["account_id"].astype(object), pay["account_id"].astype(object),
                                            case.logins["account_id"].astype(object)], ignore_index=True)))
        n = len(ids)
        signup = np.full(n, _NAT, dtype=np.int64)
        ts_u = users["signup_ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        signup[ids.get_indexer(users["account_id"].astype(object))] = ts_u
        levels = np.zeros(n, dtype=np.int8)
        if risk is not None:
            lv = pd.Series(risk).reindex(ids).fillna("LOW").astype(str).map({v: i for i, v in enumerate(RISK_LEVELS)})
            if lv.isna().any():
                raise InputError(f"risk levels must be one of {RISK_LEVELS}")
            levels = lv.to_numpy(dtype=np.int8)
        as_of_ns = None if as_of is None else int(pd.Timestamp(as_of).as_unit("ns").value)
        if as_of_ns is not None:
            young = (signup != _NAT) & (signup > as_of_ns - int(new_days * 86_400e9))
            levels[young] = RISK_LEVELS.index("NEW")
        usd = payment_amounts_usd(case) if amounts_usd is None else np.asarray(amounts_usd, dtype=np.float64)
        pts = pay["payment_ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        prow = ids.get_indexer(pay["account_id"].astype(object))
        last_dev = np.full(n, None, dtype=object)
        last_cty = np.full(n, None, dtype=object)
        ptr, hts, hc = np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if as_of_ns is not None:
            seen = pts <= as_of_ns
            keep = seen & (pts > as_of_ns - WINDOW_NS) & ~np.isnan(usd)
            order = np.lexsort((pts[keep], prow[keep]))
            rows, hts, hc = prow[keep][order], pts[keep][order], _to_cents(usd[keep][order])
            ptr = np.searchsorted(rows, np.arange(n + 1), side="left").astype(np.int64)
            if "device_id" in pay.columns:
                _last_values(last_dev, prow, pts, pay["device_id"], seen)
                if "country_iso" in pay.columns:
                    _last_values(last_cty, prow, pts, pay["country_iso"], seen)
            else:
                lg = case.logins
                lts = lg["event_ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
                ok = (lg["result"].to_numpy() == "SUCCESS") & (lts <= as_of_ns)
                lrow = ids.get_indexer(lg["account_id"].astype(object))
                _last_values(last_dev, lrow, lts, lg["device_id"], ok)
                _last_values(last_cty, lrow, lts, lg["country_iso"], ok)
        return cls(ids, signup, levels, np.zeros(n), np.zeros(n), last_dev, last_cty, ptr, hts, hc, as_of_ns,
                   source=case.source)

    @classmethod
    def from_table(cls, df: pd.DataFrame) -> Profiles:
        """Profiles from a customer-profile table (:data:`PROFILE_COLUMNS`); bad rows go to ``rejected``.

        Examples
        --------
        >>> p = Profiles.from_table(pd.DataFrame({"account_id": ["A1", "A2"], "avg_amount_30d": [100.0, -1],
        ...     "payment_count_30d": [4, 2], "last_device_id": ["d1", None], "last_country": ["DE", None],
        ...     "signup_ts": ["2024-01-01", None], "risk_level": ["low", "HIGH"]}))
        >>> len(p), p.rejected["reason"].tolist()
        (1, ['avg_amount_30d must be a number >= 0, got -1.0'])
        """
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"profiles must be a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in PROFILE_COLUMNS if c not in df.columns]
        if missing:
            raise InputError(f"profiles table lacks column(s) {missing}; expected {PROFILE_COLUMNS}")
        d = df.reset_index(drop=True)
        reason = pd.Series([None] * len(d), dtype=object)

        def bad(mask, text):
            mask = np.asarray(mask, dtype=bool) & reason.isna().to_numpy()
            reason[mask] = text if isinstance(text, str) else np.asarray(text, dtype=object)[mask]

        acct = d["account_id"].astype(object)
        bad(acct.isna() | acct.astype(str).str.strip().eq(""), "account_id is empty")
        bad(acct.duplicated(keep="first") & acct.notna(), "account_id repeats an earlier row")
        nums = {}
        for col in ("avg_amount_30d", "payment_count_30d"):
            x = pd.to_numeric(d[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            nums[col] = np.where(np.isnan(x), 0.0, x)
            given = d[col].notna().to_numpy()
            bad(given & (np.isnan(x) | ~np.isfinite(np.where(np.isnan(x), 0, x)) | (np.nan_to_num(x, nan=0) < 0)),
                [f"{col} must be a number >= 0, got {v!r}" for v in d[col].tolist()])
        risk = d["risk_level"].astype(object).where(d["risk_level"].notna(), "LOW").astype(str).str.strip().str.upper()
        bad(~risk.isin(RISK_LEVELS), [f"risk_level must be one of {', '.join(RISK_LEVELS)}, got {v!r}"
                                      for v in d["risk_level"].tolist()])
        signup = pd.to_datetime(d["signup_ts"], errors="coerce", utc=True).dt.tz_localize(None)
        bad(d["signup_ts"].notna().to_numpy() & signup.isna().to_numpy(),
            [f"signup_ts is not a time: {v!r}" for v in d["signup_ts"].tolist()])
        ok = reason.isna().to_numpy()
        count = nums["payment_count_30d"][ok]
        signup_ns = signup.to_numpy(dtype="datetime64[ns]")[ok].astype(np.int64)
        country = d["last_country"].astype(object).where(d["last_country"].notna(), None)[ok]
        out = cls(acct[ok].astype(str).str.strip().to_numpy(), signup_ns,
                  risk[ok].map({v: i for i, v in enumerate(RISK_LEVELS)}).to_numpy(dtype=np.int8),
                  count, nums["avg_amount_30d"][ok] * count,
                  d["last_device_id"].astype(object).where(d["last_device_id"].notna(), None)[ok].to_numpy(),
                  np.asarray([None if v is None else str(v).upper() for v in country], dtype=object),
                  source="profile table")
        out.rejected = pd.DataFrame({"row": np.flatnonzero(~ok), "account_id": acct[~ok].to_numpy(),
                                     "reason": reason[~ok].to_numpy()})
        return out

    # ------------------------------------------------------------------ one event

    def window(self, row: int | None, live: _Live | None, ts: int) -> tuple[float, float]:
        """(count, mean USD) of the account's payments in ``(ts - 30 days, ts]`` before this event."""
        lo = ts - WINDOW_NS
        count, cents = 0, 0
        base_n, base_sum = 0.0, 0.0
        if row is not None:
            a, b = self.hist_ptr[row], self.hist_ptr[row + 1]
            if b > a:
                t = self.hist_ts[a:b]
                i, j = np.searchsorted(t, lo, side="right"), np.searchsorted(t, ts, side="right")
                count += int(j - i)
                cents += int(self.hist_cents[a + i:a + j].sum())
            base_n, base_sum = float(self.base_count[row]), float(self.base_sum[row])
        if live is not None:
            pays = live.payments
            while pays and pays[0][0] <= lo:
                pays.popleft()
            count += len(pays)
            cents += sum(c for _, c in pays.items[pays.head:])
        n = base_n + count
        return n, (base_sum + cents / 100) / n if n else float("nan")

    def record(self, account_id: str, ts: int, kind: str, cents: int | None, device: str | None,
               country: str | None) -> None:
        """Add a scored event to the live part (payments move the window and the last device/country)."""
        live = self.live.get(account_id)
        if live is None:
            live = self.live[account_id] = _Live(ts)
        if kind == "payment":
            if cents is not None:
                live.payments.append((ts, cents))
            if device is not None:
                live.last_device = device
            if country is not None:
                live.last_country = country


def _to_cents(usd: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(usd, dtype=np.float64) * 100).astype(np.int64)


def _last_values(out: np.ndarray, rows: np.ndarray, ts: np.ndarray, values: pd.Series, mask: np.ndarray) -> None:
    """``out[row]`` = the value of the row's latest event under ``mask`` with a value."""
    v = values.astype(object).to_numpy()
    use = mask & (rows >= 0) & ~pd.isna(v)
    idx = np.flatnonzero(use)
    order = idx[np.lexsort((ts[idx], rows[idx]))]
    r = rows[order]
    last = np.flatnonzero(np.append(r[1:] != r[:-1], True))
    out[r[last]] = v[order[last]]
