"""The one exception hierarchy of graphfraud.

Every error raised on purpose by the library is a :class:`GraphFraudError`, so a
notebook or a service can catch the library's complaints without catching bugs.
"""

from __future__ import annotations

__all__ = ["GraphFraudError", "SchemaError", "InputError", "BackendError"]


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
        lines.append("  (see the case schema: users, logins, ip_reputation, ec2_activity, payments, security_findings)")
        super().__init__("\n".join(lines))


class InputError(GraphFraudError):
    """An argument or an input file is unusable (path missing, bad parameter value)."""


class BackendError(GraphFraudError):
    """A graph store cannot be opened or reached (bad store file, refused connection)."""
