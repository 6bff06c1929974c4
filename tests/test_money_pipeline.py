"""analyze on a case with the money side: transactions, micro alerts and exposure joined to rings, report, folders, rules."""

from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import pandas as pd
import pytest

import graphfraud


def _money_sample() -> graphfraud.Case:
    """The bundled sample (it carries the money side) with a hostile blocklist entry and reason added."""
    with sqlite3.connect(graphfraud.sample_case_path()) as conn:
        t = {n: pd.read_sql_query(f"SELECT * FROM {n}", conn) for n in graphfraud.case.ALL_TABLE_NAMES}
    ip = t["payments"]["ip"].dropna().iloc[0]
    t["blocklist"] = pd.concat([t["blocklist"], pd.DataFrame({
        "kind": ["ip"], "value": [ip], "reason": ["<script>alert(1)</script> | =cmd"],
        "listed_ts": ["2025-08-01 00:00:00"]})], ignore_index=True)
    return graphfraud.case_from_frames(**t)


@pytest.fixture(scope="module")
def money_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("money")
    return graphfraud.analyze(_money_sample(), out_dir=out), out


def test_a_case_without_the_money_side_writes_what_it_always_wrote(six_table_case, tmp_path):
    res = graphfraud.analyze(six_table_case, out_dir=tmp_path)
    assert res.money is None
    for name in ("micro_alerts.csv", "exposure.csv", "customer_risk.csv", "micro_spikes.png"):
        assert not (tmp_path / name).exists()
    assert "spiking_entities" not in pd.read_csv(tmp_path / "ring_summary.csv").columns
    assert "Money side" not in (tmp_path / "report.md").read_text()


def test_the_money_side_is_written_and_joined_to_the_rings(money_run):
    res, out = money_run
    assert res.money is not None and len(res.money.transactions) == len(res.case.payments)
    for name in ("micro_alerts.csv", "exposure.csv", "customer_risk.csv", "flagged_transactions.csv",
                 "transactions_rejected.csv", "micro_spikes.png"):
        assert (out / name).exists(), name
    assert (out / "micro_spikes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = pd.read_csv(out / "ring_summary.csv")
    assert {"spiking_entities", "member_spikes", "first_spike", "last_spike", "spiked"} <= set(summary.columns)
    exposure = pd.read_csv(out / "exposure.csv")
    assert list(exposure.columns) == ["account_id", "exposure", "hops", "nearest_known_bad", "path"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["money"]["transactions"] == len(res.money.transactions)
    report = (out / "report.md").read_text()
    assert "## Money side: micro-window spikes (whole case)" in report and "micro_spikes.png" in report
    # a value from data is Markdown-escaped: the tag is text, never HTML
    assert "\\<script>alert(1)\\</script>" in report and re.search(r"(?<!\\)<script>", report) is None


def test_rules_may_use_the_money_features_with_the_same_period(money_run):
    res, _ = money_run
    fams = set(res.rules["family"])
    assert {"transactions", "micro windows", "exposure", "blocklist"} <= fams
    money = res.rules[res.rules["family"].isin(["micro windows", "exposure"])]
    assert (money["period_start"] == res.periods.signal_window.start.strftime("%Y-%m-%d %H:%M:%S")).all()
    assert np.allclose(money["daily_alerts"], money["alerts"] / res.periods.signal_window.days)


def test_each_ring_folder_lists_its_spikes_payments_and_exposure(money_run, tmp_path):
    res, out = money_run
    ring = res.rings.flagged["ring_id"].iloc[0]
    folder = out / "cases" / ring
    for name in ("micro_alerts.csv", "flagged_transactions.csv", "exposure.csv"):
        assert (folder / name).exists(), name
    doc = json.loads((folder / "case.json").read_text())
    assert set(doc["money_side"]) >= {"micro_alerts", "flagged_transactions", "members_near_known_bad"}
    assert "## Money side (analysis period)" in (folder / "summary.md").read_text()
    members = set(pd.read_csv(folder / "members.csv")["account_id"])
    assert set(pd.read_csv(folder / "exposure.csv")["account_id"]) <= members
    # the same folder from `case open` on the same case (it computes the money side itself)
    again = graphfraud.open_case(res.case, ring, tmp_path)
    for name in ("micro_alerts.csv", "flagged_transactions.csv", "exposure.csv", "case.json"):
        assert (again / name).read_bytes() == (folder / name).read_bytes(), name


def test_date_only_payment_times_are_not_read_as_bursts():
    from conftest import six_table_tables

    t = six_table_tables()
    t["payments"]["payment_ts"] = pd.to_datetime(t["payments"]["payment_ts"]).dt.strftime("%Y-%m-%d")
    case = graphfraud.case_from_frames(**t)
    tx = graphfraud.transactions(case)
    assert not tx["rapid_succession"].any()
    assert tx["reasons"].str.contains("no time of day").all()


def test_spiking_ips_devices_and_accounts_carry_their_spike_counts_on_the_ring_pages(money_run):
    res, out = money_run
    fl = res.rings.flagged
    hit = fl[(fl["spiking_entities"] > 0) | (fl["member_spikes"] > 0)]
    assert len(hit), "the sample's rings spike"
    page = (out / "cases" / hit["ring_id"].iloc[0] / "graph.html").read_text()
    assert "max_spike_score" in page and "first_spike" in page
