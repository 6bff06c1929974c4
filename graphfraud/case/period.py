"""The two periods every number in an analysis refers to.

The **analysis period** (``since``/``until``; default the whole case: first to
last login) is what burst triggers, campaigns, rings, rule alert counts and
payment cohorts are counted over. The **signal window** (the last
``window_days`` ending at ``as_of``; default ``as_of`` is the end of the
analysis period) is what the per-account signals describe; the logins before it
are the signals' history. Every output says which of the two it covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from .model import Case
from .schema import TIME_FORMAT as _FMT

__all__ = ["Period", "Periods", "resolve_periods", "parse_time"]



def parse_time(value, what: str = "time") -> pd.Timestamp | None:
    """``value`` as a naive-UTC Timestamp (``None`` stays ``None``); an InputError names ``what`` otherwise.

    Examples
    --------
    >>> parse_time("2025-08-01 10:00", "--since")
    Timestamp('2025-08-01 10:00:00')
    >>> parse_time("next tuesday", "--since")
    Traceback (most recent call last):
    ...
    graphfraud.errors.InputError: --since: 'next tuesday' is not a timestamp (use ISO-8601, e.g. '2025-09-30 23:59:59')
    """
    if value is None:
        return None
    try:
        # as_unit: pandas parses year 3000, but every column here is nanoseconds (1677-2262)
        ts = pd.Timestamp(value)
        ts = ts if ts is pd.NaT else ts.as_unit("ns")
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        reason = "is out of range (1677-09-22 to 2262-04-11)" if isinstance(
            exc, (OverflowError, pd.errors.OutOfBoundsDatetime)) else "is not a timestamp"
        raise InputError(f"{what}: {value!r} {reason} (use ISO-8601, e.g. '2025-09-30 23:59:59')") from None
    if ts is pd.NaT or pd.isna(ts):
        raise InputError(f"{what}: {value!r} is not a timestamp (use ISO-8601, e.g. '2025-09-30 23:59:59')")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


@dataclass(frozen=True)
class Period:
    """A closed interval ``[start, end]`` of naive-UTC time."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def days(self) -> float:
        """Length in days (at least one minute's worth, so rates never divide by zero)."""
        return max((self.end - self.start) / pd.Timedelta(days=1), 1 / 1440)

    def label(self) -> str:
        """``2025-08-01 00:00:00 to 2025-09-14 23:59:00 (44.9 days)``."""
        return f"{self.start.strftime(_FMT)} to {self.end.strftime(_FMT)} ({self.days:,.1f} days)"

    def as_dict(self, prefix: str) -> dict:
        return {f"{prefix}_start": self.start.strftime(_FMT), f"{prefix}_end": self.end.strftime(_FMT),
                f"{prefix}_days": round(self.days, 4)}

    def mask(self, ts) -> np.ndarray:
        """Rows of a timestamp column inside the period (both ends inclusive)."""
        arr = pd.Series(ts).to_numpy(dtype="datetime64[ns]")
        return (arr >= self.start.to_datetime64()) & (arr <= self.end.to_datetime64())


@dataclass(frozen=True)
class Periods:
    """The analysis period and the signal window of one run."""

    analysis: Period
    signal_window: Period
    window_days: float

    @property
    def as_of(self) -> pd.Timestamp:
        return self.signal_window.end

    def as_dict(self) -> dict:
        return {**self.analysis.as_dict("period"), **self.signal_window.as_dict("window"),
                "window_days": self.window_days}

    def lines(self) -> list[str]:
        """The two lines every report, summary and case folder starts with."""
        return [f"Analysis period: {self.analysis.label()}: burst triggers, campaigns, rings, payment cohorts",
                f"Signal window: {self.signal_window.label()}: account signals and rule alert counts "
                "(earlier logins are the signals' history)"]


def resolve_periods(case: Case, since=None, until=None, window_days: float = 14, as_of=None,
                    names: dict | None = None) -> Periods:
    """The periods of a run on ``case``, every argument checked; errors name the argument.

    ``names`` maps argument names to what the user typed them as (the CLI passes
    ``{"since": "--since", ...}``) so messages speak the caller's language.

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> lg = pd.DataFrame({"event_ts": ["2025-08-01 10:00", "2025-08-31 10:00"], "account_id": ["A", "B"],
    ...     "ip": ["1.1.1.1"] * 2, "country_iso": ["DE"] * 2, "result": ["SUCCESS"] * 2,
    ...     "mfa_used": [0, 0], "device_id": ["d1", "d2"]})
    >>> p = resolve_periods(graphfraud.case_from_frames(logins=lg), window_days=14)
    >>> p.analysis.label(), p.signal_window.label()
    ('2025-08-01 10:00:00 to 2025-08-31 10:00:00 (30.0 days)', '2025-08-17 10:00:00 to 2025-08-31 10:00:00 (14.0 days)')
    """
    n = {"since": "since", "until": "until", "window_days": "window_days", "as_of": "as_of", **(names or {})}
    if isinstance(window_days, bool) or not isinstance(window_days, (int, float, np.integer, np.floating)) \
            or not math.isfinite(window_days) or window_days <= 0 or window_days > 36_500:
        raise InputError(f"{n['window_days']} must be a positive number of days (at most 36500), got {window_days!r}")
    start, end = parse_time(since, n["since"]), parse_time(until, n["until"])
    as_of_ts = parse_time(as_of, n["as_of"])
    if start is not None and end is not None and start > end:
        raise InputError(f"{n['since']} ({start}) is later than {n['until']} ({end}): the analysis period is empty")
    ts = case.logins["event_ts"]
    if not len(ts):
        raise InputError("the case has no usable logins, so there is nothing to analyse "
                         "(see rejected rows for why logins were rejected)")
    first, last = pd.Timestamp(ts.min()), pd.Timestamp(ts.max())
    start = first if start is None else start
    end = last if end is None else end
    inside = int(Period(start, end).mask(ts).sum())
    if inside == 0:
        raise InputError(f"no logins between {n['since']} {start.strftime(_FMT)} and {n['until']} "
                         f"{end.strftime(_FMT)}: the case's logins run from {first.strftime(_FMT)} to "
                         f"{last.strftime(_FMT)}")
    as_of_ts = end if as_of_ts is None else as_of_ts
    try:
        window_start = as_of_ts - pd.Timedelta(days=float(window_days))
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        raise InputError(f"{n['window_days']}={window_days!r} before {n['as_of']} {as_of_ts} is out of range") from None
    if not Period(window_start, as_of_ts).mask(ts).any():
        # an empty signal window would give zero signals and "no rule", which reads like a clean case
        raise InputError(f"no logins in the signal window {window_start.strftime(_FMT)} to "
                         f"{as_of_ts.strftime(_FMT)} ({n['window_days']} {window_days:g} days before {n['as_of']}): "
                         f"the case's logins run from {first.strftime(_FMT)} to {last.strftime(_FMT)}")
    return Periods(Period(start, end), Period(window_start, as_of_ts), float(window_days))
