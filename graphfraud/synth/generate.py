"""Synthetic fraud cases with ground truth, deterministic by seed.

The generator reproduces what makes real case data hard: carrier NAT / mobile IPs
shared by hundreds of honest accounts, VPN and TOR exits used by honest people,
households sharing an IP and sometimes a device, travellers, credential-stuffing
IPs failing against many random victims (a few of whom are taken over and then
launch EC2 bursts across regions), and colluding rings of several shapes: lockstep
rings logging in to their accounts through the same proxies and devices within
minutes of each other while each member also behaves normally (camouflage), slow
rings worked hours apart, device farms, tiny rings of a fraudster and his mules,
rings rotating residential proxies and rings hiding behind a carrier NAT. Honest
groups that look like rings (MSP admins, families on one tablet, households,
hotel IPs) are there too, to be left alone (:mod:`graphfraud.synth.shapes`).

The money side (:mod:`graphfraud.synth.money`, on unless ``money_side=False``) gives
payments their ids, currencies, merchants, IPs and devices, card testing, mule
pile-ups, ring cycles, high amounts and fraud merchants beside honest look-alikes,
and adds the optional ``blocklist`` and ``fx_rates`` tables.

Accounts are generated in independent chunks (each with its own hubs, campaigns
and rings), so a million accounts stream to SQLite without holding the whole case
in memory. Ground truth is kept apart from the case: a second SQLite file with
``truth_accounts``, ``truth_rings`` (``ring_id, account_id, shape``),
``truth_honest_groups`` (``group_id, kind, account_id``), ``truth_campaigns``,
``truth_ips`` and ``truth_payments`` (``payment_id, account_id, fraud, pattern``).

Examples
--------
>>> from graphfraud import synth
>>> result = synth.generate_case(300, seed=1)
>>> len(result.case.users), result.truth.rings["ring_id"].nunique() > 0
(300, True)
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..case import Case, case_from_frames
from ..errors import InputError
from ..case.schema import OPTIONAL_TABLE_NAMES, TABLE_NAMES, TABLES
from .config import SynthConfig
from .money import TRUTH_PAYMENT_COLUMNS, case_tables
from .world import make_chunk

__all__ = ["SynthConfig", "Truth", "SyntheticCase", "generate_case", "write_case", "truth_path_for", "load_truth"]

_TRUTH_TABLES = ("accounts", "rings", "campaigns", "ips", "honest_groups", "payments")


@dataclass(frozen=True, eq=False)
class Truth:
    """What really happened in a synthetic case (never part of the case itself).

    Attributes
    ----------
    accounts
        One row per account: ``ring_id`` (any shape), ``household_id``, and the 0/1 flags
        ``compromised``, ``stuffing_victim``, ``mobile``, ``vpn_user``, ``traveller`` and ``mule``
        (a tiny ring's mules and the cash-out account of most rings of four or more).
    rings
        ``ring_id, account_id, shape``; shapes are in :data:`~graphfraud.synth.config.RING_SHAPES`.
    campaigns
        One row per credential-stuffing campaign.
    ips
        ``ip, kind, has_reputation``: what each IP really is (home, hub, vpn, residential_proxy, ...).
    honest_groups
        ``group_id, kind, account_id``: accounts sharing infrastructure for honest reasons
        (kinds in :data:`~graphfraud.synth.config.HONEST_KINDS`); none of them should be flagged.
    payments
        ``payment_id, account_id, fraud, pattern``: one row per payment of the case, in the
        case's order; ``fraud`` is 1 for the patterns in
        :data:`~graphfraud.synth.config.FRAUD_PATTERNS` and 0 for those in
        :data:`~graphfraud.synth.config.HONEST_PATTERNS`. Empty with ``money_side=False``.

    Truth files written before the money side have no ``mule`` flag (it reads as 0) and no
    payments (an empty table).
    """

    accounts: pd.DataFrame
    rings: pd.DataFrame
    campaigns: pd.DataFrame
    ips: pd.DataFrame
    honest_groups: pd.DataFrame
    payments: pd.DataFrame


@dataclass(frozen=True, eq=False)
class SyntheticCase:
    case: Case
    truth: Truth
    config: SynthConfig


def generate_case(n_accounts: int = 2000, seed: int = 0, **options) -> SyntheticCase:
    """Generate a case in memory (fine up to ~100k accounts) with its ground truth.

    ``options`` are :class:`SynthConfig` fields (``days``, ``chunk_size``, the shapes' rates
    and sizes, ...).

    Examples
    --------
    >>> from graphfraud.synth import generate_case
    >>> a, b = generate_case(200, seed=3), generate_case(200, seed=3)
    >>> a.case.logins.equals(b.case.logins)
    True
    >>> a.truth.rings.columns.tolist()
    ['ring_id', 'account_id', 'shape']
    """
    cfg = SynthConfig(n_accounts=n_accounts, seed=seed, **options)
    parts = [make_chunk(cfg, i, lo, hi) for i, (lo, hi) in enumerate(_chunks(cfg))]
    whole = case_tables(cfg) if cfg.money_side else {}
    tables = {name: pd.concat(([whole[name]] if name in whole else []) + [p[0][name] for p in parts if name in p[0]],
                              ignore_index=True) for name in _table_names(cfg)}
    truth = {name: pd.concat([p[1][name] for p in parts], ignore_index=True) for name in parts[0][1]}
    case = case_from_frames(**tables)
    return SyntheticCase(case, Truth(**truth), cfg)


def truth_path_for(case_path: str | Path) -> Path:
    """Where :func:`write_case` puts the ground truth for ``case_path``."""
    p = Path(case_path)
    return p.with_name(p.stem + ".truth.sqlite")


def write_case(path: str | Path, n_accounts: int = 2000, seed: int = 0, progress=None, **options) -> Path:
    """Generate a case chunk by chunk straight into a SQLite file (memory stays bounded).

    The ground truth goes to :func:`truth_path_for` ``(path)``. Existing files are replaced.
    Returns the path of the truth file.
    """
    cfg = SynthConfig(n_accounts=n_accounts, seed=seed, **options)
    path = Path(path)
    truth_path = truth_path_for(path)
    for p in (path, truth_path):
        if p.exists():
            p.unlink()
    conn, tconn = sqlite3.connect(path), sqlite3.connect(truth_path)
    try:
        for name in _table_names(cfg):
            cols = ", ".join(f"{c.name} {_SQLTYPE[c.kind]}" for c in _written(name, cfg))
            conn.execute(f"CREATE TABLE {name} ({cols})")
        for name, df in (case_tables(cfg) if cfg.money_side else {}).items():
            _append(conn, name, df, cfg)
        bounds = _chunks(cfg)
        for i, (lo, hi) in enumerate(bounds):
            tables, truth = make_chunk(cfg, i, lo, hi)
            for name, df in tables.items():
                _append(conn, name, df, cfg)
            for name, df in truth.items():
                _append_frame(tconn, f"truth_{name}", df, first=i == 0)
            conn.commit()
            tconn.commit()
            if progress:
                progress(hi, cfg.n_accounts)
        meta = pd.DataFrame([{k: str(v) for k, v in asdict(cfg).items()}])
        meta.to_sql("truth_config", tconn, if_exists="replace", index=False)
        tconn.commit()
    finally:
        conn.close()
        tconn.close()
    return truth_path


def load_truth(path: str | Path) -> Truth:
    """Read the ground truth written by :func:`write_case` (give the case or the truth path).

    Truth files written before ring shapes existed hold only lockstep rings and no honest
    groups: they load with ``shape`` "lockstep" and an empty ``honest_groups``. Files written
    before the money side load with ``mule`` 0 and an empty ``payments``.
    """
    p = Path(path)
    if not p.name.endswith(".truth.sqlite"):
        p = truth_path_for(p)
    if not p.exists():
        raise InputError(f"no ground truth at {p}")
    with sqlite3.connect(p) as conn:
        have = set(pd.read_sql_query("SELECT name FROM sqlite_master WHERE type = 'table'", conn)["name"])
        missing = [f"truth_{n}" for n in _TRUTH_TABLES[:4] if f"truth_{n}" not in have]
        if missing:
            raise InputError(f"{p} is not a ground-truth file written by write_case: no table {', '.join(missing)}")
        tables = {n: pd.read_sql_query(f"SELECT * FROM truth_{n}", conn) for n in _TRUTH_TABLES if f"truth_{n}" in have}
    tables.setdefault("honest_groups", pd.DataFrame(columns=["group_id", "kind", "account_id"], dtype=object))
    tables.setdefault("payments", pd.DataFrame(columns=TRUTH_PAYMENT_COLUMNS, dtype=object))
    if "shape" not in tables["rings"]:
        tables["rings"]["shape"] = "lockstep"
    if "mule" not in tables["accounts"]:
        tables["accounts"]["mule"] = 0
    return Truth(**tables)


_SQLTYPE = {"id": "TEXT", "text": "TEXT", "ts": "TIMESTAMP", "flag": "INTEGER", "int": "INTEGER",
            "float": "REAL", "enum": "TEXT"}


def _table_names(cfg: SynthConfig) -> tuple[str, ...]:
    """The tables a generated case has: the six, and the money side's optional ones when it is on."""
    return TABLE_NAMES + (OPTIONAL_TABLE_NAMES if cfg.money_side else ())


def _written(name: str, cfg: SynthConfig) -> list:
    """The columns a generated table has: all of the contract's, or without the money side the six tables' own."""
    return [c for c in TABLES[name].columns if cfg.money_side or c.absent != "omit"]


def _append(conn: sqlite3.Connection, name: str, df: pd.DataFrame, cfg: SynthConfig) -> None:
    cols = [c.name for c in _written(name, cfg)]
    arrays = [df[c].to_numpy(dtype=object) if df[c].dtype == object else df[c].tolist() for c in cols]
    conn.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})", zip(*arrays))


def _append_frame(conn: sqlite3.Connection, table: str, df: pd.DataFrame, first: bool) -> None:
    """Append a ground-truth frame (creating its table the first time): executemany, not the slower ``to_sql``."""
    if first:
        kinds = {"i": "INTEGER", "u": "INTEGER", "b": "INTEGER", "f": "REAL"}
        cols = ", ".join(f'"{c}" {kinds.get(df[c].dtype.kind, "TEXT")}' for c in df.columns)
        conn.execute(f'CREATE TABLE "{table}" ({cols})')
    conn.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * df.shape[1])})',
                     zip(*[df[c].tolist() for c in df.columns]))


def _chunks(cfg: SynthConfig) -> list[tuple[int, int]]:
    n, size = cfg.n_accounts, cfg.chunk_size
    bounds = [(lo, min(lo + size, n)) for lo in range(0, n, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 50:  # never leave a chunk too small for a ring
        lo, _ = bounds.pop(-2)
        bounds[-1] = (lo, n)
    return bounds
