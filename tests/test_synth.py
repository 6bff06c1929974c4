import pandas as pd
import pytest

import graphfraud
from graphfraud import synth
from graphfraud.errors import InputError


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
