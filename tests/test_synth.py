import sqlite3

import numpy as np
import pandas as pd
import pytest

import graphfraud
from graphfraud import synth
from graphfraud.case.schema import TABLES
from graphfraud.errors import InputError

# users, logins, ip_reputation, ec2_activity and security_findings of generate_case(300, seed=5): the same
# since before the money side existed
FINGERPRINTS = {"users": 208000119749, "logins": 45230702032, "ip_reputation": 382809117551,
                "ec2_activity": 835467599687, "security_findings": 666827309746}


def test_same_seed_same_case_other_seed_other_case():
    a, b, c = synth.generate_case(300, seed=5), synth.generate_case(300, seed=5), synth.generate_case(300, seed=6)
    for name in ["users", "logins", "payments", "ec2_activity"]:
        pd.testing.assert_frame_equal(a.case.table(name), b.case.table(name))
    assert not a.case.logins.equals(c.case.logins)


def test_generated_case_is_clean_and_truth_is_apart(synthetic):
    case, truth = synthetic.case, synthetic.truth
    assert case.rejected.empty
    assert not any("ring" in c for name in ["users", "logins"] for c in case.table(name).columns)
    assert set(truth.rings["account_id"]) <= set(case.users["account_id"])
    # every ring's size is within its shape's range (lockstep rings: the original sizes or the small ones)
    cfg = synthetic.config
    ranges = {"lockstep": (cfg.small_lockstep_size[0], cfg.ring_size[1]), "slow": cfg.slow_ring_size,
              "device_farm": cfg.device_farm_size, "tiny": cfg.tiny_ring_size, "proxy_rotation": cfg.proxy_rotation_size,
              "carrier_nat": cfg.carrier_nat_size}
    sizes = truth.rings.groupby("ring_id").agg(size=("account_id", "size"), shape=("shape", "first"))
    assert all(ranges[r.shape][0] <= r.size <= ranges[r.shape][1] for r in sizes.itertuples())
    # victims of stuffing are never ring members, and every campaign hits many accounts
    acc = truth.accounts.set_index("account_id")
    assert not (acc["stuffing_victim"].astype(bool) & acc["ring_id"].notna()).any()
    assert (truth.campaigns["victims"] >= 40).all()
    # hubs: carrier IPs shared by many accounts exist
    hub_ips = set(truth.ips.query("kind == 'hub'")["ip"])
    per_ip = case.logins[case.logins["ip"].isin(hub_ips)].groupby("ip", observed=True)["account_id"].nunique()
    assert per_ip.max() >= 50


def test_multi_chunk_write_and_reload(tmp_path):
    path = tmp_path / "c.sqlite"
    truth_path = synth.write_case(path, 240, seed=2, chunk_size=100, days=25)
    case = graphfraud.load_case(path)
    assert case.rejected.empty and len(case.users) == 240
    assert case.users["account_id"].is_unique and case.ip_reputation["ip"].is_unique
    truth = synth.load_truth(path)
    assert truth_path.name == "c.truth.sqlite" and len(truth.accounts) == 240
    assert truth.rings["ring_id"].str[:4].nunique() == 2  # both chunks have rings (the 40-account tail merged into the second)


def test_config_guards():
    with pytest.raises(InputError, match="n_accounts must be at least 50"):
        synth.generate_case(10)
    with pytest.raises(InputError, match="days must be at least 21"):
        synth.generate_case(100, days=7)


# ------------------------------------------------------------------ the money side


FIVE = ("users", "logins", "ip_reputation", "ec2_activity", "security_findings")


def _payments(synthetic) -> pd.DataFrame:
    """The case's payments as plain objects with their truth, and their amount in USD through fx_rates."""
    case = synthetic.case
    pay = case.payments.astype({c: object for c in case.payments.columns if c not in ("payment_ts", "amount",
                                                                                       "amount_usd")})
    pay = pay.merge(synthetic.truth.payments, on=["payment_id", "account_id"], how="left", validate="1:1")
    fx = case.fx_rates.astype({"currency": object}).sort_values("valid_from")
    pay = pd.merge_asof(pay.sort_values("payment_ts"), fx, left_on="payment_ts", right_on="valid_from",
                        by="currency").sort_index()
    pay["usd"] = pay["amount_usd"].fillna(pay["amount"] * pay["rate_usd"])
    return pay


def _most_within(ts: pd.Series, seconds: int) -> int:
    """The most events of ``ts`` in any window of ``seconds``."""
    t = np.sort(ts.to_numpy())
    return int((np.searchsorted(t, t + np.timedelta64(seconds, "s"), side="right") - np.arange(len(t))).max())


