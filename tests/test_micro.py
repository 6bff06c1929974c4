"""Micro-window spikes: exact sliding counts against brute force, the batch and the incremental
version agreeing exactly, and the named patterns (fresh IP, quiet proxy, device farm) alerting
while a busy carrier NAT does not."""

from __future__ import annotations

import dataclasses
import math
import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import graphfraud
from graphfraud.detect.micro import (FEATURE_SUFFIXES, METRICS, MICRO_ALERT_COLUMNS, SPIKE_COUNT_COLUMNS, Metric,
                                     MicroParams, MicroState, micro_features, micro_windows, spike_counts)
from graphfraud.errors import InputError

T0 = pd.Timestamp("2025-08-01 00:00:00")
LOGIN_COLUMNS = ["event_ts", "account_id", "ip", "country_iso", "result", "mfa_used", "device_id"]
PAYMENT_COLUMNS = ["payment_ts", "account_id", "method", "amount_usd", "status"]

# small windows' worth of history and low bars, so that short generated streams reach every branch
LOW = MicroParams(history="90min", min_history=3, warmup="20min", alpha=0.05, count_ratio=1.5, ratio=2.0,
                  max_accounts_listed=3,
                  metrics=tuple(dataclasses.replace(m, min_value=10 if m.measure == "usd" else 2) for m in METRICS))


# --------------------------------------------------------------------------- helpers


def login_frame(rows) -> pd.DataFrame:
    """rows: (time, account, ip, device) -> a logins table."""
    return pd.DataFrame([(str(t), a, ip, "DE", "SUCCESS", 0, d) for t, a, ip, d in rows], columns=LOGIN_COLUMNS)


def payment_frame(rows) -> pd.DataFrame:
    """rows: (time, account, amount) -> a payments table."""
    return pd.DataFrame([(str(t), a, "CARD", amt, "PAID") for t, a, amt in rows], columns=PAYMENT_COLUMNS)


def case_of(login_rows, payment_rows=()):
    pays = payment_frame(payment_rows) if payment_rows else None
    return graphfraud.case_from_frames(logins=login_frame(login_rows), payments=pays)


def alerts_on(alerts, entity, metric=None):
    a = alerts[alerts["entity"] == entity]
    return a if metric is None else a[a["metric"] == metric]


def background(days=2.0, seed=0):
    """Honest traffic: 200 accounts, each on its own IP and device, a login every few hours."""
    rng = np.random.default_rng(seed)
    n = int(200 * days * 6)
    t = T0 + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, n)), unit="s")
    acct = rng.integers(0, 200, n)
    return [(ts, f"U{a}", f"10.1.{a}.1", f"du{a}") for ts, a in zip(t, acct)]


