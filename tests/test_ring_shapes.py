"""The shapes common control takes, each on a tiny hand-built case whose answer is known.

Background: 150 honest accounts, each on its own home IP and device at random times, so every
case has a realistic number of tests and a fitted device-sharing rate.
"""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import graphfraud
from graphfraud.rings import cooccurrences
from graphfraud.rings.sharing import main_device_sharing
from graphfraud.graph.activity import activity_from_rows

from test_rings import DAYS, START, background, make_case


def at(day, minute):
    return START + pd.Timedelta(days=int(day), minutes=int(minute))


def verdict_of(res, members):
    """The verdict of the group holding exactly ``members`` (None when no such group)."""
    for rid in res.summary["ring_id"]:
        if sorted(res.members(rid)) == sorted(members):
            return res.summary.set_index("ring_id").loc[rid, "verdict"]
    return None


def users_for(accounts, enterprise=()):
    return pd.DataFrame({"account_id": accounts, "country": "DE", "signup_ts": "2024-01-01 00:00:00",
                         "email_domain": "example.com",
                         "is_enterprise": [int(a in set(enterprise)) for a in accounts]})


def test_slow_ring_hours_apart_on_the_same_days_is_found_by_the_day_scale():
    rng = np.random.default_rng(11)
    ring = [f"S{i:03d}" for i in range(6)]
    rows = background(rng, n=150) + background(rng, n=6, prefix="S", logins=40)
    work_days = rng.choice(DAYS, size=14, replace=False)
    for d in work_days:  # one operator, one account every ~2 hours, never two in the same hour
        for k, a in enumerate(rng.permutation(ring)):
            rows.append((at(d, 8 * 60 + k * 120 + int(rng.integers(0, 30))), a, "88.1.1.1", "NL", "SUCCESS", 0,
                         "op-laptop"))
    res = graphfraud.find_rings(make_case(rows))
    assert verdict_of(res, ring) == "fraud ring"
    row = res.flagged.iloc[0]
    assert row["evidence_kind"] == "co-activity" and "same day" in row["top_evidence"]


def test_device_farm_of_short_lived_accounts_on_one_emulator_is_one_ring():
    rng = np.random.default_rng(12)
    rows = background(rng, n=150)
    farm = [f"F{i:02d}" for i in range(20)]
    for i, a in enumerate(farm):  # one account after another, each alive ~2 days, each on its own IP
        for k in range(4):
            rows.append((at(i, 600 + k * 500), a, f"55.0.{i}.1", "US", "SUCCESS", 0, "emulator-x"))
    res = graphfraud.find_rings(make_case(rows))
    assert verdict_of(res, farm) == "fraud ring"
    assert res.flagged.iloc[0]["evidence_kind"] == "shared main device"


def test_fraudster_and_one_mule_minutes_apart_on_six_evenings_is_a_ring():
    rng = np.random.default_rng(13)
    rows = background(rng, n=150, logins=30)  # B000 is the fraudster, with his everyday life
    for d in (3, 7, 12, 16, 21, 26):
        t = at(d, 20 * 60 + int(rng.integers(0, 60)))
        rows.append((t, "B000", "10.0.0.1", "DE", "SUCCESS", 1, "home-B0"))
        rows.append((t + pd.Timedelta(minutes=int(rng.integers(1, 3))), "MULE", "10.0.0.1", "DE", "SUCCESS", 0,
                     "home-B0"))
    res = graphfraud.find_rings(make_case(rows))
    assert verdict_of(res, ["B000", "MULE"]) == "fraud ring"


def test_proxy_rotation_sharing_only_a_device_in_lockstep_is_one_ring():
    rng = np.random.default_rng(14)
    ring = [f"P{i:03d}" for i in range(8)]
    rows = background(rng, n=150) + background(rng, n=8, prefix="P", logins=15)
    ip = 0
    for d in (2, 5, 9, 13, 18, 22, 27):
        t0 = at(d, int(rng.integers(8 * 60, 20 * 60)))
        for a in ring:
            ip += 1
            rows.append((t0 + pd.Timedelta(minutes=int(rng.integers(0, 15))), a, f"203.0.{ip // 250}.{ip % 250}",
                         "BR", "SUCCESS", 0, "rotating-fp"))
    res = graphfraud.find_rings(make_case(rows))
    assert verdict_of(res, ring) == "fraud ring"


