"""Rings on tiny hand-built cases whose answer is known, plus invariants and determinism."""

import numpy as np
import pandas as pd
import pytest

import graphfraud
from graphfraud import synth
from graphfraud.errors import InputError
from graphfraud.rings import detect_communities, ring_id_for

from conftest import LOGIN_COLUMNS

START = pd.Timestamp("2025-08-01")
DAYS = 30


def background(rng, n=80, logins=20, prefix="B"):
    """Honest accounts, each on its own home IP and device, logging in at random times."""
    rows = []
    for i in range(n):
        for t in rng.integers(0, DAYS * 1440, size=logins):
            rows.append((START + pd.Timedelta(minutes=int(t)), f"{prefix}{i:03d}", f"10.{i // 250}.{i % 250}.1",
                         "DE", "SUCCESS", 1, f"home-{prefix}{i}"))
    return rows


def make_case(rows, rep_rows=()):
    lg = pd.DataFrame(rows, columns=LOGIN_COLUMNS)
    lg["event_ts"] = pd.to_datetime(lg["event_ts"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    rep = pd.DataFrame(list(rep_rows), columns=["ip", "risk_score", "asn", "is_tor"])
    return graphfraud.case_from_frames(logins=lg, ip_reputation=rep)


def ring_rows(rng, members, proxies, days, spread_minutes=20):
    rows = []
    for d in days:
        t0 = START + pd.Timedelta(days=int(d), hours=int(rng.integers(8, 20)))
        for k, a in enumerate(members):
            rows.append((t0 + pd.Timedelta(minutes=int(rng.integers(0, spread_minutes))), a, proxies[k % len(proxies)],
                         "NL", "SUCCESS", 0, "ring-device"))
    return rows


def flagged_members(res):
    return [sorted(res.members(r)) for r in res.flagged["ring_id"]]


def test_six_accounts_on_two_proxies_within_minutes_on_several_days_are_one_flagged_ring():
    rng = np.random.default_rng(1)
    ring = [f"R{i:03d}" for i in range(6)]
    rows = background(rng) + background(rng, n=6, prefix="R")  # camouflage: members also live normal lives
    rows += ring_rows(rng, ring, ["77.0.0.1", "77.0.0.2"], days=[2, 6, 11, 17, 23])
    res = graphfraud.find_rings(make_case(rows, [("77.0.0.1", 85, 1, 0), ("77.0.0.2", 90, 1, 1)]))
    assert flagged_members(res) == [ring]
    row = res.flagged.iloc[0]
    assert set(row["shared_ips"].split(";")) == {"77.0.0.1", "77.0.0.2"}
    assert row["shared_devices"] == "ring-device"
    assert row["c_infrastructure_risk"] >= 0.85 and row["c_specificity"] == 1.0
    assert "co-active" in row["top_evidence"]


def test_household_sharing_ip_and_device_at_random_times_is_not_flagged():
    rng = np.random.default_rng(2)
    rows = background(rng)
    for i in range(3):
        for t in rng.integers(0, DAYS * 1440, size=25):
            rows.append((START + pd.Timedelta(minutes=int(t)), f"H{i}", "99.9.9.9", "DE", "SUCCESS", 1,
                         "family-tablet" if i < 2 or t % 2 else f"phone-{i}"))
    res = graphfraud.find_rings(make_case(rows))
    assert res.flagged.empty
    pair = res.pairs.set_index(["account_a", "account_b"]).loc[("H0", "H1")]
    assert (pair["shared_ips"], pair["shared_devices"]) == (1, 1)


def test_stuffing_victims_are_a_campaign_not_a_ring():
    rng = np.random.default_rng(3)
    rows = background(rng, n=120)
    t0 = START + pd.Timedelta(days=9)
    victims = [f"B{i:03d}" for i in range(100)]
    for k, v in enumerate(victims):
        for _ in range(2):
            rows.append((t0 + pd.Timedelta(minutes=int(rng.integers(0, 90))), v, "66.6.6.6", "RU", "FAIL", 0, f"bot-{k}"))
    for v in victims[:4]:  # a few takeovers: the attacker gets in from the same IP, minutes apart
        rows.append((t0 + pd.Timedelta(minutes=95), v, "66.6.6.6", "RU", "SUCCESS", 0, "bot-x"))
    res = graphfraud.find_rings(make_case(rows, [("66.6.6.6", 97, 1, 1)]))
    camp = res.campaigns
    assert camp["ip"].tolist() == ["66.6.6.6"]
    assert camp.loc[0, "victims"] == 100 and camp.loc[0, "failures"] == 200
    assert camp.loc[0, "accounts_with_success"] == 4
    in_flagged = set(res.rings.loc[res.rings["ring_id"].isin(res.flagged["ring_id"]), "account_id"])
    assert not in_flagged & set(victims)
    assert not res.activity.frame()["entity"].eq("ip:66.6.6.6").any()


def test_an_account_on_a_500_account_nat_is_in_no_ring_because_of_it():
    rng = np.random.default_rng(4)
    rows = []
    for i in range(500):
        for t in rng.integers(0, DAYS * 1440, size=8):
            rows.append((START + pd.Timedelta(minutes=int(t)), f"M{i:03d}", "100.64.0.1", "US", "SUCCESS", 1, f"ph-{i}"))
    res = graphfraud.find_rings(make_case(rows))
    assert res.flagged.empty
    assert res.hubs["entity"].tolist() == ["ip:100.64.0.1"] and res.hubs.loc[0, "accounts"] == 500
    # sharing the NAT is never evidence; only spike hours on it could be, and random logins make none
    assert not (res.pairs["coactive_1d"] > 0).any() and not (res.pairs["pvalue"] < 0.01).any()


def test_invariants_and_determinism(synthetic):
    a = graphfraud.find_rings(synthetic.case, seed=3)
    b = graphfraud.find_rings(synthetic.case, seed=3)
    pd.testing.assert_frame_equal(a.rings, b.rings)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    assert a.rings["account_id"].is_unique  # every account in at most one ring
    assert a.summary["score"].between(0, 1).all()
    comps = [c for c in a.summary.columns if c.startswith("c_")]
    assert (a.summary[comps] >= 0).all().all() and (a.summary[comps] <= 1).all().all()
    assert (a.summary["size"] >= 2).all()
    for rid, members in a.rings.groupby("ring_id")["account_id"]:
        assert rid == ring_id_for(members)
    assert a.params["seed"] == 3 and a.params["method"] == "louvain"


def test_flagged_rings_match_the_truth_on_a_generated_case():
    # the lockstep rings this detector was built for; the harder ring shapes are measured in bench/bench_rings.py
    synthetic = synth.generate_case(1200, seed=11, days=30, chunk_size=600, **synth.LOCKSTEP_ONLY)
    res = graphfraud.find_rings(synthetic.case)
    truth = synthetic.truth.rings.groupby("ring_id")["account_id"].apply(set)
    found = res.rings[res.rings["ring_id"].isin(res.flagged["ring_id"])].groupby("ring_id")["account_id"].apply(set)
    best = [max(len(t & f) / len(t | f) for f in found) for t in truth]
    assert np.mean(best) >= 0.8 and sum(b >= 0.5 for b in best) >= 0.9 * len(truth)
    victims = set(synthetic.truth.accounts.query("stuffing_victim == 1")["account_id"])
    assert not set().union(*found) & victims


def test_community_detection_ignores_insertion_order():
    import networkx as nx

    rng = np.random.default_rng(0)
    edges = [(f"a{u}", f"a{v}", float(rng.uniform(1, 10))) for u in range(40) for v in range(u + 1, 40)
             if rng.random() < 0.12]
    g1, g2 = nx.Graph(), nx.Graph()
    g1.add_weighted_edges_from(edges)
    g2.add_weighted_edges_from([edges[i] for i in rng.permutation(len(edges))])
    norm = lambda cs: sorted(sorted(c) for c in cs)  # noqa: E731
    assert norm(detect_communities(g1, seed=7)) == norm(detect_communities(g2, seed=7))
    assert norm(detect_communities(g1, "components")) == norm(nx.connected_components(g1))


def test_unknown_method_and_bad_parameters():
    import networkx as nx

    with pytest.raises(InputError, match="unknown community method 'luvain'. Did you mean 'louvain'"):
        detect_communities(nx.Graph(), "luvain")
    with pytest.raises(InputError, match="resolution must be a positive float"):
        detect_communities(nx.Graph(), resolution=0)


def test_time_window_is_respected():
    rng = np.random.default_rng(5)
    ring = [f"R{i}" for i in range(5)]
    rows = background(rng) + ring_rows(rng, ring, ["77.0.0.1"], days=[20, 22, 24, 26])
    case = make_case(rows)
    assert flagged_members(graphfraud.find_rings(case)) == [ring]
    assert graphfraud.find_rings(case, until=START + pd.Timedelta(days=19)).flagged.empty
