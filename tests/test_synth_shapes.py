"""Ring shapes and honest groups of the generator: each has the properties its docstring promises."""

import sqlite3

import numpy as np
import pandas as pd
import pytest

from graphfraud import synth
from graphfraud.errors import InputError


@pytest.fixture(scope="module")
def gen():
    return synth.generate_case(5000, seed=1)


@pytest.fixture(scope="module")
def logins(gen):
    lg = gen.case.logins.copy()
    for c in ("account_id", "ip", "device_id", "result"):
        lg[c] = lg[c].astype(object)
    lg["ip_kind"] = lg["ip"].map(gen.truth.ips.set_index("ip")["kind"])
    lg["ring_id"] = lg["account_id"].map(gen.truth.rings.set_index("account_id")["ring_id"])
    return lg


def _rings(gen, shape):
    rings = gen.truth.rings[gen.truth.rings["shape"] == shape].groupby("ring_id")["account_id"].apply(list)
    assert len(rings) >= 1, f"no {shape} ring in a 5,000-account case"
    return rings


def _users(gen):
    u = gen.case.users
    return u.set_index(u["account_id"].astype(object))


def test_every_shape_and_honest_kind_is_there_at_5000_accounts(gen):
    shapes = gen.truth.rings.groupby("shape")["ring_id"].nunique()
    assert set(shapes.index) == set(synth.RING_SHAPES) and (shapes >= 1).all()
    assert set(gen.truth.honest_groups["kind"]) == set(synth.HONEST_KINDS)


def test_slow_ring_members_are_worked_hours_apart_through_the_rings_own_proxy_and_device(gen, logins):
    for ring, members in _rings(gen, "slow").items():
        mine = logins[logins["account_id"].isin(members)]
        work = mine[mine["ip_kind"] == "residential_proxy"].sort_values("event_ts")
        assert 1 <= work["ip"].nunique() <= 2 and 1 <= work["device_id"].nunique() <= 2
        # the proxies and devices are the ring's own
        shared = logins["ip"].isin(work["ip"]) | logins["device_id"].isin(work["device_id"])
        assert set(logins.loc[shared, "account_id"]) <= set(members)
        assert work["event_ts"].dt.normalize().nunique() >= 10  # many days over weeks
        # never two members in the same clock hour, at least an hour between two members
        per_hour = work.groupby(work["event_ts"].dt.floor("h"))["account_id"].nunique()
        assert per_hour.max() == 1
        t, a = work["event_ts"].to_numpy(), work["account_id"].to_numpy()
        other = a[1:] != a[:-1]
        assert (np.diff(t)[other] >= np.timedelta64(60, "m")).all()
        # and they keep an ordinary life of their own
        assert (mine[mine["ip_kind"] != "residential_proxy"].groupby("account_id").size().reindex(members) > 0).all()


def test_device_farm_accounts_follow_each_other_on_one_device(gen, logins):
    users = _users(gen)
    for ring, members in _rings(gen, "device_farm").items():
        assert 10 <= len(members) <= 60
        mine = logins[logins["account_id"].isin(members)]
        assert mine["device_id"].nunique() == 1  # all of their logins, no life of their own
        assert set(logins.loc[logins["device_id"].isin(mine["device_id"]), "account_id"]) == set(members)
        # each account its own fresh IP, used by no other account
        assert (mine.groupby("account_id")["ip"].nunique() == 1).all()
        assert logins[logins["ip"].isin(mine["ip"])].groupby("ip")["account_id"].nunique().max() == 1
        span = mine.groupby("account_id")["event_ts"].agg(["min", "max"]).sort_values("min")
        before = span["min"] - users.loc[span.index, "signup_ts"]
        assert (before > pd.Timedelta(0)).all() and (before <= pd.Timedelta(days=1)).all()
        overlap = span["max"].to_numpy()[:-1] - span["min"].to_numpy()[1:]
        assert (overlap <= np.timedelta64(125, "m")).all()  # lifetimes barely overlap
        assert (span["max"] - span["min"] <= pd.Timedelta(days=5)).all()


def test_tiny_ring_is_a_fraudster_and_mules_minutes_apart_from_his_home(gen, logins):
    for ring, members in _rings(gen, "tiny").items():
        assert 2 <= len(members) <= 3
        mine = logins[logins["account_id"].isin(members)]
        counts = mine.groupby("account_id").size()
        own = counts.idxmax()  # the one with an everyday life
        mules = [m for m in members if m != own]
        home_ip, home_dev = mine.loc[mine["account_id"].isin(mules), ["ip", "device_id"]].drop_duplicates().iloc[0]
        assert mine.loc[mine["account_id"].isin(mules), ["ip", "device_id"]].drop_duplicates().shape[0] == 1
        assert ((mine["account_id"] == own) & (mine["ip"] == home_ip) & (mine["device_id"] == home_dev)).any()
        assert counts[own] > counts[mules].max()
        evenings = mine[(mine["ip"] == home_ip) & (mine["device_id"] == home_dev)]
        for _, night in evenings.groupby(evenings["event_ts"].dt.normalize()):
            if night["account_id"].nunique() == len(members):
                gaps = night.sort_values("event_ts")["event_ts"].diff().dropna()
                assert gaps.max() <= pd.Timedelta(minutes=10)
        assert 3 <= evenings.loc[evenings["account_id"].isin(mules), "event_ts"].dt.normalize().nunique() <= 8


