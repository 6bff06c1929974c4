"""The one exception hierarchy of graphfraud.

Every error raised on purpose by the library is a :class:`GraphFraudError`, so a
notebook or a service can catch the library's complaints without catching bugs.
"""

from __future__ import annotations

__all__ = ["GraphFraudError", "SchemaError", "InputError", "RejectedInputError", "BackendError"]


class GraphFraudError(Exception):
    """Root of every error graphfraud raises on purpose."""


class SchemaError(GraphFraudError):
    """The case does not have the tables or columns of the data contract.

    ``problems`` lists every problem found (all of them, not just the first), each a
    sentence naming the table and column.

    Examples
    --------
    >>> err = SchemaError(["table 'logins' is missing"])
    >>> err.problems
    ["table 'logins' is missing"]
    """

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"the case{where} does not match the data contract ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("  (see the case schema: users, logins, ip_reputation, ec2_activity, payments, security_findings;"
                     " optional: blocklist, fx_rates)")
        super().__init__("\n".join(lines))


class InputError(GraphFraudError):
    """An argument or an input file is unusable (path missing, bad parameter value)."""


class RejectedInputError(InputError):
    """So many rows of a table were rejected that its numbers would mislead.

    Raised by :meth:`graphfraud.Case.check_rejections`; ``summary`` is the
    :meth:`~graphfraud.Case.rejection_summary` frame (one row per table) and
    ``tables`` names the tables at or above the stop share.

    Examples
    --------
    >>> import pandas as pd
    >>> err = RejectedInputError("logins: 9 of 10 rows rejected", pd.DataFrame(), ["logins"])
    >>> err.tables, isinstance(err, InputError)
    (['logins'], True)
    """

    def __init__(self, message: str, summary, tables: list[str]):
        super().__init__(message)
        self.summary = summary
        self.tables = list(tables)


class BackendError(GraphFraudError):
    """A graph store cannot be opened or reached (bad store file, refused connection)."""
