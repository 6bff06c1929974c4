"""The :class:`Case`: the typed tables of the data contract plus the rows rejected on the way in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .schema import BAD_PAYMENT_STATUSES, OPTIONAL_TABLE_NAMES, TABLE_NAMES, TABLES

__all__ = ["Case", "REJECTED_COLUMNS"]

REJECTED_COLUMNS = ["table", "row", "column", "value", "reason", "line"]


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
        ``table, row, column, value, reason, line``: one row per problem found;
        ``row`` is the 0-based position of the record in its source table (blank
        CSV lines count as records; Parquet part files count one after the other)
        and ``line`` the 1-based physical line of a CSV file where that record
        starts, ``row + 1`` for Parquet (which has no lines), null for SQLite and
        DataFrames. A row with
        no value at all is rejected once, with ``column`` empty and reason
        ``"blank line"``.
    input_rows : Mapping[str, int]
        rows read per table, so that ``used + rejected == read`` can be checked.
    blocklist, fx_rates : DataFrame
        the optional money-side tables; empty when the case has none (then they are
        not in ``input_rows`` either, and :meth:`tables_present` leaves them out).
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
    blocklist: pd.DataFrame | None = None
    fx_rates: pd.DataFrame | None = None

    def __post_init__(self):
        from .validate import empty_table  # validate builds Cases: imported here, not at the top

        for name in OPTIONAL_TABLE_NAMES:
            if getattr(self, name) is None:
                object.__setattr__(self, name, empty_table(name))

    def table(self, name: str) -> pd.DataFrame:
        """The typed table called ``name``."""
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; the case has {', '.join(TABLES)}")
        return getattr(self, name)

    def tables_present(self) -> tuple[str, ...]:
        """The six contract tables, then the optional ones this case was given."""
        return TABLE_NAMES + tuple(n for n in OPTIONAL_TABLE_NAMES if n in self.input_rows)

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
        for name in self.tables_present():
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
        from .arrays import column_isin, text_isin  # arrays builds on Case: imported here, not at the top

        known_ips = pd.Index(self.ip_reputation["ip"])
        login_ips = self.logins["ip"]
        has_ip = login_ips.notna().to_numpy()
        ip_known = column_isin(login_ips, known_ips)
        login_accounts = pd.Index(_categories_used(self.logins["account_id"]))
        early = self.impossible_orders()
        problem = early["problem"]
        return {
            "logins_without_reputation": int((has_ip & ~ip_known).sum()),
            "logins_without_ip": int((~has_ip).sum()),
            "accounts_not_in_users": int((~text_isin(login_accounts, self.users["account_id"])).sum()),
            "rejected_rows": int(len(self.rejected.drop_duplicates(["table", "row"]))),
            "logins_before_signup": int((early["table"] == "logins").sum()),
            "payments_before_signup": int((early["table"] == "payments").sum()),
            "chargebacks_before_signup": int((problem == "chargeback before signup").sum()),
            "findings_before_signup": int((early["table"] == "security_findings").sum()),
        }

    def impossible_orders(self) -> pd.DataFrame:
        """Events dated before their account's ``signup_ts``: kept, but no analyst should trust them blindly.

        Returns one row per such event: ``table, row, account_id, event_ts,
        signup_ts, problem`` where ``row`` is the index in the typed table and
        ``problem`` is ``"login before signup"``, ``"payment before signup"``,
        ``"chargeback before signup"`` (a payment with status CHARGEBACK) or
        ``"finding before signup"``. Accounts missing from ``users`` or without a
        signup time are not judged.

        Examples
        --------
        >>> import pandas as pd
        >>> from graphfraud import case_from_frames
        >>> case = case_from_frames(
        ...     logins=pd.DataFrame({"event_ts": ["2025-01-01"], "account_id": ["A1"], "ip": ["1.1.1.1"],
        ...                          "country_iso": ["DE"], "result": ["FAIL"], "mfa_used": [0], "device_id": ["d"]}),
        ...     users=pd.DataFrame({"account_id": ["A1"], "country": ["DE"], "signup_ts": ["2025-06-01"],
        ...                         "email_domain": ["x.com"], "is_enterprise": [0]}))
        >>> case.impossible_orders()[["table", "account_id", "problem"]].values.tolist()
        [['logins', 'A1', 'login before signup']]
        """
        users = self.users.dropna(subset=["signup_ts"])
        signup = pd.Series(users["signup_ts"].to_numpy(), index=pd.Index(users["account_id"].astype(object)))
        parts = []
        for table, ts_col, what in (("logins", "event_ts", "login"), ("payments", "payment_ts", "payment"),
                                    ("security_findings", "finding_ts", "finding")):
            frame = self.table(table)
            at = _lookup(frame["account_id"], signup)
            event = frame[ts_col].to_numpy()
            early = np.flatnonzero(~np.isnat(at) & (event < at))
            if not len(early):
                continue
            problem = np.full(len(early), f"{what} before signup", dtype=object)
            if table == "payments":
                status = frame["status"].astype(object).to_numpy()[early]
                problem[status == "CHARGEBACK"] = "chargeback before signup"
            parts.append(pd.DataFrame({
                "table": table,
                "row": early,
                "account_id": frame["account_id"].astype(object).to_numpy()[early],
                "event_ts": event[early],
                "signup_ts": at[early],
                "problem": problem,
            }))
        if not parts:
            return pd.DataFrame({"table": pd.Series(dtype=object), "row": pd.Series(dtype="int64"),
                                 "account_id": pd.Series(dtype=object),
                                 "event_ts": pd.Series(dtype="datetime64[ns]"),
                                 "signup_ts": pd.Series(dtype="datetime64[ns]"), "problem": pd.Series(dtype=object)})
        return pd.concat(parts, ignore_index=True)

    def rejection_summary(self) -> pd.DataFrame:
        """Per table: rows ``read``, ``rejected``, their ``share`` and the ``top_columns`` at fault.

        ``top_columns`` reads like ``"risk_score 685; asn 3"`` (rows with a problem
        in that column, most first; ``(blank line)`` for empty records), and
        ``top_reason`` is the most common reason, so a table whose rows were nearly
        all rejected is seen at a glance.

        Examples
        --------
        >>> import pandas as pd
        >>> from graphfraud import case_from_frames
        >>> case = case_from_frames(logins=pd.DataFrame({
        ...     "event_ts": ["2025-08-01", "later"], "account_id": ["A1", "A1"], "ip": ["1.1.1.1", None],
        ...     "country_iso": ["DE", "DE"], "result": ["FAIL", "FAIL"], "mfa_used": [0, 0], "device_id": ["d", "d"]}))
        >>> r = case.rejection_summary().loc["logins"]
        >>> int(r["read"]), int(r["rejected"]), float(r["share"]), r["top_columns"]
        (2, 1, 0.5, 'event_ts 1')
        """
        counts = self.row_counts()
        rows = []
        for name in self.tables_present():
            rej = self.rejected[self.rejected["table"] == name]
            read, n = int(counts.loc[name, "read"]), int(counts.loc[name, "rejected"])
            by_col = (rej.drop_duplicates(["row", "column"])["column"].replace("", "(blank line)")
                      .value_counts(sort=True))
            top = "; ".join(f"{c} {k}" for c, k in by_col.head(3).items())
            reason = rej["reason"].value_counts().index[0] if len(rej) else ""
            rows.append((name, read, n, n / read if read else 0.0, top, reason))
        return pd.DataFrame(rows, columns=["table", "read", "rejected", "share", "top_columns", "top_reason"]
                            ).set_index("table")

    def check_rejections(self, stop_share: float = 0.5, warn_share: float = 0.02) -> list[str]:
        """Warnings for tables with many rejected rows; an error when a table is mostly rejected.

        Returns one sentence per table whose rejected share is above ``warn_share``
        (and below ``stop_share``). A table with no rows read is not judged here.

        Raises
        ------
        RejectedInputError
            when a table's rejected share is ``>= stop_share``; the message names the
            table, the counts, the columns and the most common reason.

        Examples
        --------
        >>> import pandas as pd
        >>> from graphfraud import case_from_frames
        >>> case = case_from_frames(logins=pd.DataFrame({
        ...     "event_ts": ["2025-08-01"] * 9 + ["later"], "account_id": ["A1"] * 10, "ip": ["1.1.1.1"] * 10,
        ...     "country_iso": ["DE"] * 10, "result": ["FAIL"] * 10, "mfa_used": [0] * 10, "device_id": ["d"] * 10}))
        >>> case.check_rejections()
        ["logins: 1 of 10 rows (10.0%) rejected, mostly in event_ts 1 (e.g. unparseable timestamp 'later')"]
        """
        from ..errors import RejectedInputError

        if not 0 <= warn_share <= stop_share:
            raise _input_error(f"need 0 <= warn_share <= stop_share, got warn_share={warn_share}, "
                               f"stop_share={stop_share}")
        summary = self.rejection_summary()
        judged = summary[summary["read"] > 0]
        stop = judged[(judged["share"] >= stop_share) & (judged["rejected"] > 0)]
        if len(stop):
            lines = [
                f"{name}: {r.rejected:,} of {r.read:,} rows ({r.share:.0%}) were rejected, mostly in "
                f"{r.top_columns}; most common reason: {r.top_reason}"
                for name, r in stop.iterrows()
            ]
            raise RejectedInputError(
                "too many input rows were rejected for the numbers to mean anything:\n  - "
                + "\n  - ".join(lines)
                + "\n  fix the source (rejected_rows.csv lists every problem with its line or row).",
                summary, list(stop.index))
        warn = judged[(judged["share"] > warn_share) & (judged["rejected"] > 0)]
        return [f"{name}: {r.rejected:,} of {r.read:,} rows ({r.share:.1%}) rejected, mostly in {r.top_columns}"
                f" (e.g. {r.top_reason})" for name, r in warn.iterrows()]


def _input_error(message: str):
    from ..errors import InputError

    return InputError(message)


def _lookup(accounts: pd.Series, signup: pd.Series) -> np.ndarray:
    """Signup time per row of ``accounts`` (NaT where unknown), through category codes when categorical."""
    nat = np.datetime64("NaT", "ns")
    if isinstance(accounts.dtype, pd.CategoricalDtype):
        from .arrays import text_index

        at = text_index(accounts.cat.categories, signup.index)
        per_cat = np.append(signup.to_numpy(dtype="datetime64[ns]"), nat)[at]
        codes = accounts.cat.codes.to_numpy()
        return np.append(per_cat, nat)[np.where(codes >= 0, codes, len(per_cat))]
    if not len(accounts):
        return np.array([], dtype="datetime64[ns]")
    return signup.reindex(accounts.astype(object).to_numpy()).to_numpy(dtype="datetime64[ns]")


def _categories_used(s: pd.Series) -> np.ndarray:
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
        used = np.bincount(codes[codes >= 0], minlength=len(s.cat.categories)) > 0
        return np.asarray(s.cat.categories, dtype=object)[used]
    return s.dropna().unique()
