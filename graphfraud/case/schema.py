"""The case schema: tables, columns, kinds and the rules a row must satisfy.

The schema is data, so the loaders, the validator, the SQL export and the docs all
read the same description.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TIME_FORMAT", "Column", "TableSpec", "TABLES", "TABLE_NAMES", "BAD_PAYMENT_STATUSES"]


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``kind`` is one of ``id`` (text identifier), ``text``, ``ts`` (timestamp),
    ``flag`` (0/1), ``int``, ``float`` or ``enum``. ``required`` columns may not be
    null: a row with a null there is rejected. ``categorical`` columns are stored
    as pandas categoricals (their values are still strings) because event tables
    repeat them millions of times.
    """

    name: str
    kind: str
    required: bool = False
    allowed: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    categorical: bool = False
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract; ``unique`` names a key column that must not repeat."""

    name: str
    columns: tuple[Column, ...]
    unique: str | None = None
    description: str = ""
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def column(self, name: str) -> Column:
        return self.columns[self.column_names.index(name)]


BAD_PAYMENT_STATUSES = ("CHARGEBACK", "DECLINED")

#: how the contract writes a timestamp (naive UTC); every output writes them the same way
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "users",
            (
                Column("account_id", "id", required=True, description="account key"),
                Column("country", "text", description="ISO-3166 alpha-2 country of signup"),
                Column("signup_ts", "ts", description="signup time"),
                Column("email_domain", "text", description="domain of the account e-mail"),
                Column("is_enterprise", "flag", description="enterprise customer"),
            ),
            unique="account_id",
            description="one row per account",
        ),
        TableSpec(
            "logins",
            (
                Column("event_ts", "ts", required=True, description="login attempt time"),
                Column("account_id", "id", required=True, categorical=True, description="account tried"),
                Column("ip", "id", categorical=True, description="source IP"),
                Column("country_iso", "text", categorical=True, description="country of the source IP"),
                Column("result", "enum", required=True, allowed=("SUCCESS", "FAIL"), description="SUCCESS or FAIL"),
                Column("mfa_used", "flag", description="MFA was used"),
                Column("device_id", "id", categorical=True, description="device fingerprint"),
            ),
            description="one row per login attempt",
        ),
        TableSpec(
            "ip_reputation",
            (
                Column("ip", "id", required=True, description="IP key"),
                Column("risk_score", "int", required=True, low=0, high=100, description="risk 0-100"),
                Column("asn", "int", description="autonomous system number"),
                Column("is_tor", "flag", description="TOR exit / anonymiser"),
            ),
            unique="ip",
            description="one row per IP",
        ),
        TableSpec(
            "ec2_activity",
            (
                Column("event_ts", "ts", required=True, description="API call time"),
                Column("account_id", "id", required=True, categorical=True, description="account"),
                Column("action", "text", required=True, categorical=True, description="EC2 API action"),
                Column("instance_id", "id", description="instance"),
                Column("region", "text", categorical=True, description="AWS region"),
            ),
            description="one row per EC2 API call",
        ),
        TableSpec(
            "payments",
            (
                Column("payment_ts", "ts", required=True, description="charge time"),
                Column("account_id", "id", required=True, description="account"),
                Column("method", "text", description="CARD, INVOICE, WIRE"),
                Column("amount_usd", "float", description="amount"),
                Column(
                    "status",
                    "enum",
                    required=True,
                    allowed=("PAID",) + BAD_PAYMENT_STATUSES,
                    description="PAID, CHARGEBACK or DECLINED",
                ),
            ),
            description="one row per charge",
        ),
        TableSpec(
            "security_findings",
            (
                Column("finding_ts", "ts", required=True, description="when a compromise was confirmed"),
                Column("account_id", "id", required=True, description="account"),
                Column("type", "text", description="CREDENTIAL_EXFIL, BRUTE_FORCE, ABUSE_COMPUTE, ..."),
                Column("severity", "text", description="HIGH, MEDIUM, LOW"),
            ),
            description="one row per confirmed compromise",
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