def test_proxy_rotation_ring_logs_in_through_fresh_exits_on_one_or_two_devices(gen, logins):
    for ring, members in _rings(gen, "proxy_rotation").items():
        mine = logins[logins["account_id"].isin(members)]
        rot = mine[mine["ip_kind"].eq("residential_proxy") | (mine["ip_kind"].eq("home") & mine["device_id"].isin(
            mine.loc[mine["ip_kind"] == "residential_proxy", "device_id"]))]
        assert 1 <= rot["device_id"].nunique() <= 2
        fresh = rot[rot["ip_kind"] == "residential_proxy"]
        assert fresh["ip"].is_unique  # every exit used once
        assert logins[logins["ip"].isin(fresh["ip"])]["account_id"].isin(members).all()
        assert 5 <= rot["event_ts"].dt.normalize().nunique() <= 10


def test_carrier_nat_ring_hides_behind_a_busy_hub_and_phones_share_nothing_else(gen, logins):
    hubs = set(gen.truth.ips.query("kind == 'hub'")["ip"])
    for ring, members in _rings(gen, "carrier_nat").items():
        mine = logins[logins["account_id"].isin(members)]
        assert set(mine["ip"]) <= hubs and mine["ip"].nunique() == 1
        hub_users = logins[logins["ip"] == mine["ip"].iloc[0]]
        assert hub_users.loc[hub_users["ring_id"].isna(), "account_id"].nunique() > 100
        assert 2 <= mine["device_id"].nunique() <= 6
        assert (mine.groupby("account_id")["device_id"].nunique() == 1).all()
        # two members on different phones share no IP or device besides the hub
        phone = mine.groupby("account_id")["device_id"].first()
        for col in ("ip", "device_id"):
            ent = mine.loc[~mine["ip"].isin(hubs), ["account_id", col]].drop_duplicates()
            by_ent = ent.groupby(col)["account_id"].apply(lambda a: phone[list(a)].nunique())
            assert (by_ent <= 1).all()


def test_msp_clients_are_established_enterprises_with_mfa_and_clean_payments(gen, logins):
    users = _users(gen)
    groups = gen.truth.honest_groups.query("kind == 'msp'").groupby("group_id")["account_id"].apply(list)
    assert len(groups) >= 1
    start = logins["event_ts"].min()
    for gid, members in groups.items():
        assert 5 <= len(members) <= 15
        u = users.loc[members]
        assert u["is_enterprise"].astype(bool).all()
        assert (u["signup_ts"] < start - pd.Timedelta(days=365)).all()
        mine = logins[logins["account_id"].isin(members)]
        assert mine["mfa_used"].mean() >= 0.8
        pay = gen.case.payments[gen.case.payments["account_id"].isin(members)]
        assert (pay["status"] == "PAID").all()
        office = mine[mine["ip_kind"] == "office"]
        assert office["ip"].nunique() == 1 and office["device_id"].nunique() == 1
        assert office["account_id"].nunique() == len(members)
        assert office["event_ts"].dt.day_of_week.lt(5).all()  # working days


def test_family_tablet_is_one_home_ip_and_one_shared_device(gen, logins):
    groups = gen.truth.honest_groups.query("kind == 'family_tablet'").groupby("group_id")["account_id"].apply(list)
    for gid, members in groups.items():
        mine = logins[logins["account_id"].isin(members)]
        per_dev = mine.groupby("device_id")["account_id"].nunique()
        tablet = per_dev.idxmax()
        assert per_dev.max() == len(members)
        assert set(logins.loc[logins["device_id"] == tablet, "account_id"]) == set(members)


