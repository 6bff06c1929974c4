"""The transaction ETL: conversion, flags, tiers and per-customer aggregates on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import graphfraud
from graphfraud.detect.transaction_flags import TransactionParams, customer_aggregates, transactions

LOGIN = pd.DataFrame({"event_ts": ["2025-08-01"], "account_id": ["A"], "ip": ["1.1.1.1"], "country_iso": ["DE"],
                      "result": ["SUCCESS"], "mfa_used": [0], "device_id": ["d"]})


def _case(pay: dict, **tables):
    n = len(pay["payment_ts"])
    pay = {"account_id": ["A"] * n, "method": ["CARD"] * n, "status": ["PAID"] * n, **pay}
    return graphfraud.case_from_frames(logins=LOGIN, payments=pd.DataFrame(pay),
                                       **{k: pd.DataFrame(v) for k, v in tables.items()})


def test_amounts_convert_at_the_rate_valid_at_the_payment_and_missing_rates_are_rejected():
    fx = {"currency": ["EUR", "EUR", "GBP"], "rate_usd": [1.0, 2.0, 1.3],
          "valid_from": ["2025-08-01", "2025-08-10", "2025-09-01"]}
    case = _case({"payment_ts": ["2025-08-05", "2025-08-10", "2025-08-20", "2025-08-20", "2025-08-20", "2025-08-20"],
                  "amount": [10.0, 10.0, 10.0, 10.0, 10.0, None], "currency": ["EUR", "EUR", "GBP", "USD", "JPY", "EUR"],
                  "amount_usd": [None, None, None, None, 7.0, None]}, fx_rates=fx)
    tx, rejected = transactions(case, with_rejected=True)
    assert tx["amount_usd"].tolist() == [10.0, 20.0, 10.0, 7.0]  # the given amount_usd wins; USD is 1.0
    assert tx["payment_id"].tolist() == ["row-0", "row-1", "row-3", "row-4"]
    assert rejected["row"].tolist() == [2, 5]
    assert rejected["reason"].tolist() == [
        "no GBP rate valid at the payment time (its first rate is from 2025-09-01 00:00:00)",
        "no amount: amount_usd and amount are both empty"]


def test_flags_history_rapid_and_blocklist_at_payment_time():
    case = _case({"payment_ts": ["2025-08-01 10:00:00", "2025-08-02 10:00:00", "2025-08-20 10:00:00",
                                 "2025-08-20 10:00:59", "2025-10-01 00:00:00"],
                  "amount_usd": [100.0, 100.0, 900.0, 6000.0, 50.0], "ip": ["9.9.9.9"] * 5},
                 blocklist={"kind": ["ip", "account"], "value": ["9.9.9.9", "B"], "reason": ["proxy", "x"],
                            "listed_ts": ["2025-08-20 10:00:30", None]})
    tx = transactions(case)
    assert tx["history_payments"].tolist() == [0, 1, 2, 3, 0]  # October: nothing in the previous 30 days
    assert tx["above_history"].tolist() == [False, False, True, True, False]
    assert tx["rapid_succession"].tolist() == [False, False, True, True, False]
    assert tx["blocklisted"].tolist() == [False, False, False, True, True]  # listed at 10:00:30
    assert tx["high_amount"].tolist() == [False, False, False, True, False]
    assert tx["risk_score"].tolist() == [0, 0, 45, 100, 50]
    assert tx["risk_tier"].tolist() == ["LOW", "LOW", "MEDIUM", "HIGH", "MEDIUM"]
    assert "ip 9.9.9.9 is blocklisted (proxy)" in tx["reasons"].iloc[3]
    assert "above_history not judged" in tx["reasons"].iloc[0]


def test_email_domain_listings_match_ignoring_case():
    users = {"account_id": ["A"], "country": ["DE"], "signup_ts": ["2025-01-01"], "email_domain": ["Mail.Bad"],
             "is_enterprise": [0]}
    case = _case({"payment_ts": ["2025-08-01"], "amount_usd": [1.0]}, users=users,
                 blocklist={"kind": ["email_domain"], "value": ["mail.bad"], "reason": ["disposable"],
                            "listed_ts": [None]})
    assert transactions(case)["blocklisted"].tolist() == [True]


def test_parameters_are_checked_and_change_the_flags():
    case = _case({"payment_ts": ["2025-08-01"], "amount_usd": [600.0]})
    assert transactions(case, high_amount=500)["high_amount"].tolist() == [True]
    with pytest.raises(graphfraud.InputError, match="high_amount"):
        transactions(case, high_amount=-1)
    with pytest.raises(graphfraud.InputError, match="unknown transaction flag"):
        TransactionParams(weights={"velocity": 10})


def test_customer_aggregates_count_every_payment_once():
    case = _case({"payment_ts": ["2025-08-01", "2025-08-02", "2025-08-03"], "account_id": ["A", "A", "B"],
                  "amount_usd": [10.0, 30.0, 5.0], "status": ["PAID", "DECLINED", "PAID"]})
    agg = customer_aggregates(case)
    assert agg["account_id"].tolist() == ["A", "B"]
    assert agg["payments"].tolist() == [2, 1] and agg["total_usd"].tolist() == [40.0, 5.0]
    assert agg["bad_rate"].tolist() == [0.5, 0.0] and agg["risk_tier"].tolist() == ["HIGH", "LOW"]
    assert agg["first_payment"].iloc[0] == pd.Timestamp("2025-08-01")


def test_a_case_without_payments_gives_empty_frames():
    case = graphfraud.case_from_frames(logins=LOGIN)
    assert len(transactions(case)) == 0 and len(customer_aggregates(case)) == 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABC"), st.integers(0, 90 * 86400), st.floats(0.01, 1e5)),
                min_size=1, max_size=40))
def test_history_and_rapid_match_brute_force(rows):
    accounts, secs, amounts = zip(*rows)
    ts = pd.Timestamp("2025-06-01") + pd.to_timedelta(np.array(secs), unit="s")
    case = _case({"payment_ts": ts.strftime("%Y-%m-%d %H:%M:%S").tolist(), "account_id": list(accounts),
                  "amount_usd": list(amounts)})
    tx = transactions(case)
    secs, amounts = np.array(secs), np.array(amounts)
    # every time at midnight reads as dates only: rapid_succession is then not judged (documented)
    timed = bool((secs % 86400).any())
    for i, (a, t) in enumerate(zip(accounts, secs)):
        same = np.array(accounts) == a
        prior = same & (secs < t) & (secs >= t - 30 * 86400)
        assert tx["history_payments"].iat[i] == prior.sum()
        if prior.any():
            # running sums: a cent-sized mean after 1e5-sized payments is off by ~1e-10 USD, not a relative 1e-9
            assert tx["history_mean_usd"].iat[i] == pytest.approx(amounts[prior].mean(), rel=1e-9, abs=1e-6)
        near = same & (np.abs(secs - t) <= 60)
        near[i] = False
        assert tx["rapid_succession"].iat[i] == (near.any() and timed)


def test_the_etl_command_writes_day_partitions_that_read_back_as_the_transactions(tmp_path, capsys):
    ds = pytest.importorskip("pyarrow.dataset")
    from graphfraud.cli import main

    case = _case({"payment_ts": ["2025-08-01 10:00:00", "2025-08-01 11:00:00", "2025-08-03 09:00:00"],
                  "amount": [10.0, 20.0, 30.0], "currency": ["EUR", "EUR", "CHF"], "payment_id": ["a", "b", "c"]},
                 fx_rates={"currency": ["EUR"], "rate_usd": [1.5], "valid_from": ["2025-01-01"]})
    folder = tmp_path / "case"
    folder.mkdir()
    for name in graphfraud.case.ALL_TABLE_NAMES:
        case.table(name).to_csv(folder / f"{name}.csv", index=False)
    out = tmp_path / "lake"
    assert main(["etl", "--csv", str(folder), "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "transactions   2 " in printed and "1 payment(s) without a USD amount" in printed
    assert sorted(p.name for p in (out / "transactions").iterdir()) == ["day=2025-08-01"]
    table = ds.dataset(out / "transactions", format="parquet", partitioning="hive").to_table().to_pandas()
    assert sorted(table["payment_id"]) == ["a", "b"] and sorted(table["amount_usd"]) == [15.0, 30.0]
    rejected = ds.dataset(out / "rejected", format="parquet").to_table().to_pandas()
    assert rejected["reason"].tolist() == ["no CHF rate valid at the payment time (fx_rates has no row for it)"]
    assert main(["etl", "--csv", str(folder), "--out", str(out), "--format", "csv", "-q"]) == 0
    assert not (out / "transactions").exists()  # the Parquet run's files are replaced, not mixed in
    assert len(pd.read_csv(out / "transactions.csv")) == 2


def test_the_etl_command_names_a_bad_flag(capsys):
    from graphfraud.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["etl", "--out", "x", "--format", "xml"])
    assert exc.value.code == 2 and "--format" in capsys.readouterr().err


def test_the_etl_lists_rejected_rates_and_listings_and_stops_when_a_table_is_mostly_rejected(tmp_path, capsys):
    from graphfraud.cli import main

    case = _case({"payment_ts": ["2025-08-01 10:00:00", "2025-08-02 10:00:00"], "amount": [10.0, 20.0],
                  "currency": ["EUR", "EUR"]},
                 fx_rates={"currency": ["EUR", "EUR"], "rate_usd": [1.5, 0.0], "valid_from": ["2025-01-01", "2025-08-02"]},
                 blocklist={"kind": ["ip", "phone"], "value": ["1.1.1.1", "x"], "reason": ["r", "r"],
                            "listed_ts": [None, None]})
    folder = tmp_path / "case"
    folder.mkdir()
    for name in graphfraud.case.ALL_TABLE_NAMES:
        case.table(name).to_csv(folder / f"{name}.csv", index=False)
    bl = pd.read_csv(folder / "blocklist.csv")
    pd.concat([bl, pd.DataFrame({"kind": ["phone"], "value": ["y"], "reason": ["r"], "listed_ts": [None]})]).to_csv(
        folder / "blocklist.csv", index=False)
    fx = pd.read_csv(folder / "fx_rates.csv")
    pd.concat([fx, pd.DataFrame({"currency": ["EUR"], "rate_usd": [0.0], "valid_from": ["2025-09-01"]})]).to_csv(
        folder / "fx_rates.csv", index=False)
    # the rejected rates and listings are in the files (the case above already dropped one of each)
    assert main(["etl", "--csv", str(folder), "--out", str(tmp_path / "lake"), "--format", "csv", "-q"]) == 2
    assert "too many input rows were rejected" in capsys.readouterr().err
    assert main(["etl", "--csv", str(folder), "--out", str(tmp_path / "lake"), "--format", "csv", "-q",
                 "--allow-rejected"]) == 0
    printed = capsys.readouterr().out
    assert "at load: payments 0, blocklist 1, fx_rates 1" in printed and "warning" in printed
    rejected = pd.read_csv(tmp_path / "lake" / "rejected_rows.csv")
    assert set(rejected["table"]) == {"blocklist", "fx_rates"}
