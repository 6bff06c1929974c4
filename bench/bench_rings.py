"""Ring quality against ground truth, next to two baselines, per ring shape, plus ring speed at scale.

    python bench/bench_rings.py                  # quality on 5k accounts (3 seeds) + shuffled case + 100k timing
    python bench/bench_rings.py --accounts 5000 50000 --seeds 1 2 --speed   # two sizes, no timing
    python bench/bench_rings.py --speed 1000000  # also time rings on the 1M case from bench_foundation

Quality metrics (flagged rings vs true rings of every shape):
  ring recall        share of true rings matched by a flagged ring with Jaccard >= 0.5
  mean best Jaccard  mean over true rings of the best Jaccard with any flagged ring
  member precision   share of accounts in flagged rings that are true ring members
  false rings        flagged rings matching no true ring (Jaccard < 0.5 with all)
  victims in rings   credential-stuffing victims inside flagged rings
Per shape (lockstep, slow, device_farm, tiny, proxy_rotation, carrier_nat): ring recall and mean
best Jaccard over that shape's rings. Honest groups (households, family tablets, MSP clients,
travellers sharing a hotel IP) that must not be flagged: a group counts as flagged when at least
half of its members, and at least two, are inside one flagged ring.
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
from collections import defaultdict
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def _best_overlap(groups: list[set], found: list[set]) -> tuple[list[float], list[int]]:
    """For each group: best Jaccard with any found community, and most members inside one community."""
    where = defaultdict(list)  # account -> found communities holding it (only those can overlap)
    for i, f in enumerate(found):
        for a in f:
            where[a].append(i)
    best, inside = [], []
    for g in groups:
        cands = {i for a in g for i in where.get(a, ())}
        best.append(max((len(g & found[i]) / len(g | found[i]) for i in cands), default=0.0))
        inside.append(max((len(g & found[i]) for i in cands), default=0))
    return best, inside


def quality(found: list[set], truth: list[set], victims: set) -> dict:
    best, _ = _best_overlap(truth, found)
    members = set().union(*found) if found else set()
    true_members = set().union(*truth)
    back, _ = _best_overlap(found, truth)
    false = sum(1 for b in back if b < 0.5)
    return {"flagged rings": len(found), "ring recall": np.mean([b >= 0.5 for b in best]),
            "mean best Jaccard": float(np.mean(best)),
            "member precision": len(members & true_members) / len(members) if members else float("nan"),
            "false rings": false, "victims in rings": len(members & victims)}


def per_shape(found: list[set], rings: pd.DataFrame, honest: pd.DataFrame) -> tuple[list[dict], list[dict]]:
    """Recall and mean best Jaccard per ring shape; honest groups flagged per kind."""
    shapes = []
    for shape, g in rings.groupby("shape", sort=False):
        truth = [set(m) for _, m in g.groupby("ring_id")["account_id"]]
        best, _ = _best_overlap(truth, found)
        shapes.append({"shape": shape, "rings": len(truth), "recall": float(np.mean([b >= 0.5 for b in best])),
                       "mean best Jaccard": float(np.mean(best))})
    kinds = []
    for kind, g in honest.groupby("kind", sort=False):
        groups = [set(m) for _, m in g.groupby("group_id")["account_id"]]
        _, inside = _best_overlap(groups, found)
        flagged = sum(1 for grp, k in zip(groups, inside) if k >= 2 and k >= 0.5 * len(grp))
        kinds.append({"kind": kind, "groups": len(groups), "flagged": flagged})
    return shapes, kinds


def projection(activity: pd.DataFrame) -> nx.Graph:
    m = activity[["entity", "account_id"]].drop_duplicates()
    pairs = m.merge(m, on="entity")
    pairs = pairs[pairs["account_id_x"] < pairs["account_id_y"]]
    w = pairs.groupby(["account_id_x", "account_id_y"]).size()
    g = nx.Graph()
    g.add_weighted_edges_from((a, b, float(n)) for (a, b), n in w.items())
    return g


def evaluate(n: int, seed: int) -> tuple[list[dict], list[dict], list[dict]]:
    """Overall rows, per-shape rows and honest-group rows for graphfraud and the two baselines."""
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
    methods = {"graphfraud (null model + Louvain)": [set(res.members(r)) for r in res.flagged["ring_id"]]}
    # baselines see every login's IP and device, as a naive analyst query would (no campaign removal, no hub cap)
    act = entity_activity(s.case)
    lg = s.case.logins
    fails = pd.DataFrame({"account_id": lg["account_id"].astype(object), "entity": "ip:" + lg["ip"].astype(str)})
    act = pd.concat([act[["account_id", "entity"]], fails], ignore_index=True)
    g = projection(act)
    methods["connected components, shared IP/device"] = [c for c in nx.connected_components(g) if len(c) >= 2]
    methods["Louvain on shared-entity projection"] = [c for c in detect_communities(g, "louvain", seed=0)
                                                      if len(c) >= 2]
    rows, shape_rows, honest_rows = [], [], []
    for method, found in methods.items():
        key = {"method": method, "accounts": n, "seed": seed}
        rows.append({**key, **quality(found, truth, victims)})
        shapes, kinds = per_shape(found, s.truth.rings, s.truth.honest_groups)
        shape_rows += [{**key, **r} for r in shapes]
        honest_rows += [{**key, **r} for r in kinds]
    rows[0]["seconds"] = secs
    return rows, shape_rows, honest_rows


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


def report(n: int, seeds: list[int], rows: list[dict], shape_rows: list[dict], honest_rows: list[dict]) -> None:
    df = pd.DataFrame(rows)
    mean = df.groupby("method", sort=False).mean(numeric_only=True).drop(columns=["seed", "accounts"])
    print(f"## Ring quality on {n:,} generated accounts, mean over seeds {seeds}\n")
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

    sh = pd.DataFrame(shape_rows)
    # pool the rings of all seeds per shape, so a shape with few rings per case is not a mean of 0/1 recalls
    sh["hits"] = sh["recall"] * sh["rings"]
    sh["jac"] = sh["mean best Jaccard"] * sh["rings"]
    per = sh.groupby(["method", "shape"], sort=False)[["rings", "hits", "jac"]].sum()
    from graphfraud.synth import HONEST_KINDS, RING_SHAPES

    shapes = [s for s in RING_SHAPES if s in set(sh["shape"])]
    print(f"\n### Per ring shape ({n:,} accounts, rings pooled over seeds {seeds}): recall at Jaccard >= 0.5 "
          "/ mean best Jaccard\n")
    counts = per.loc[sh["method"].iloc[0], "rings"]
    print("| method | " + " | ".join(f"{s} ({int(counts[s])})" for s in shapes) + " |")
    print("|---|" + "---:|" * len(shapes))
    for m in dict.fromkeys(sh["method"]):
        cells = [f"{per.loc[(m, s), 'hits'] / per.loc[(m, s), 'rings']:.2f} / "
                 f"{per.loc[(m, s), 'jac'] / per.loc[(m, s), 'rings']:.2f}" for s in shapes]
        print(f"| {m} | " + " | ".join(cells) + " |")

    hg = pd.DataFrame(honest_rows).groupby(["method", "kind"], sort=False)[["groups", "flagged"]].sum()
    kinds = [k for k in HONEST_KINDS if k in {k for _, k in hg.index}]
    print(f"\n### Honest groups flagged ({n:,} accounts, summed over seeds {seeds}): flagged / groups\n")
    print("| method | " + " | ".join(kinds) + " | victims in rings |")
    print("|---|" + "---:|" * (len(kinds) + 1))
    victims = df.groupby("method", sort=False)["victims in rings"].sum()
    for m in dict.fromkeys(df["method"]):
        cells = [f"{int(hg.loc[(m, k), 'flagged'])} / {int(hg.loc[(m, k), 'groups'])}" for k in kinds]
        print(f"| {m} | " + " | ".join(cells) + f" | {int(victims[m])} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, nargs="+", default=[5000], help="case sizes to measure quality on")
    ap.add_argument("--seeds", type=int, nargs="+", default=[5, 6, 7], help="generator seeds, one case each")
    ap.add_argument("--speed", type=int, nargs="*", default=[100_000],
                    help="case sizes to time rings on (cases from bench_foundation); none with a bare --speed")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        speed_child(args.child)
        return
    for i, n in enumerate(args.accounts):
        if i:
            print()
        parts = [evaluate(n, seed) for seed in args.seeds]
        report(n, args.seeds, *[[r for p in parts for r in p[k]] for k in range(3)])
    sh = shuffled(args.accounts[0], args.seeds[0])
    print(f"\nShuffled logins ({args.accounts[0]:,} accounts, seed {args.seeds[0]}; account ids and timestamps "
          f"permuted): {sh['shuffled case: communities']} communities, **{sh['flagged rings']} flagged**.")
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