def test_the_money_side_is_complete_valid_and_aligned_with_its_truth(synthetic):
    case, truth = synthetic.case, synthetic.truth
    assert case.rejected.empty
    assert list(case.payments.columns) == list(TABLES["payments"].column_names)
    assert len(case.blocklist) and len(case.fx_rates)
    assert case.payments["payment_id"].is_unique and case.payments[["merchant_id", "currency"]].notna().all().all()
    # amount_usd is given exactly for USD payments; every other currency converts through fx_rates from its start
    usd = (case.payments["currency"] == "USD").to_numpy()
    assert (case.payments["amount_usd"].notna().to_numpy() == usd).all()
    assert np.allclose(case.payments["amount_usd"][usd], case.payments["amount"][usd])
    fx = case.fx_rates.astype({"currency": object})
    first_rate = fx.groupby("currency")["valid_from"].min()
    foreign = case.payments[~usd]
    assert "USD" not in first_rate.index and set(foreign["currency"].astype(object)) <= set(first_rate.index)
    assert (foreign["payment_ts"].to_numpy() >= foreign["currency"].astype(object).map(first_rate).to_numpy()).all()
    assert {"EUR", "GBP", "XAF"} <= set(foreign["currency"].astype(object))
    # the truth holds one row per payment, in the case's order, and says which are fraud
    tp = truth.payments
    assert tp["payment_id"].tolist() == case.payments["payment_id"].astype(object).tolist()
    assert tp["account_id"].tolist() == case.payments["account_id"].astype(object).tolist()
    assert set(tp["pattern"]) <= set(synth.FRAUD_PATTERNS + synth.HONEST_PATTERNS)
    assert set(tp["pattern"]) >= set(synth.FRAUD_PATTERNS)
    assert (tp["fraud"] == tp["pattern"].isin(synth.FRAUD_PATTERNS).astype(int)).all()
    # about ten everyday payments an account
    assert 8 <= (tp["pattern"].isin(synth.HONEST_PATTERNS)).sum() / len(case.users) <= 12


def test_the_money_side_leaves_the_other_five_tables_as_they_were():
    on, off = synth.generate_case(600, seed=5), synth.generate_case(600, seed=5, money_side=False)
    for name in FIVE:
        pd.testing.assert_frame_equal(on.case.table(name), off.case.table(name), obj=name)
    for name in ("accounts", "rings", "campaigns", "ips", "honest_groups"):
        pd.testing.assert_frame_equal(getattr(on.truth, name), getattr(off.truth, name), obj=name)
    # without it: the plain payments of before, six tables, no payment truth
    assert list(off.case.payments.columns) == ["payment_ts", "account_id", "method", "amount_usd", "status"]
    assert list(off.case.row_counts().index) == list(graphfraud.case.TABLE_NAMES)
    assert off.truth.payments.empty and list(off.truth.payments.columns) == ["payment_id", "account_id", "fraud",
                                                                               "pattern"]


def test_the_five_tables_match_their_fingerprint():
    """Pinned: the money side draws from its own streams, so these never move when it changes."""
    s = synth.generate_case(300, seed=5)
    prints = {name: int(pd.util.hash_pandas_object(s.case.table(name).astype(str), index=False).sum() % 10**12)
              for name in FIVE}
    assert prints == FINGERPRINTS


def test_fraud_patterns_look_as_they_should(synthetic):
    pay = _payments(synthetic)
    acc = synthetic.truth.accounts.set_index("account_id")
    of = {p: pay[pay["pattern"] == p] for p in synth.FRAUD_PATTERNS}
    # card testing: three or more payments within a minute, small, mostly declined
    ct = of["card_testing"]
    assert ct.groupby("account_id")["payment_ts"].apply(_most_within, seconds=60).min() >= 3
    assert ct["usd"].max() <= 5 and (ct["status"] == "DECLINED").mean() > 0.5
    # pile-ups: mules paying six or more times within five minutes
    pu = of["pile_up"]
    assert acc.loc[pu["account_id"].unique(), "mule"].astype(bool).all()
    assert pu.groupby("account_id")["payment_ts"].apply(_most_within, seconds=300).min() >= 6
    # ring cycles: one IP paying for several of a ring's accounts within ten minutes
    rc = of["ring_cycle"].assign(ring=lambda d: d["account_id"].map(acc["ring_id"]))
    assert rc["ring"].notna().all()
    busiest = max(g.sort_values("payment_ts").rolling("600s", on="payment_ts")["usd"].count().max()
                  for _, g in rc.groupby(["ip", "ring"]))
    assert busiest >= 4
    # high amounts: far above what the account usually pays
    usual = pay[pay["pattern"].isin(["honest", "camouflage", "shared_ip", "shared_device"])].groupby(
        "account_id")["usd"].median()
    ha = of["high_amount"].join(usual.rename("usual"), on="account_id").dropna(subset=["usual"])
    assert len(ha) and (ha["usd"] >= 5 * ha["usual"]).mean() > 0.8
    # fraud merchants: paid by rings only, and blocklisted (some)
    fm = set(of["fraud_merchant"]["merchant_id"])
    assert not pay.loc[pay["merchant_id"].isin(fm), "fraud"].eq(0).any()
    assert set(synthetic.case.blocklist.query("kind == 'merchant'")["value"].astype(object)) <= fm