def test_ring_behind_a_carrier_nat_on_several_phones_comes_back_as_one():
    rng = np.random.default_rng(15)
    rows = []
    for i in range(400):  # the NAT's honest users
        for t in rng.integers(0, DAYS * 1440, size=10):
            rows.append((START + pd.Timedelta(minutes=int(t)), f"M{i:03d}", "100.64.0.1", "US", "SUCCESS", 1,
                         f"ph-{i}"))
    ring = [f"N{i:02d}" for i in range(24)]
    for d in (1, 4, 8, 11, 15, 19, 24):
        t0 = at(d, int(rng.integers(9 * 60, 18 * 60)))
        for k, a in enumerate(ring):
            rows.append((t0 + pd.Timedelta(minutes=int(rng.integers(0, 40))), a, "100.64.0.1", "US", "SUCCESS", 0,
                         f"ring-phone-{k % 4}"))
    res = graphfraud.find_rings(make_case(rows))
    assert verdict_of(res, ring) == "fraud ring"
    assert res.flagged.shape[0] == 1


def test_it_admin_running_enterprise_accounts_is_common_control_likely_benign():
    rng = np.random.default_rng(16)
    clients = [f"E{i:02d}" for i in range(10)]
    rows = background(rng, n=150)
    for d in range(DAYS):
        if d % 7 in (5, 6):
            continue
        t0 = at(d, 9 * 60 + int(rng.integers(0, 120)))
        for k, a in enumerate(clients):
            rows.append((t0 + pd.Timedelta(minutes=3 * k), a, "192.0.2.10", "DE", "SUCCESS", 1, "admin-ws"))
    accounts = sorted({r[1] for r in rows})
    lg = make_case(rows).logins
    case = graphfraud.case_from_frames(logins=lg, users=users_for(accounts, enterprise=clients))
    res = graphfraud.find_rings(case)
    assert verdict_of(res, clients) == "common control, likely benign"
    assert res.flagged.empty
    assert "enterprise" in res.summary.iloc[0]["verdict_reason"]


def test_the_same_admin_pattern_without_enterprise_or_mfa_is_a_fraud_ring():
    rng = np.random.default_rng(16)
    clients = [f"E{i:02d}" for i in range(10)]
    rows = background(rng, n=150)
    for d in range(0, DAYS, 2):
        t0 = at(d, 9 * 60 + int(rng.integers(0, 120)))
        for k, a in enumerate(clients):
            rows.append((t0 + pd.Timedelta(minutes=3 * k), a, "192.0.2.10", "DE", "SUCCESS", 0, "admin-ws"))
    res = graphfraud.find_rings(make_case(rows))
    assert verdict_of(res, clients) == "fraud ring"


def test_a_family_sharing_a_tablet_minutes_apart_is_benign_not_a_ring():
    rng = np.random.default_rng(17)
    rows = background(rng, n=150)
    family = ["K1", "K2"]
    for k, a in enumerate(family):  # each has a phone and a life of their own at home
        for t in rng.integers(0, DAYS * 1440, size=30):
            rows.append((START + pd.Timedelta(minutes=int(t)), a, "99.1.1.1", "DE", "SUCCESS", 1, f"phone-{a}"))
    for d in range(0, DAYS, 3):  # and pass the tablet around in the evening
        t = at(d, 20 * 60 + int(rng.integers(0, 60)))
        rows.append((t, "K1", "99.1.1.1", "DE", "SUCCESS", 1, "tablet"))
        rows.append((t + pd.Timedelta(minutes=int(rng.integers(2, 9))), "K2", "99.1.1.1", "DE", "SUCCESS", 1,
                     "tablet"))
    res = graphfraud.find_rings(make_case(rows))
    assert res.flagged.empty
    assert verdict_of(res, family) in ("common control, likely benign", "not significant", None)


