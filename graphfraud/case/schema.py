"""The case schema: tables, columns, kinds and the rules a row must satisfy.

The schema is data, so the loaders, the validator, the SQL export and the docs all
read the same description.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TIME_FORMAT", "Column", "TableSpec", "TABLES", "TABLE_NAMES", "OPTIONAL_TABLE_NAMES", "ALL_TABLE_NAMES",
           "BAD_PAYMENT_STATUSES", "BLOCKLIST_KINDS", "CURRENCIES"]


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``kind`` is one of ``id`` (text identifier), ``text``, ``ts`` (timestamp),
    ``flag`` (0/1), ``int``, ``float`` or ``enum``. ``required`` columns may not be
    null: a row with a null there is rejected. ``categorical`` columns are stored
    as pandas categoricals (their values are still strings) because event tables
    repeat them millions of times. ``absent`` says what happens when the source
    has no such column: ``None`` (the default) makes that a schema error,
    ``"omit"`` leaves it out of the typed table, ``"null"`` types it as all null
    (the money side's optional columns, so that every older case stays valid).
    An ``enum`` column's values are matched ignoring case and stored in the
    spelling of ``allowed``.
    """

    name: str
    kind: str
    required: bool = False
    allowed: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    categorical: bool = False
    description: str = ""
    absent: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract.

    ``unique`` names the key column (or a tuple of columns) that must not repeat;
    rows with a null key are not judged. An ``optional`` table may be missing
    from a case altogether: it is then empty and not counted as read.
    """

    name: str
    columns: tuple[Column, ...]
    unique: str | tuple[str, ...] | None = None
    description: str = ""
    optional: bool = False
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def column(self, name: str) -> Column:
        return self.columns[self.column_names.index(name)]


BAD_PAYMENT_STATUSES = ("CHARGEBACK", "DECLINED")

BLOCKLIST_KINDS = ("account", "ip", "device", "email_domain", "merchant")

#: ISO-4217 codes in use (plus XAU/XAG and the SDR-style fund codes a ledger may carry)
CURRENCIES = tuple("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND
TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XAG XAU XCD XDR XOF XPF YER ZAR ZMW ZWL
""".split())

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
                Column("amount_usd", "float", absent="null", description="amount in USD"),
                Column(
                    "status",
                    "enum",
                    required=True,
                    allowed=("PAID",) + BAD_PAYMENT_STATUSES,
                    description="PAID, CHARGEBACK or DECLINED",
                ),
                Column("payment_id", "id", absent="omit", description="unique payment id"),
                Column("currency", "enum", allowed=CURRENCIES, absent="omit", categorical=True,
                       description="ISO-4217 code of amount"),
                Column("amount", "float", absent="omit", description="amount in currency"),
                Column("merchant_id", "id", absent="omit", categorical=True, description="merchant paid"),
                Column("merchant_category", "text", absent="omit", categorical=True,
                       description="RETAIL, GROCERY, ELECTRONICS, FOOD, ..."),
                Column("ip", "id", absent="omit", categorical=True, description="source IP of the payment"),
                Column("device_id", "id", absent="omit", categorical=True, description="device fingerprint"),
                Column("country_iso", "text", absent="omit", categorical=True, description="country of the IP"),
            ),
            unique="payment_id",
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
        TableSpec(
            "blocklist",
            (
                Column("kind", "enum", required=True, allowed=BLOCKLIST_KINDS,
                       description="account, ip, device, email_domain or merchant"),
                Column("value", "id", required=True, description="the listed id, IP, domain or merchant"),
                Column("reason", "text", description="why it is listed"),
                Column("listed_ts", "ts", description="when it was listed (null: before the case)"),
            ),
            optional=True,
            description="known-bad accounts, IPs, devices, e-mail domains and merchants",
        ),
        TableSpec(
            "fx_rates",
            (
                Column("currency", "enum", required=True, allowed=CURRENCIES, description="ISO-4217 code"),
                Column("rate_usd", "float", required=True, low=1e-9, high=1e9, description="USD per unit"),
                Column("valid_from", "ts", required=True, description="the rate holds from then on"),
            ),
            unique=("currency", "valid_from"),
            optional=True,
            description="exchange rates to USD over time",
        ),
    )
}

#: the six tables every case has
TABLE_NAMES: tuple[str, ...] = tuple(name for name, t in TABLES.items() if not t.optional)
#: tables a case may carry (the money side); a case without them is complete
OPTIONAL_TABLE_NAMES: tuple[str, ...] = tuple(name for name, t in TABLES.items() if t.optional)
ALL_TABLE_NAMES: tuple[str, ...] = TABLE_NAMES + OPTIONAL_TABLE_NAMES