def random_events(rng, n, span_s=4 * 3600, accounts=20, ips=5, devices=5, step=10):
    """A random event frame; times on a ``step``-second grid so window edges are hit exactly and tie often."""
    kind = rng.choice(["login", "payment"], n, p=[0.7, 0.3])
    return pd.DataFrame({
        "ts": T0 + pd.to_timedelta(rng.integers(0, span_s // step, n) * step, unit="s"),
        "account_id": [f"A{i}" for i in rng.integers(0, accounts, n)],
        "kind": kind,
        "ip": [None if i == ips else f"ip{i}" for i in rng.integers(0, ips + 1, n)],
        "device_id": [None if i == devices else f"d{i}" for i in rng.integers(0, devices + 1, n)],
        "amount_usd": np.where(kind == "payment", rng.choice([np.nan, 0.5, 10.005, 250.0, 1200.0, 3.333], n), np.nan),
    })


def brute_force(events: pd.DataFrame, p: MicroParams) -> pd.DataFrame:
    """The module docstring's definitions, event by event over lists: no searchsorted, no cumsum."""
    order = np.argsort(events["ts"].to_numpy(), kind="stable")
    ev = events.iloc[order].reset_index(drop=True)
    ts = [pd.Timestamp(x).value for x in ev["ts"]]
    start = ts[0]
    ent_col = {"ip": "ip", "device": "device_id", "account": "account_id"}
    out = {}
    for m in p.metrics:
        w, col = m.window_ns, ent_col[m.entity]
        ent = [None if pd.isna(x) else x for x in ev[col]]
        applies = [ent[i] is not None and m.of in ("any", ev["kind"][i]) for i in range(len(ev))]
        raw = {}
        cols = {s: [math.nan] * len(ev) for s in FEATURE_SUFFIXES}
        cols["_spike"] = [False] * len(ev)
        for i in range(len(ev)):
            if not applies[i]:
                continue
            win = [j for j in range(i + 1) if applies[j] and ent[j] == ent[i] and ts[j] > ts[i] - w]
            if m.measure == "accounts":
                raw[i] = len({ev["account_id"][j] for j in win})
            elif m.measure == "events":
                raw[i] = len(win)
            else:
                amounts = [ev["amount_usd"][j] for j in win]
                raw[i] = sum(0 if not np.isfinite(a) else int(round(a * 100)) for a in amounts)
            hist = [raw[j] for j in range(i) if applies[j] and ent[j] == ent[i]
                    and ts[i] - p.history_ns < ts[j] <= ts[i] - w and ts[j] >= start + w]
            scale = 100 if m.measure == "usd" else 1
            value = raw[i] / scale
            mean = sum(hist) / len(hist) / scale if hist else math.nan
            baseline = m.prior if not hist else (max(mean, m.prior) if len(hist) < p.min_history else mean)
            lam = max(baseline, m.prior)
            judged = ts[i] >= start + p.warmup_ns and value >= m.min_value
            if m.measure == "usd":
                pvalue, spike = math.nan, judged and value / lam >= p.ratio and len(win) >= p.min_payments
            else:
                pvalue = stats.poisson.sf(value - 2, max(lam - 1, p.others_floor))
                spike = judged and pvalue < p.alpha and value / lam >= p.count_ratio
            for s, v in zip(FEATURE_SUFFIXES, (value, baseline, value / lam, pvalue, spike)):
                cols[s][i] = v
        for s in FEATURE_SUFFIXES:
            out[m.name + s] = cols[s]
    frame = pd.DataFrame(out)
    frame.index = events.index[order]
    return frame.loc[events.index]


def incremental(events: pd.DataFrame, p: MicroParams) -> pd.DataFrame:
    """MicroState fed the events in processing order, as a frame in the input's order."""
    order = np.argsort(events["ts"].to_numpy(), kind="stable")
    state = MicroState(p)
    rows = []
    for i in order:
        r = events.iloc[i]
        rows.append(state.update(r["ts"], r["account_id"], r["kind"], ip=r.get("ip"), device_id=r.get("device_id"),
                                 amount_usd=r.get("amount_usd", math.nan)))
    frame = pd.DataFrame(rows, index=events.index[order])
    return frame.loc[events.index]


def assert_same(got: pd.DataFrame, want: pd.DataFrame, p: MicroParams, exact_pvalue=True):
    assert list(got.columns) == [m.name + s for m in p.metrics for s in FEATURE_SUFFIXES]
    for c in got.columns:
        g, w = got[c].to_numpy(), want[c].to_numpy()
        if c.endswith("_spike"):
            np.testing.assert_array_equal(g.astype(bool), w.astype(bool), err_msg=c)
        elif c.endswith("_pvalue") and not exact_pvalue:
            np.testing.assert_allclose(g.astype(float), w.astype(float), rtol=1e-9, atol=1e-300, err_msg=c)
        else:
            # counts, cent sums and integer means: equal to the last bit
            np.testing.assert_array_equal(g.astype(float), w.astype(float), err_msg=c)


# --------------------------------------------------------------------------- exactness


EVENTS = st.lists(
    st.tuples(st.integers(0, 5 * 360), st.integers(0, 4), st.sampled_from(["login", "payment"]),
              st.sampled_from([None, "ip1", "ip2"]), st.sampled_from([None, "d1", "d2"]),
              st.sampled_from([math.nan, 0.5, 10.005, 99.99, 1500.0])),
    min_size=1, max_size=40)


def events_from(rows) -> pd.DataFrame:
    return pd.DataFrame({
        "ts": [T0 + pd.Timedelta(seconds=10 * r[0]) for r in rows],  # a 10 s grid: exact window edges and ties
        "account_id": [f"A{r[1]}" for r in rows], "kind": [r[2] for r in rows], "ip": [r[3] for r in rows],
        "device_id": [r[4] for r in rows], "amount_usd": [r[5] for r in rows]})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_features_equal_brute_force(rows):
    events = events_from(rows)
    want = brute_force(events, LOW)
    got = micro_features(events, LOW)
    assert got.index.equals(events.index)
    assert_same(got, want, LOW, exact_pvalue=False)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_incremental_equals_batch_exactly(rows):
    events = events_from(rows)
    assert_same(incremental(events, LOW), micro_features(events, LOW), LOW)


@pytest.mark.parametrize("params", [LOW, MicroParams(warmup="0s")], ids=["low-bars", "defaults"])
def test_incremental_equals_batch_on_a_generated_stream(params):
    rng = np.random.default_rng(7)
    events = random_events(rng, 3000, span_s=3 * 86400 // 24, accounts=60, ips=8, devices=8, step=1)
    events.index = pd.RangeIndex(100, 100 + len(events))  # not 0..n-1: rows must come back by label
    batch = micro_features(events, params)
    assert_same(incremental(events, params), batch, params)
    assert batch.filter(like="_spike").to_numpy().any()  # the comparison covered spikes


def test_sliding_distinct_count_by_hand():
    # one IP; A, B, A, C at 0, 2, 4, 6 min; 5-min window (t - 5min, t]
    ev = pd.DataFrame({"ts": T0 + pd.to_timedelta([0, 2, 4, 6, 7, 9], unit="min"),
                       "account_id": ["A", "B", "A", "C", "B", "B"], "kind": "login", "ip": "1.1.1.1"})
    f = micro_features(ev)
    # at 6: B(2), A(4), C(6); at 7: A(4), C, B; at 9: (4, 9] -> C, B and A's login at 4 left exactly at 9
    assert f["ip_accounts_5min"].tolist() == [1, 2, 2, 3, 3, 2]
    assert f["ip_accounts_1h"].tolist() == [1, 2, 2, 3, 3, 3]
    assert f["account_logins_15min"].tolist() == [1, 1, 2, 1, 2, 3]


def test_baseline_uses_windows_before_the_current_one_and_the_prior_when_thin():
    # one account logging in every 10 minutes, then twice at once
    times = [T0 + pd.Timedelta(minutes=10 * k) for k in range(14)] + [T0 + pd.Timedelta(minutes=135)] * 2
    ev = pd.DataFrame({"ts": times, "account_id": "A", "kind": "login"})
    p = MicroParams(min_history=3, warmup="0s")
    f = micro_features(ev, p)
    b = f["account_logins_15min_baseline"].tolist()
    # history (t - 7d, t - 15min], from start + 15min: nothing before 30 min
    assert b[:3] == [1.0, 1.0, 1.0]
    # at 130 min: windows ending at 20..110 min count [2, 2, ...] (each sees the previous login too)
    assert f["account_logins_15min"].tolist()[:3] == [1.0, 2.0, 2.0]
    assert b[13] == 2.0
    assert f["account_logins_15min"].tolist()[-2:] == [2.0, 3.0]  # (120, 135]: 130, 135, 135
    assert b[-2:] == [2.0, 2.0]


def test_a_thin_history_keeps_the_baseline_at_least_the_prior():
    # 10 USD every 10 minutes: every 5-minute window holds one payment
    ev = pd.DataFrame({"ts": [T0 + pd.Timedelta(minutes=10 * k) for k in range(8)], "account_id": "A",
                       "kind": "payment", "amount_usd": 10.0})
    f = micro_features(ev, MicroParams(min_history=3, warmup="0s"))
    # history: payments at 10 min on (start + 5min), up to t - 5min; 0, 0, 1, 2 at 0..30 min, then 3 or more
    assert f["account_value_5min_baseline"].tolist() == [50.0, 50.0, 50.0, 50.0, 10.0, 10.0, 10.0, 10.0]
    assert f["account_value_5min_score"].tolist()[:4] == [0.2] * 4 and f["account_value_5min_score"].iloc[4] == 0.2


def test_value_sums_payments_in_cents_and_nan_adds_zero():
    ev = pd.DataFrame({"ts": T0 + pd.to_timedelta([0, 60, 120, 400], unit="s"), "account_id": "A",
                       "kind": ["payment", "payment", "login", "payment"], "amount_usd": [0.1, np.nan, 999, 0.2]})
    f = micro_features(ev)
    assert f["account_value_5min"].tolist()[:2] == [0.1, 0.1]
    assert np.isnan(f["account_value_5min"].iloc[2])  # a login: the value metric is evaluated at payments
    assert f["account_value_5min"].iloc[3] == 0.2  # the payment at 0 s left the window at 300 s
    assert f["account_payments_60s"].tolist()[:2] == [1, 1]  # (t - 60 s, t]: the one at 0 s is out at 60 s


# --------------------------------------------------------------------------- the patterns


@pytest.fixture(scope="module")
def nat_case_alerts():
    """Three days: a carrier NAT with 300 honest accounts, a fresh IP cycling 12 accounts, a quiet
    proxy cycling 15, and a device farm; with background traffic on personal IPs."""
    rng = np.random.default_rng(1)
    rows = background(days=3)
    # the NAT: one login every ~20 s from 300 accounts, all day
    n = 3 * 86400 // 20
    t = T0 + pd.to_timedelta(np.sort(rng.uniform(0, 3 * 86400, n)), unit="s")
    rows += [(ts, f"N{a}", "100.64.0.1", f"dn{a}") for ts, a in zip(t, rng.integers(0, 300, n))]
    # a fresh IP cycling 12 accounts in 4 minutes on day 2
    burst = T0 + pd.Timedelta("1 days 14:00:00")
    rows += [(burst + pd.Timedelta(seconds=20 * k), f"F{k}", "203.0.113.7", f"df{k}") for k in range(12)]
    # a proxy used by two accounts every few hours for two days, then 15 accounts in 5 minutes
    rows += [(T0 + pd.Timedelta(hours=3 * k), f"P{k % 2}", "198.51.100.9", "dp") for k in range(18)]
    proxy = T0 + pd.Timedelta("2 days 09:00:00")
    rows += [(proxy + pd.Timedelta(seconds=19 * k), f"Q{k}", "198.51.100.9", f"dq{k}") for k in range(15)]
    # a device farm: one device, 20 fresh accounts over 50 minutes, each on its own IP
    farm = T0 + pd.Timedelta("2 days 18:00:00")
    rows += [(farm + pd.Timedelta(seconds=150 * k), f"M{k}", f"192.0.2.{k}", "farm-1") for k in range(20)]
    case = case_of(rows)
    return case, micro_windows(case)


def test_a_busy_carrier_nat_does_not_alert(nat_case_alerts):
    _, alerts = nat_case_alerts
    assert alerts_on(alerts, "100.64.0.1").empty
    # ... and its baseline is its own: far above the prior
    assert alerts_on(alerts, "203.0.113.7", "ip_accounts_5min")["baseline"].iloc[0] == 1.0


def test_a_fresh_ip_cycling_accounts_alerts_once_naming_them_all(nat_case_alerts):
    _, alerts = nat_case_alerts
    a = alerts_on(alerts, "203.0.113.7", "ip_accounts_5min")
    assert len(a) == 1
    row = a.iloc[0]
    assert row["entity_type"] == "ip" and row["window"] == "5min" and row["value"] == 12
    assert row["accounts"] == ";".join(sorted(f"F{k}" for k in range(12)))
    assert row["window_end"] == T0 + pd.Timedelta("1 days 14:00:00") + pd.Timedelta(seconds=220)
    assert row["pvalue"] < 1e-4 and row["score"] == 12


def test_a_quiet_proxy_cycling_accounts_alerts(nat_case_alerts):
    _, alerts = nat_case_alerts
    a = alerts_on(alerts, "198.51.100.9", "ip_accounts_5min")
    assert len(a) == 1 and a["value"].iloc[0] == 15
    assert a["baseline"].iloc[0] == 1.0  # days of one account at a time
    assert a["accounts"].iloc[0].split(";") == sorted(f"Q{k}" for k in range(15))


def test_a_device_farm_alerts_on_the_hour_window(nat_case_alerts):
    _, alerts = nat_case_alerts
    farm = alerts_on(alerts, "farm-1")
    assert set(farm["metric"]) == {"device_accounts_1h"}  # at most 2-3 accounts in any 5 minutes
    assert farm["value"].iloc[0] == 20 and farm["entity_type"].iloc[0] == "device"


def test_only_the_planted_patterns_alert(nat_case_alerts):
    _, alerts = nat_case_alerts
    assert list(alerts.columns) == MICRO_ALERT_COLUMNS
    assert set(alerts["entity"]) <= {"203.0.113.7", "198.51.100.9", "farm-1"}
    sort = ["window_start", "entity_type", "entity", "metric"]
    assert alerts.equals(alerts.sort_values(sort, kind="stable").reset_index(drop=True))


def test_a_ring_arriving_on_the_nat_still_alerts():
    rng = np.random.default_rng(2)
    n = 86400 // 20
    t = T0 + pd.to_timedelta(np.sort(rng.uniform(0, 86400, n)), unit="s")
    rows = [(ts, f"N{a}", "100.64.0.1", f"dn{a}") for ts, a in zip(t, rng.integers(0, 300, n))]
    ring = T0 + pd.Timedelta("18h")
    rows += [(ring + pd.Timedelta(seconds=2 * k), f"R{k}", "100.64.0.1", f"dr{k}") for k in range(40)]
    a = alerts_on(micro_windows(case_of(rows), max_accounts_listed=1000), "100.64.0.1", "ip_accounts_5min")
    assert len(a) == 1
    assert 10 < a["baseline"].iloc[0] < 20  # the NAT's own 5-minute mean, not the prior
    assert all(f"R{k}" in a["accounts"].iloc[0].split(";") for k in range(40))


def test_a_hub_with_busy_days_and_quiet_nights_alerts_only_before_it_has_seen_a_day():
    # 1000 accounts, a login every 2 s from 08:00 to 20:00 and every 8 s at night, for three days
    rng = np.random.default_rng(3)
    parts = []
    for day in range(3):
        for lo, hi, gap in [(0, 8, 8), (8, 20, 2), (20, 24, 8)]:
            k = (hi - lo) * 3600 // gap
            parts.append(day * 86400 + lo * 3600 + np.sort(rng.uniform(0, (hi - lo) * 3600, k)))
    s = np.concatenate(parts)
    acct = pd.Categorical.from_codes(rng.integers(0, 1000, len(s)), [f"N{i}" for i in range(1000)])
    ev = pd.DataFrame({"ts": T0 + pd.to_timedelta(s, unit="s"), "account_id": acct, "kind": "login",
                       "ip": "100.64.0.1"})
    spikes = micro_features(ev)[["ip_accounts_5min_spike", "ip_accounts_1h_spike"]].any(axis=1).to_numpy()
    # the first morning is judged against a night (module docstring, Limits); then never again
    assert spikes.any() and ev["ts"][spikes].max() < T0 + pd.Timedelta("10h")
    # the Poisson tail alone would call every busy hour a spike: the counts are overdispersed
    loose = micro_features(ev, count_ratio=1.0)["ip_accounts_1h_spike"].to_numpy()
    assert loose[(ev["ts"] >= T0 + pd.Timedelta("2D")).to_numpy()].sum() > 1000


def test_a_long_spike_is_one_alert_and_a_gap_splits_it():
    # a fresh IP: 10 accounts in 3 minutes, 20 minutes of nothing, then 25 accounts in 2 minutes
    t = T0 + pd.Timedelta("4h")
    a_rows = [(t + pd.Timedelta(seconds=20 * k), f"A{k:02d}", "203.0.113.8", f"d{k}") for k in range(10)]
    t2 = t + pd.Timedelta("23min")
    b_rows = [(t2 + pd.Timedelta(seconds=5 * k), f"B{k:02d}", "203.0.113.8", f"e{k}") for k in range(25)]
    alerts = micro_windows(case_of([(T0, "X", "1.1.1.1", "x")] + a_rows + b_rows))
    five = alerts_on(alerts, "203.0.113.8", "ip_accounts_5min")
    assert len(five) == 2  # the 5-minute windows of the two bursts are 20 minutes apart
    first, second = five.iloc[0], five.iloc[1]
    # the k-th account spikes when k >= min_value 5 and P(others >= k - 1 | 0.05) < 1e-4: accounts 5 to 10
    assert first["events"] == 6 and first["value"] == 10
    assert first["window_start"] == t + pd.Timedelta(seconds=20 * 4) - pd.Timedelta("5min")
    assert first["window_end"] == t + pd.Timedelta(seconds=20 * 9)
    # the second burst is judged against the first one's windows: mean of 1..10
    assert second["baseline"] == 5.5 and second["value"] == 25
    want = sum(stats.poisson.sf(k - 2, 4.5) < 1e-4 and k / 5.5 >= 2 for k in range(1, 26))
    assert second["events"] == want and second["accounts"].split(";") == [f"B{k:02d}" for k in range(25)]
    # the hour windows overlap: one episode from the 10th account to the last
    hour = alerts_on(alerts, "203.0.113.8", "ip_accounts_1h")
    assert len(hour) == 1 and hour["events"].iloc[0] == 26 and hour["value"].iloc[0] == 35
    assert len(hour["accounts"].iloc[0].split(";")) == 35
    capped = alerts_on(micro_windows(case_of([(T0, "X", "1.1.1.1", "x")] + a_rows + b_rows), max_accounts_listed=5),
                       "203.0.113.8", "ip_accounts_1h")
    assert capped["accounts"].iloc[0] == "A00;A01;A02;A03;A04;+30 more"


def test_account_payment_bursts_and_value():
    t = T0 + pd.Timedelta("5h")
    small = [(T0 + pd.Timedelta(hours=h), "C1", 20.0) for h in range(5)]
    burst = [(t + pd.Timedelta(seconds=5 * k), "C1", 800.0) for k in range(8)]
    alerts = micro_windows(case_of([(T0, "C1", "1.1.1.1", "dc")], small + burst))
    got = alerts_on(alerts, "C1").set_index("metric")
    assert set(got.index) == {"account_payments_60s", "account_payments_15min", "account_value_5min"}
    v = got.loc["account_value_5min"]
    assert v["value"] == 6400.0 and v["baseline"] == 50.0 and np.isnan(v["pvalue"]) and v["window"] == "5min"
    assert got.loc["account_payments_60s", "value"] == 8 and got.loc["account_payments_60s", "accounts"] == "C1"


def test_amounts_replace_payments_amount_usd():
    t = T0 + pd.Timedelta("5h")
    pays = [(t + pd.Timedelta(seconds=30 * k), "C1", np.nan) for k in range(2)]
    case = case_of([(T0, "C1", "1.1.1.1", "dc")], pays)
    assert micro_windows(case).empty
    a = micro_windows(case, amounts=np.array([600.0, 700.0]))
    assert a["metric"].tolist() == ["account_value_5min"] and a["value"].iloc[0] == 1300.0
    with pytest.raises(InputError, match="amounts has 3 values but the case has 2 payments"):
        micro_windows(case, amounts=[1.0, 2.0, 3.0])


def test_payments_with_ip_and_device_count_on_them():
    ev = pd.DataFrame({"ts": T0 + pd.to_timedelta([0, 10, 20], unit="s"), "account_id": ["A", "B", "C"],
                       "kind": ["login", "payment", "payment"], "ip": ["9.9.9.9", "9.9.9.9", None],
                       "device_id": [None, "dv", "dv"], "amount_usd": [np.nan, 5.0, 7.0]})
    f = micro_features(ev)
    assert f["ip_accounts_5min"].tolist()[:2] == [1, 2] and np.isnan(f["ip_accounts_5min"].iloc[2])
    assert np.isnan(f["device_accounts_1h"].iloc[0]) and f["device_accounts_1h"].tolist()[1:] == [1, 2]
    # a case whose payments carry ip and device_id (duck-typed: only .logins and .payments are read)
    t = T0 + pd.Timedelta("4h")
    base = case_of([(T0, "X", "1.1.1.1", "x")])
    pays = pd.DataFrame({"payment_ts": [t + pd.Timedelta(seconds=10 * k) for k in range(9)],
                         "account_id": [f"P{k}" for k in range(9)], "amount_usd": 1.0,
                         "ip": "9.9.9.9", "device_id": pd.Series(["dv"] * 9, dtype="category")})
    alerts = micro_windows(types.SimpleNamespace(logins=base.logins, payments=pays))
    assert set(zip(alerts["entity"], alerts["metric"])) == {
        ("9.9.9.9", "ip_accounts_5min"), ("dv", "device_accounts_5min"), ("dv", "device_accounts_1h")}


def test_the_warmup_keeps_the_start_of_the_data_quiet():
    rows = [(T0 + pd.Timedelta(seconds=20 * k), f"F{k}", "203.0.113.7", f"d{k}") for k in range(12)]
    assert micro_windows(case_of(rows)).empty
    assert len(micro_windows(case_of(rows), warmup="0s")) == 2  # 5min and 1h on the IP


def test_empty_case_gives_typed_empty_frames():
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in LOGIN_COLUMNS})
    alerts = micro_windows(graphfraud.case_from_frames(logins=empty))
    assert list(alerts.columns) == MICRO_ALERT_COLUMNS and alerts.empty
    assert str(alerts["window_start"].dtype) == "datetime64[ns]" and alerts["events"].dtype == np.int64
    assert alerts["value"].dtype == float
    counts = spike_counts(alerts)
    assert list(counts.columns) == SPIKE_COUNT_COLUMNS and counts.empty and counts["spikes"].dtype == np.int64
    f = micro_features(pd.DataFrame({"ts": pd.Series(dtype="datetime64[ns]"), "account_id": pd.Series(dtype=object),
                                     "kind": pd.Series(dtype=object)}))
    assert f.empty and len(f.columns) == len(METRICS) * len(FEATURE_SUFFIXES)


def test_spike_counts_per_entity(nat_case_alerts):
    _, alerts = nat_case_alerts
    c = spike_counts(alerts).set_index("entity")
    assert c.loc["203.0.113.7", "spikes"] == len(alerts_on(alerts, "203.0.113.7"))
    assert c.loc["farm-1", "entity_type"] == "device"
    assert c.loc["198.51.100.9", "max_score"] == alerts_on(alerts, "198.51.100.9")["score"].max()
    assert c.loc["198.51.100.9", "first_spike"] == alerts_on(alerts, "198.51.100.9")["window_start"].min()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_alert_episodes_cover_every_spike_and_never_touch(rows):
    events = events_from(rows)
    case = types.SimpleNamespace(
        logins=pd.DataFrame({"event_ts": events["ts"], "account_id": events["account_id"], "ip": events["ip"],
                             "device_id": events["device_id"]})[events["kind"] == "login"],
        payments=pd.DataFrame({"payment_ts": events["ts"], "account_id": events["account_id"],
                               "amount_usd": events["amount_usd"], "ip": events["ip"],
                               "device_id": events["device_id"]})[events["kind"] == "payment"])
    alerts = micro_windows(case, params=LOW)
    # logins first at equal times, as micro_windows orders them
    ordered = pd.concat([events[events["kind"] == "login"], events[events["kind"] == "payment"]])
    f = micro_features(ordered, LOW)
    for m in LOW.metrics:
        a = alerts[alerts["metric"] == m.name]
        assert a["events"].sum() == f[m.name + "_spike"].sum()
        for _, grp in a.groupby("entity"):
            grp = grp.sort_values("window_start")
            assert (grp["window_start"].to_numpy()[1:] > grp["window_end"].to_numpy()[:-1]).all()
            assert (grp["window_end"] - grp["window_start"] >= pd.Timedelta(m.window)).all()
        if len(a):
            listed = a["accounts"].str.split(";")
            assert (listed.str.len() <= LOW.max_accounts_listed + 1).all()


# --------------------------------------------------------------------------- the incremental state


def test_state_memory_is_bounded_by_the_windows_and_history():
    state = MicroState()
    for k in range(1000):  # a thousand one-off IPs, devices and accounts on day 0
        state.update(T0 + pd.Timedelta(seconds=k), f"A{k}", "login", ip=f"ip{k}", device_id=f"d{k}")
    assert state.entries >= 1000 * 6
    later = T0 + pd.Timedelta("8D")
    for k in range(200):  # 8 days later: their history has expired (the sweep visits 64 entities per update)
        state.update(later + pd.Timedelta(seconds=k), "B", "login", ip="ipB", device_id="dB")
    # only B's tracks remain (2 IP, 2 device, 2 login metrics), with B's 200 events
    assert state.entities == 6
    assert state.entries <= 6 * 200 * 2


def test_state_rejects_out_of_order_and_bad_events():
    state = MicroState()
    state.update(T0, "A", "login")
    with pytest.raises(InputError, match="events must come in time order"):
        state.update(T0 - pd.Timedelta("1s"), "A", "login")
    with pytest.raises(InputError, match="kind must be 'login' or 'payment'"):
        state.update(T0, "A", "refund")
    with pytest.raises(InputError, match="account_id is null"):
        state.update(T0, None, "login")


# --------------------------------------------------------------------------- parameters and input errors


def test_parameters_are_checked_and_overrides_named():
    with pytest.raises(InputError, match="Did you mean 'alpha'"):
        micro_windows(case_of([(T0, "A", "1.1.1.1", "d")]), alpah=0.01)
    with pytest.raises(InputError, match="alpha must be in"):
        MicroParams(alpha=2)
    with pytest.raises(InputError, match="history .* must be longer than every window"):
        MicroParams(history="1h")
    with pytest.raises(InputError, match="metric names repeat"):
        MicroParams(metrics=METRICS + METRICS[:1])
    with pytest.raises(InputError, match="entity must be one of"):
        Metric("x", "card", "events", "any", "5min", 1, 1)
    with pytest.raises(InputError, match="window must be a pandas duration"):
        Metric("x", "ip", "events", "any", "soon", 1, 1)


def test_a_new_metric_is_one_row():
    extra = Metric("ip_logins_10min", "ip", "events", "login", "10min", 1, 3)
    p = MicroParams(metrics=METRICS + (extra,), warmup="0s")
    ev = pd.DataFrame({"ts": T0 + pd.to_timedelta([0, 60], unit="s"), "account_id": ["A", "A"], "kind": "login",
                       "ip": "1.1.1.1"})
    assert micro_features(ev, p)["ip_logins_10min"].tolist() == [1.0, 2.0]
    assert MicroState(p).update(T0, "A", "login", ip="1.1.1.1")["ip_logins_10min"] == 1.0


def test_bad_event_frames_are_named():
    ev = pd.DataFrame({"ts": [T0, T0], "account_id": ["A", None], "kind": ["login", "refund"]})
    with pytest.raises(InputError, match="events.kind must be 'login' or 'payment'.*'refund'"):
        micro_features(ev)
    with pytest.raises(InputError, match="null"):
        micro_features(ev.assign(kind="login"))
    with pytest.raises(InputError, match=r"lack column\(s\) \['kind'\]"):
        micro_features(ev.drop(columns="kind"))


def test_alerts_computed_over_entity_ranges_equal_the_alerts_computed_at_once(monkeypatch):
    import graphfraud.detect.micro as micro

    rng = np.random.default_rng(5)
    ev = random_events(rng, 4000, accounts=60, ips=12, devices=12, step=5)
    logins = ev[ev["kind"] == "login"]
    pays = ev[ev["kind"] == "payment"]
    case = graphfraud.case_from_frames(
        logins=pd.DataFrame({"event_ts": logins["ts"].astype(str), "account_id": logins["account_id"],
                             "ip": logins["ip"], "country_iso": "DE", "result": "SUCCESS", "mfa_used": 0,
                             "device_id": logins["device_id"]}),
        payments=pd.DataFrame({"payment_ts": pays["ts"].astype(str), "account_id": pays["account_id"],
                               "method": "CARD", "amount_usd": pays["amount_usd"], "status": "PAID",
                               "ip": pays["ip"], "device_id": pays["device_id"]}))
    low = dict(warmup="0s", alpha=0.05, count_ratio=1.0, ratio=1.5)
    whole = micro_windows(case, **low)
    assert len(whole) > 20
    monkeypatch.setattr(micro, "_CHUNK_EVENTS", 150)  # many ranges per metric
    pd.testing.assert_frame_equal(micro_windows(case, **low), whole)