def test_truth_is_consistent_with_the_case(gen, logins):
    case, truth = gen.case, gen.truth
    assert case.rejected.empty
    accounts = set(case.users["account_id"].astype(object))
    assert set(truth.rings["account_id"]) <= accounts and set(truth.honest_groups["account_id"]) <= accounts
    assert truth.rings["account_id"].is_unique  # an account is in one ring at most
    assert (truth.rings.groupby("ring_id")["shape"].nunique() == 1).all()
    assert set(truth.rings["shape"]) <= set(synth.RING_SHAPES)
    acc = truth.accounts.set_index("account_id")
    assert acc["ring_id"].dropna().to_dict() == truth.rings.set_index("account_id")["ring_id"].to_dict()
    members = acc.loc[truth.rings["account_id"]]
    assert not members["stuffing_victim"].any() and not members["compromised"].any()
    # honest groups hold no ring member, and every ring member logs in
    assert not truth.honest_groups["account_id"].isin(truth.rings["account_id"]).any()
    assert set(truth.rings["account_id"]) <= set(logins["account_id"])
    assert set(logins["ip"]) == set(truth.ips["ip"])
    # accounts of the new shapes never act before they sign up, and fraud is never enterprise
    shaped = set(truth.rings.query("shape != 'lockstep'")["account_id"])
    assert not case.impossible_orders()["account_id"].astype(object).isin(shaped).any()
    assert not _users(gen).loc[list(shaped), "is_enterprise"].astype(bool).any()


def test_same_seed_same_case_and_truth(gen):
    again = synth.generate_case(5000, seed=1)
    for name in ("users", "logins", "ip_reputation", "payments", "ec2_activity", "security_findings"):
        pd.testing.assert_frame_equal(gen.case.table(name), again.case.table(name))
    for name in ("accounts", "rings", "campaigns", "ips", "honest_groups", "payments"):
        pd.testing.assert_frame_equal(getattr(gen.truth, name), getattr(again.truth, name))


def test_shapes_leave_everyone_else_as_the_lockstep_only_generator_made_them():
    full = synth.generate_case(1500, seed=4)
    plain = synth.generate_case(1500, seed=4, **synth.LOCKSTEP_ONLY)
    assert set(plain.truth.rings["shape"]) == {"lockstep"}
    assert set(plain.truth.honest_groups["kind"]) == {"household", "public_ip"}
    touched = set(full.truth.rings.loc[~full.truth.rings["ring_id"].isin(plain.truth.rings["ring_id"]), "account_id"])
    touched |= set(full.truth.honest_groups.query("kind in ['msp', 'family_tablet']")["account_id"])
    for name in ("users", "logins", "payments", "ec2_activity", "security_findings"):
        a, b = (_plain(t.table(name)) for t in (full.case, plain.case))  # categories differ with the accounts
        a = a[~a["account_id"].isin(touched)].reset_index(drop=True)
        b = b[~b["account_id"].isin(touched)].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, obj=name)
    rep = full.case.ip_reputation.merge(plain.case.ip_reputation, on="ip")
    assert len(rep) > 0.9 * len(plain.case.ip_reputation)
    for col in ("risk_score", "asn", "is_tor"):
        assert (rep[f"{col}_x"] == rep[f"{col}_y"]).all()


def _plain(frame):
    return frame.astype({c: object for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def test_a_rate_of_zero_turns_a_shape_off():
    s = synth.generate_case(3000, seed=2, accounts_per_device_farm=0, accounts_per_msp=0)
    assert "device_farm" not in set(s.truth.rings["shape"]) and "msp" not in set(s.truth.honest_groups["kind"])
    assert "slow" in set(s.truth.rings["shape"])


def test_write_and_load_carry_shapes_and_honest_groups(tmp_path):
    path = tmp_path / "c.sqlite"
    synth.write_case(path, 600, seed=3, days=25)
    truth = synth.load_truth(path)
    mem = synth.generate_case(600, seed=3, days=25).truth
    pd.testing.assert_frame_equal(truth.rings, mem.rings)
    pd.testing.assert_frame_equal(truth.honest_groups, mem.honest_groups)
    # a truth file from before shapes: lockstep rings only, no honest groups
    with sqlite3.connect(synth.truth_path_for(path)) as conn:
        conn.execute("DROP TABLE truth_honest_groups")
        conn.execute("CREATE TABLE old AS SELECT ring_id, account_id FROM truth_rings")
        conn.execute("DROP TABLE truth_rings")
        conn.execute("ALTER TABLE old RENAME TO truth_rings")
    old = synth.load_truth(path)
    assert set(old.rings["shape"]) == {"lockstep"} and old.honest_groups.empty
    assert list(old.honest_groups.columns) == ["group_id", "kind", "account_id"]


def test_load_truth_names_what_is_missing(tmp_path):
    p = tmp_path / "x.truth.sqlite"
    sqlite3.connect(p).close()
    with pytest.raises(InputError, match="no table truth_accounts"):
        synth.load_truth(p)


def test_shape_knobs_are_checked():
    with pytest.raises(InputError, match="accounts_per_slow_ring must be a whole number >= 0"):
        synth.generate_case(100, accounts_per_slow_ring=-1)
    with pytest.raises(InputError, match=r"device_farm_size must be \(low, high\)"):
        synth.generate_case(100, device_farm_size=(30, 10))