def test_honest_lookalikes_stay_honest(synthetic):
    case, pay = synthetic.case, _payments(synthetic)
    acc = synthetic.truth.accounts.set_index("account_id")
    # the blocklist's false positive: a carrier-NAT IP many honest accounts pay through
    hub = case.blocklist[case.blocklist["reason"].astype(object).str.contains("acquirer")]["value"].astype(object)
    assert len(hub) == 2  # one per chunk
    through = pay[pay["ip"].isin(hub)]
    honest = through[through["account_id"].map(acc["ring_id"]).isna()]
    assert honest["account_id"].nunique() >= 40 and honest["fraud"].eq(0).all()
    # travellers pay abroad in the trip's currency; households share devices; busy shoppers stay honest
    travel = pay[pay["pattern"] == "traveller"]
    home = travel["account_id"].map(case.users.set_index(case.users["account_id"].astype(object))["country"])
    assert (travel["country_iso"].astype(object) != home.astype(object)).all()
    assert (travel["currency"] != "USD").mean() > 0.8
    for pattern in ("shared_device", "shared_ip", "busy_shopper", "remittance"):
        assert (pay["pattern"] == pattern).any(), pattern
    remittances = pay.loc[pay["pattern"] == "remittance", "currency"]
    assert remittances.isin(["XAF", "XOF", "PHP", "NGN", "KES", "INR", "MXN"]).all()


def test_blocklist_has_every_kind_some_known_before_the_case(synthetic):
    bl = synthetic.case.blocklist
    assert set(bl["kind"].astype(object)) == set(graphfraud.case.schema.BLOCKLIST_KINDS)
    start = synthetic.case.logins["event_ts"].min()
    before = (bl["listed_ts"] < start).mean()
    assert 0 < before < 0.6 and bl["reason"].notna().all()
    # the listed accounts are ring members or mules; the listed devices and IPs were used
    acc = synthetic.truth.accounts.set_index("account_id")
    listed = bl.loc[bl["kind"] == "account", "value"].astype(object)
    assert (acc.loc[listed, "ring_id"].notna() | acc.loc[listed, "mule"].astype(bool)).all()
    used = set(synthetic.case.logins["device_id"].astype(object)) | set(synthetic.case.logins["ip"].astype(object))
    assert set(bl.loc[bl["kind"].isin(["ip", "device"]), "value"].astype(object)) <= used


def test_written_money_side_loads_clean_and_older_truth_files_still_load(tmp_path):
    path = tmp_path / "m.sqlite"
    synth.write_case(path, 300, seed=8, chunk_size=150, days=25)
    case = graphfraud.load_case(path)
    mem = synth.generate_case(300, seed=8, chunk_size=150, days=25)
    assert case.rejected.empty and case.payments["payment_id"].is_unique
    for name in ("payments", "blocklist", "fx_rates"):
        pd.testing.assert_frame_equal(case.table(name), mem.case.table(name), check_dtype=False,
                                      check_categorical=False, obj=name)
    truth = synth.load_truth(path)
    pd.testing.assert_frame_equal(truth.payments, mem.truth.payments)
    assert truth.accounts["mule"].tolist() == mem.truth.accounts["mule"].tolist()
    # a truth file from before the money side: no payments, no mule flag
    with sqlite3.connect(synth.truth_path_for(path)) as conn:
        conn.execute("DROP TABLE truth_payments")
        conn.execute("ALTER TABLE truth_accounts DROP COLUMN mule")
    old = synth.load_truth(path)
    assert old.payments.empty and list(old.payments.columns) == ["payment_id", "account_id", "fraud", "pattern"]
    assert (old.accounts["mule"] == 0).all()


def test_payments_per_account_sets_the_volume():
    few = synth.generate_case(300, seed=3, payments_per_account=2)
    many = synth.generate_case(300, seed=3)
    assert len(few.case.payments) < 0.5 * len(many.case.payments)
    with pytest.raises(InputError, match="payments_per_account must be a number from 0 to 1000"):
        synth.generate_case(100, payments_per_account=-1)
