"""The :class:`Case`: six typed tables of the data contract plus the rows rejected on the way in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .schema import BAD_PAYMENT_STATUSES, TABLE_NAMES, TABLES

__all__ = ["Case", "REJECTED_COLUMNS"]

REJECTED_COLUMNS = ["table", "row", "column", "value", "reason"]


@dataclass(frozen=True, eq=False)
class Case:
    """One fraud case: the six contract tables, typed, plus what was rejected.

    Timestamps are ``datetime64[ns]`` (naive UTC), 0/1 flags are ``bool``,
    identifiers are strings. In the event tables (``logins``, ``ec2_activity``)
    repeated text columns are pandas categoricals of strings, which keeps a
    30M-row login table in memory.

    Attributes
    ----------
    rejected : DataFrame
        ``table, row, column, value, reason``: one row per problem found; ``row``
        is the 0-based position of the row in its source table (CSV line = row + 2).
    input_rows : Mapping[str, int]
        rows read per table, so that ``used + rejected == read`` can be checked.
    source : str
        where the case came from (a path, or ``"<frames>"``).
    pristine : frozenset
        tables whose every source row was used exactly as stored (no rejections,
        no trimming, canonical timestamps); SQL may run on the source file for these.

    Examples
    --------
    >>> import pandas as pd
    >>> from graphfraud import case_from_frames
    >>> case = case_from_frames(logins=pd.DataFrame({
    ...     "event_ts": ["2025-08-01 10:00:00", "not a time"], "account_id": ["A1", "A1"],
    ...     "ip": ["1.2.3.4", "1.2.3.4"], "country_iso": ["DE", "DE"],
    ...     "result": ["FAIL", "SUCCESS"], "mfa_used": [0, 1], "device_id": ["d1", "d1"]}))
    >>> len(case.logins), case.rejected.loc[0, "reason"]
    (1, "unparseable timestamp 'not a time'")
    """

    users: pd.DataFrame
    logins: pd.DataFrame
    ip_reputation: pd.DataFrame
    ec2_activity: pd.DataFrame
    payments: pd.DataFrame
    security_findings: pd.DataFrame
    rejected: pd.DataFrame
    input_rows: Mapping[str, int] = field(default_factory=dict)
    source: str = "<frames>"
    pristine: frozenset = frozenset()

    def table(self, name: str) -> pd.DataFrame:
        """The typed table called ``name``."""
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; the case has {', '.join(TABLE_NAMES)}")
        return getattr(self, name)

    def row_counts(self) -> pd.DataFrame:
        """Per table: rows read, used and rejected (``read == used + rejected``).

        Examples
        --------
        >>> import pandas as pd
        >>> from graphfraud import case_from_frames
        >>> case = case_from_frames(logins=pd.DataFrame({
        ...     "event_ts": ["2025-08-01"], "account_id": [None], "ip": ["1.2.3.4"],
        ...     "country_iso": ["DE"], "result": ["FAIL"], "mfa_used": [0], "device_id": ["d"]}))
        >>> case.row_counts().loc["logins"].tolist()
        [1, 0, 1]
        """
        rej = self.rejected.drop_duplicates(["table", "row"]).groupby("table").size()
        rows = []
        for name in TABLE_NAMES:
            used = len(self.table(name))
            rejected = int(rej.get(name, 0))
            rows.append((name, int(self.input_rows.get(name, used + rejected)), used, rejected))
        return pd.DataFrame(rows, columns=["table", "read", "used", "rejected"]).set_index("table")

    def bad_payments(self, statuses=BAD_PAYMENT_STATUSES) -> pd.DataFrame:
        """Payment rows whose status counts as a bad outcome (chargebacks and declines by default)."""
        return self.payments[self.payments["status"].astype(object).isin(list(statuses)).to_numpy()]

    def data_quality(self) -> dict[str, int]:
        """Counts an analyst should know before trusting the numbers.

        ``logins_without_reputation``: logins whose IP has no ``ip_reputation`` row
        (kept, risk unknown); ``accounts_not_in_users``: accounts seen in logins but
        missing from ``users`` (kept); ``rejected_rows``: rows rejected in all tables.
        """
        known_ips = pd.Index(self.ip_reputation["ip"])
        login_ips = self.logins["ip"]
        has_ip = login_ips.notna().to_numpy()
        ip_known = _isin(login_ips, known_ips)
        login_accounts = pd.Index(_categories_used(self.logins["account_id"]))
        return {
            "logins_without_reputation": int((has_ip & ~ip_known).sum()),
            "logins_without_ip": int((~has_ip).sum()),
            "accounts_not_in_users": int((~login_accounts.isin(self.users["account_id"])).sum()),
            "rejected_rows": int(len(self.rejected.drop_duplicates(["table", "row"]))),
        }


def _categories_used(s: pd.Series) -> np.ndarray:
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
        used = np.unique(codes[codes >= 0])
        return np.asarray(s.cat.categories, dtype=object)[used]
    return s.dropna().unique()


def _isin(s: pd.Series, index: pd.Index) -> np.ndarray:
    """``s.isin(index)`` that works on category codes, so it stays fast on 30M rows."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cat_known = np.asarray(s.cat.categories.isin(index))
        codes = s.cat.codes.to_numpy()
        return np.where(codes >= 0, cat_known[np.maximum(codes, 0)], False)
    return s.isin(index).to_numpy()
