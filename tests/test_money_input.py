"""The money side's optional columns and tables: validated like the rest, and absent without changing anything."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import graphfraud
from graphfraud.case.schema import CURRENCIES

LOGIN = {"event_ts": ["2025-08-01 10:00:00"], "account_id": ["A1"], "ip": ["1.2.3.4"], "country_iso": ["DE"],
         "result": ["SUCCESS"], "mfa_used": [0], "device_id": ["d1"]}


def _payments(**extra):
    n = len(next(iter(extra.values()))) if extra else 1
    base = {"payment_ts": ["2025-08-01 10:00:00"] * n, "account_id": ["A1"] * n, "method": ["CARD"] * n,
            "status": ["PAID"] * n}
    return pd.DataFrame({**base, **extra})


def test_a_case_without_the_money_side_has_empty_optional_tables_and_counts_only_six(six_table_case):
    case = six_table_case
    assert list(case.row_counts().index) == list(graphfraud.case.TABLE_NAMES)
    assert list(case.row_counts().index)[:6] == list(graphfraud.case.TABLE_NAMES)
    assert case.blocklist.columns.tolist() == ["kind", "value", "reason", "listed_ts"]
    assert case.fx_rates.columns.tolist() == ["currency", "rate_usd", "valid_from"]


def test_optional_columns_absent_are_left_out_and_amount_usd_is_null():
    case = graphfraud.case_from_frames(logins=pd.DataFrame(LOGIN),
                                       payments=_payments(amount=[10.0], currency=["eur"]))
    assert "payment_id" not in case.payments and "merchant_id" not in case.payments
    assert case.payments["currency"].tolist() == ["EUR"]
    assert case.payments["amount_usd"].isna().all()
    assert list(case.row_counts().index) == list(graphfraud.case.TABLE_NAMES)


def test_each_money_problem_is_a_rejected_row_with_a_reason():
    pay = _payments(payment_id=["p1", "p2", "p1", None, "p3"], currency=["EUR", "XYZ", "USD", "USD", "usd"],
                    amount=[1, 2, 3, 4, np.inf])
    bl = pd.DataFrame({"kind": ["IP", "cat"], "value": ["1.2.3.4", "x"], "reason": ["r", "r"],
                       "listed_ts": [None, "2025-01-01"]})
    fx = pd.DataFrame({"currency": ["EUR", "EUR", "EUR"], "rate_usd": [1.1, 0, 1.2],
                       "valid_from": ["2025-01-01", "2025-02-01", "2025-01-01"]})
    case = graphfraud.case_from_frames(logins=pd.DataFrame(LOGIN), payments=pay, blocklist=bl, fx_rates=fx)
    why = {(r.table, r.row): r.reason for r in case.rejected.itertuples()}
    assert why[("payments", 1)].startswith("unknown currency value 'XYZ'")
    assert why[("payments", 2)] == "duplicate payment_id; the first occurrence (row 0) is kept"
    assert why[("payments", 4)] == "amount is not a finite number: 'inf'"
    assert why[("blocklist", 1)].startswith("unknown kind value 'cat'")
    assert why[("fx_rates", 1)].startswith("rate_usd out of range")
    assert why[("fx_rates", 2)].startswith("duplicate currency and valid_from")
    assert case.payments["payment_id"].tolist() == ["p1", None]  # a null id is not a duplicate
    assert case.blocklist["kind"].tolist() == ["ip"]  # stored in the contract's spelling
    counts = case.row_counts()
    assert (counts["read"] == counts["used"] + counts["rejected"]).all()
    assert counts.loc["blocklist"].tolist() == [2, 1, 1] and counts.loc["fx_rates"].tolist() == [3, 1, 2]


@pytest.mark.parametrize("fmt", ["sqlite", "csv", "parquet"])
def test_every_loader_reads_the_optional_tables_when_present(tmp_path, fmt):
    pytest.importorskip("pyarrow")
    tables = {name: pd.read_sql_query(f"SELECT * FROM {name}", sqlite3.connect(graphfraud.sample_case_path()))
              for name in graphfraud.case.TABLE_NAMES}
    tables["blocklist"] = pd.DataFrame({"kind": ["account"], "value": ["A1"], "reason": ["mule"],
                                        "listed_ts": ["2025-08-01 00:00:00"]})
    tables["fx_rates"] = pd.DataFrame({"currency": ["EUR"], "rate_usd": [1.1], "valid_from": ["2025-01-01 00:00:00"]})
    if fmt == "sqlite":
        path = tmp_path / "c.sqlite"
        with sqlite3.connect(path) as conn:
            for name, df in tables.items():
                df.to_sql(name, conn, index=False)
    else:
        path = tmp_path / "c"
        path.mkdir()
        for name, df in tables.items():
            df.to_csv(path / f"{name}.csv", index=False) if fmt == "csv" else df.to_parquet(path / f"{name}.parquet")
    case = graphfraud.load_case(path)
    assert case.blocklist["value"].tolist() == ["A1"] and case.fx_rates["rate_usd"].tolist() == [1.1]
    assert case.row_counts().loc["blocklist", "read"] == 1
    assert len(case.rejected) == 0


def test_a_parquet_table_whose_parts_differ_in_optional_columns_loads_with_nulls(tmp_path):
    pytest.importorskip("pyarrow")
    folder = tmp_path / "c"
    (folder / "payments").mkdir(parents=True)
    pd.DataFrame(LOGIN).to_parquet(folder / "logins.parquet")
    _payments(payment_id=["p1"]).to_parquet(folder / "payments" / "part-0.parquet")
    _payments(method=["WIRE"]).to_parquet(folder / "payments" / "part-1.parquet")
    for name in ("users", "ip_reputation", "ec2_activity", "security_findings"):
        cols = graphfraud.case.TABLES[name].column_names
        pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).to_parquet(folder / f"{name}.parquet")
    case = graphfraud.load_case(folder)
    assert case.payments["payment_id"].tolist() == ["p1", None]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(CURRENCIES), st.text(max_size=4)), min_size=1, max_size=12))
def test_currencies_are_kept_when_iso_and_rejected_otherwise(codes):
    case = graphfraud.case_from_frames(logins=pd.DataFrame(LOGIN),
                                       payments=_payments(currency=codes, amount=[1.0] * len(codes)))
    # blank is null (the column is optional), not an unknown code
    ok = [c.strip().upper() in CURRENCIES or not c.strip() for c in codes]
    rejected = set(case.rejected.loc[case.rejected["column"] == "currency", "row"])
    assert {i for i, good in enumerate(ok) if not good} - rejected == set()
    assert len(case.payments) + case.row_counts().loc["payments", "rejected"] == len(codes)
    assert set(case.payments["currency"].dropna().astype(str)) <= set(CURRENCIES)


def _paying_case():
    lg = pd.DataFrame({"event_ts": ["2025-08-01 10:00", "2025-08-01 10:10"], "account_id": ["A", "B"],
                       "ip": ["1.1.1.1", "1.1.1.1"], "country_iso": ["DE", "DE"], "result": ["SUCCESS", "SUCCESS"],
                       "mfa_used": [1, 0], "device_id": ["d1", None]})
    pay = _payments(payment_ts=["2025-08-02 10:00", "2025-08-02 10:01"], account_id=["C", "A"], amount_usd=[1.0, 2.0],
                    ip=["2.2.2.2", None], device_id=["d1", "d9"])
    return graphfraud.case_from_frames(logins=lg, payments=pay)


def test_payment_ips_and_devices_are_evidence_unless_left_out():
    from graphfraud.graph.activity import entity_activity

    case = _paying_case()
    rows = entity_activity(case).frame()
    assert set(zip(rows["account_id"], rows["entity"])) == {
        ("A", "device:d1"), ("C", "device:d1"), ("A", "device:d9"), ("A", "ip:1.1.1.1"), ("B", "ip:1.1.1.1"),
        ("C", "ip:2.2.2.2")}
    rows = entity_activity(case, payments=False).frame()
    assert set(rows["account_id"]) == {"A", "B"}


def test_a_case_without_payment_columns_gives_the_records_it_always_gave(six_table_case):
    rec = graphfraud.graph_records(six_table_case)
    assert "payments" not in rec.edges.columns
    assert rec.edge_properties("USED_IP") == ["logins", "fails", "mfa_share", "first_seen", "last_seen", "success_us"]


def test_payment_evidence_is_read_back_the_same_from_every_store(tmp_path):
    from graphfraud.graph.activity import entity_activity

    case = _paying_case()
    rec = graphfraud.graph_records(case)
    edge = rec.edges[rec.edges["gf_id"] == "USED_DEVICE|account:A|device:d1"].iloc[0]
    assert (edge["logins"], edge["payments"], edge["mfa_share"]) == (1, 0, 1.0)
    edge = rec.edges[rec.edges["gf_id"] == "USED_DEVICE|account:A|device:d9"].iloc[0]
    assert (edge["logins"], edge["payments"], edge["mfa_share"]) == (0, 1, None)
    for url in ("networkx", f"gremlite:///{tmp_path / 's.db'}"):
        with graphfraud.connect(url) as store:
            store.load_case(case)
            assert store.activity().equals(entity_activity(case))