def test_shuffled_logins_flag_nothing():
    s = graphfraud.synth.generate_case(3000, seed=4)
    rng = np.random.default_rng(0)
    lg = s.case.logins.copy()
    lg["account_id"] = lg["account_id"].to_numpy()[rng.permutation(len(lg))]
    lg["event_ts"] = lg["event_ts"].to_numpy()[rng.permutation(len(lg))]
    res = graphfraud.find_rings(graphfraud.case_from_frames(logins=lg, users=s.case.users))
    assert res.flagged.shape[0] <= 1


def test_cooccurrences_in_passes_equal_one_pass():
    rng = np.random.default_rng(3)
    n = 3000
    group, acct, bins = rng.integers(0, 40, n), rng.integers(0, 300, n), rng.integers(0, 50, n)
    one = cooccurrences(group, acct, bins, 1, 300)
    many = cooccurrences(group, acct, bins, 1, 300, budget=5000)
    assert many.passes > 1 and one.passes == 1
    key = lambda c: sorted(zip(c.a.tolist(), c.b.tolist(), c.bin_a.tolist(), c.bin_b.tolist()))  # noqa: E731
    assert key(one) == key(many)
    # brute force on the same rows
    rows = list(zip(group.tolist(), acct.tolist(), bins.tolist()))
    want = set()
    for g1, a1, b1 in rows:
        for g2, a2, b2 in rows:
            if g1 == g2 and a1 < a2 and abs(b1 - b2) <= 1:
                want.add((a1, a2, b1, b2))
    assert set(key(one)) == want


def test_main_device_sharing_counts_main_devices_only():
    # L1..L5 used the library PC once each but live on their own phones: not its main accounts
    accts = ["L1", "L2", "L3", "L4", "L5"] * 6 + ["F1", "F2", "F3"]
    devs = ["library-pc"] * 5 + [f"phone-{i}" for i in range(1, 6)] * 5 + ["emu"] * 3
    act = activity_from_rows(accts, ["device"] * len(accts), devs, range(len(accts)))
    test = main_device_sharing(act)
    k = test.rows.assign(dev=act.entities[test.rows["thing"]]).groupby("dev")["k"].first()
    assert k["device:emu"] == 3 and "device:library-pc" not in k.index
    assert 0 < test.r <= 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), st.integers(0, 12)), max_size=60),
       st.integers(0, 2), st.integers(1, 40))
def test_cooccurrences_match_brute_force_whatever_the_budget(rows, tol, budget):
    group = np.array([r[0] for r in rows], dtype=np.int64)
    acct = np.array([r[1] for r in rows], dtype=np.int64)
    bins = np.array([r[2] for r in rows], dtype=np.int64)
    co = cooccurrences(group, acct, bins, tol, 7, budget=budget)
    got = set(zip(co.a.tolist(), co.b.tolist(), co.bin_a.tolist(), co.bin_b.tolist()))
    assert len(got) == len(co.a)  # distinct
    want = {(a1, a2, b1, b2) for g1, a1, b1 in rows for g2, a2, b2 in rows
            if g1 == g2 and a1 < a2 and abs(b1 - b2) <= tol}
    assert got == want


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["ip", "device"]),
                          st.sampled_from(["x", "y", "1.2.3.4"]), st.integers(0, 5)), max_size=40))
def test_activity_keeps_every_distinct_login_and_entity(rows):
    act = activity_from_rows(*zip(*rows)) if rows else activity_from_rows([], [], [], [])
    frame = act.frame()
    secs = frame["ts"].to_numpy().astype("datetime64[s]").astype(np.int64).tolist()
    got = set(zip(frame["account_id"], frame["entity"], secs))
    assert got == {(a, f"{k}:{v}", t) for a, k, v, t in rows} and len(got) == len(act)
    assert list(act.entities) == sorted(act.entities) and list(act.accounts) == sorted(act.accounts)
