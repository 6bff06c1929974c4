"""Ring quality against ground truth, next to two baselines, plus ring speed at scale.

    python bench/bench_rings.py                   # quality on 5k accounts (3 seeds) + shuffled case + 100k timing
    python bench/bench_rings.py --speed 1000000   # also time rings on the 1M case from bench_foundation

Quality metrics (flagged rings vs true rings):
  ring recall        share of true rings matched by a flagged ring with Jaccard >= 0.5
  mean best Jaccard  mean over true rings of the best Jaccard with any flagged ring
  member precision   share of accounts in flagged rings that are true ring members
  false rings        flagged rings matching no true ring (Jaccard < 0.5 with all)
  victims in rings   credential-stuffing victims inside flagged rings
Baselines: connected components over shared IPs/devices, and Louvain on the shared-entity
projection (weight = entities shared) without a null model; both flag every community of 2+.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def quality(found: list[set], truth: list[set], victims: set) -> dict:
    def jac(a, b):
        return len(a & b) / len(a | b)

    best = [max((jac(t, f) for f in found), default=0.0) for t in truth]
    members = set().union(*found) if found else set()
    true_members = set().union(*truth)
    false = sum(1 for f in found if max((jac(f, t) for t in truth), default=0.0) < 0.5)
    return {"flagged rings": len(found), "ring recall": np.mean([b >= 0.5 for b in best]),
            "mean best Jaccard": float(np.mean(best)),
            "member precision": len(members & true_members) / len(members) if members else float("nan"),
            "false rings": false, "victims in rings": len(members & victims)}


def projection(activity: pd.DataFrame) -> nx.Graph:
    m = activity[["entity", "account_id"]].drop_duplicates()
    pairs = m.merge(m, on="entity")
    pairs = pairs[pairs["account_id_x"] < pairs["account_id_y"]]
    w = pairs.groupby(["account_id_x", "account_id_y"]).size()
    g = nx.Graph()
    g.add_weighted_edges_from((a, b, float(n)) for (a, b), n in w.items())
    return g


def evaluate(n: int, seed: int) -> list[dict]:
    import graphfraud
    from graphfraud import synth
    from graphfraud.graph.activity import entity_activity
    from graphfraud.rings import detect_communities

    s = synth.generate_case(n, seed=seed)
    truth = [set(g) for _, g in s.truth.rings.groupby("ring_id")["account_id"]]
    victims = set(s.truth.accounts.query("stuffing_victim == 1")["account_id"])
    t0 = time.perf_counter()
    res = graphfraud.find_rings(s.case)
    secs = time.perf_counter() - t0
    ours = [set(res.members(r)) for r in res.flagged["ring_id"]]
    rows = [{"method": "graphfraud (null model + Louvain)", "seed": seed, **quality(ours, truth, victims),
             "seconds": secs}]
    # baselines see every login's IP and device, as a naive analyst query would (no campaign removal, no hub cap)
    act = entity_activity(s.case)
    lg = s.case.logins
    fails = pd.DataFrame({"account_id": lg["account_id"].astype(object), "entity": "ip:" + lg["ip"].astype(str)})
    act = pd.concat([act[["account_id", "entity"]], fails], ignore_index=True)
    g = projection(act)
    cc = [c for c in nx.connected_components(g) if len(c) >= 2]
    rows.append({"method": "connected components, shared IP/device", "seed": seed, **quality(cc, truth, victims)})
    lv = [c for c in detect_communities(g, "louvain", seed=0) if len(c) >= 2]
    rows.append({"method": "Louvain on shared-entity projection", "seed": seed, **quality(lv, truth, victims)})
    return rows


def shuffled(n: int, seed: int) -> dict:
    import graphfraud
    from graphfraud import synth

    s = synth.generate_case(n, seed=seed)
    rng = np.random.default_rng(seed)
    lg = s.case.logins.copy()
    lg["account_id"] = lg["account_id"].to_numpy()[rng.permutation(len(lg))]
    lg["event_ts"] = lg["event_ts"].to_numpy()[rng.permutation(len(lg))]
    case = graphfraud.case_from_frames(logins=lg, users=s.case.users, ip_reputation=s.case.ip_reputation)
    res = graphfraud.find_rings(case)
    return {"shuffled case: communities": len(res.summary), "flagged rings": int(res.summary["flagged"].sum())
            if len(res.summary) else 0}


def speed_child(path: str) -> None:
    import graphfraud

    case = graphfraud.load_case(path)
    signals = graphfraud.account_signals(case)
    bursts = graphfraud.detect_bursts(case)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    res = graphfraud.find_rings(case, signals=signals, bursts=bursts)
    secs = time.perf_counter() - t0
    print(json.dumps({"rings_s": secs, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "peak_before_rings_mb": base, "candidate_pairs": res.params["candidate_pairs"],
                      "flagged": int(res.summary["flagged"].sum()), "logins": len(case.logins)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--seeds", type=int, nargs="*", default=[5, 6, 7])
    ap.add_argument("--speed", type=int, nargs="*", default=[100_000])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        speed_child(args.child)
        return
    rows = [r for seed in args.seeds for r in evaluate(args.accounts, seed)]
    df = pd.DataFrame(rows)
    mean = df.groupby("method", sort=False).mean(numeric_only=True).drop(columns="seed")
    print(f"## Ring quality on {args.accounts:,} generated accounts, mean over seeds {args.seeds}\n")
    print("| method | flagged rings | ring recall | mean best Jaccard | member precision | false rings "
          "| victims in rings |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for m, r in mean.iterrows():
        print(f"| {m} | {r['flagged rings']:.1f} | {r['ring recall']:.2f} | {r['mean best Jaccard']:.2f} | "
              f"{r['member precision']:.2f} | {r['false rings']:.1f} | {r['victims in rings']:.1f} |")
    print("\nPer seed (graphfraud):")
    for r in rows:
        if r["method"].startswith("graphfraud"):
            print(f"- seed {r['seed']}: recall {r['ring recall']:.2f}, mean best Jaccard {r['mean best Jaccard']:.2f}, "
                  f"false rings {r['false rings']}, victims {r['victims in rings']}, {r['seconds']:.1f} s")
    sh = shuffled(args.accounts, args.seeds[0])
    print(f"\nShuffled logins (account ids and timestamps permuted): {sh['shuffled case: communities']} "
          f"communities, **{sh['flagged rings']} flagged**.")
    for n in args.speed:
        path = HERE / "out" / f"case_{n}.sqlite"
        if not path.exists():
            print(f"\n(no {path}; run bench_foundation.py first for the {n:,}-account timing)")
            continue
        out = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                             check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"\nRings on {n:,} accounts ({r['logins']:,} logins): {r['rings_s']:.1f} s, peak RSS "
              f"{r['peak_mb']:,.0f} MiB (before rings {r['peak_before_rings_mb']:,.0f}); "
              f"{r['candidate_pairs']:,} candidate pairs, {r['flagged']} flagged rings.")


if __name__ == "__main__":
    main()
