"""Ring quality against ground truth, next to naive baselines, per ring shape; the ring step's cost; bounded memory.

    python bench/bench_rings.py                                       # 5k accounts, seeds 5 6 7
    python bench/bench_rings.py --accounts 5000 50000 --seeds 1 2     # two sizes, two seeds each
    python bench/bench_rings.py --accounts --bounded 1000000          # bounded candidate generation only
    python bench/bench_rings.py --speed 1000000                       # also time rings on bench_foundation's 1M case

Cases are generated in-process (``graphfraud.synth.generate_case(n, seed=seed)``).

Quality metrics (flagged rings vs true rings of every shape):
  ring recall        share of true rings matched by a flagged ring with Jaccard >= 0.5
  mean best Jaccard  mean over true rings of the best Jaccard with any flagged ring
  member precision   share of accounts in flagged rings that are true ring members
  false rings        flagged rings matching no true ring (Jaccard < 0.5 with all)
  victims in rings   credential-stuffing victims inside flagged rings
Per shape (lockstep, slow, device_farm, tiny, proxy_rotation, carrier_nat): ring recall and mean
best Jaccard over that shape's rings, pooled over seeds. Honest groups (households, family tablets,
MSP clients, travellers sharing a hotel IP) must not be flagged: a group counts as flagged when at
least half of its members, and at least two, are inside one flagged ring.

graphfraud: ``find_rings(case)`` with its defaults; flagged = verdict "fraud ring". Its time and
peak RSS are the ring step's own (VmHWM reset just before it, see :func:`measured`).

Baselines (bench/baselines.py), all on every login's IP and device (SUCCESS and FAIL, no campaign
removal, no hub cap), each flagging every group of 2+ accounts it returns:
  connected components of the account projection (any shared IP or device);
  Louvain (igraph multilevel, seed 0) on the projection weighted by entities shared;
  Louvain on the IDF-weighted projection: weight(a, b) = sum over shared entities e of 1/ln(1 + n_e),
    n_e = accounts that used e;
  FRAUDAR (Hooi et al. 2016): greedy peeling of the account x entity graph, column weights
    1/ln(n_e + 5), k blocks (``--fraudar-k``, default 10), each block's edges deleted before the
    next; reported as found, and with each block cut into the connected components of its edges.

Shuffled case: the same case with its logins' account ids and timestamps permuted independently
(everything else unchanged); whatever is flagged there is a false ring.

--bounded N: the ring stage's candidate generation (``pair_table(entity_activity(case), params)``)
on bench/out/case_N.sqlite (written with seed 1 if absent) and on the same case with its logins
shuffled (``--variants``), once per ``--budgets`` value, both for the budgeted step alone
(``cooccurrences`` at the 4 time scales) and for the whole ``pair_table``: row pairs, passes, pairs,
seconds, peak RSS. ``--max-memory-gib`` caps the address space so a run too big fails with
MemoryError instead of pushing the machine into swap or the OOM killer.
--shuffled-rings N: ``find_rings`` on a generated N-account case, as generated and shuffled, per budget.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import json
import resource
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

import baselines

HERE = Path(__file__).resolve().parent

GRAPHFRAUD = "graphfraud (null model + verdict)"
#: baselines run on :func:`baselines.incidence` (every login's IP and device); FRAUDAR is added in evaluate()
BASELINES = {
    "connected components, shared IP/device": baselines.components,
    "Louvain, projection weighted by entities shared": partial(baselines.louvain_projection, weighting="count"),
    "Louvain, IDF-weighted projection": partial(baselines.louvain_projection, weighting="idf"),
}
#: baselines that build the account projection, and the most pairs (sum over entities of n_e choose 2) they may build
PROJECTED = {"Louvain, projection weighted by entities shared", "Louvain, IDF-weighted projection"}
MAX_PROJECTION_PAIRS = 50_000_000


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


class _Measured(dict):
    """Seconds, RSS before and peak RSS while the block ran (MiB), filled in on exit."""


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _trim() -> None:
    """Give freed heap back to the OS (glibc), so that a step cannot hide its peak in memory freed before it."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextmanager
def measured():
    """Time a block and take its peak RSS: the kernel's high-water mark (VmHWM), reset on entry.

    Writing 5 to /proc/self/clear_refs resets VmHWM to the current RSS (Linux 4.0+), so the peak is the
    block's own, on top of what the process already held (``rss_before_mib``, after handing freed heap
    back to the OS with ``malloc_trim``: memory freed but kept by the allocator would otherwise be
    reused by the block without raising the RSS, hiding part of its peak). Where the reset is
    refused, the peak is the process's since its start (``peak_is_process``).
    """
    gc.collect()
    _trim()
    m = _Measured(rss_before_mib=_status_mib("VmRSS"))
    try:
        Path("/proc/self/clear_refs").write_text("5")
        m["peak_is_process"] = False
    except OSError:
        m["peak_is_process"] = True
    t0 = time.perf_counter()
    yield m
    m["seconds"] = time.perf_counter() - t0
    m["peak_mib"] = _status_mib("VmHWM")


def shuffle_logins(case, seed: int):
    """The case with its logins' account ids and timestamps permuted independently (all else unchanged).

    Any real coordination is destroyed; what stays is each IP's and device's login volume and the
    case's daily rhythm. Whatever is flagged here is a false ring.
    """
    rng = np.random.default_rng(seed)
    lg = case.logins
    acct, ts = lg["account_id"].array, lg["event_ts"].to_numpy()
    out = lg.assign(account_id=acct.take(rng.permutation(len(lg))), event_ts=ts[rng.permutation(len(lg))])
    return dataclasses.replace(case, logins=out)


@contextmanager
def budget(rows: int):
    """Run the ring stage with co-occurrence budget ``rows`` (a bench-only patch; the library's default is 20M)."""
    from graphfraud.rings import find, hubs, pairs

    with mock.patch.object(find, "pair_evidence", partial(pairs.pair_evidence, budget=rows)), \
            mock.patch.object(find, "hub_spike_evidence", partial(hubs.hub_spike_evidence, budget=rows)):
        yield


def _rings_run(case) -> dict:
    import graphfraud

    with measured() as m:
        res = graphfraud.find_rings(case)
    p = res.params
    return {**m, "communities": len(res.summary), "flagged": int(res.summary["flagged"].sum()) if len(res.summary)
            else 0, "candidate_pairs": p["candidate_pairs"], "row_pairs": p["row_pairs"], "passes": p["passes"],
            "logins": len(case.logins), "result": res}


def evaluate(n: int, seed: int, fraudar_k: int) -> dict:
    """Quality rows (overall, per shape, honest groups), the ring step's cost, and the shuffled case's flags."""
    from graphfraud import synth

    s = synth.generate_case(n, seed=seed)
    truth = [set(g) for _, g in s.truth.rings.groupby("ring_id")["account_id"]]
    victims = set(s.truth.accounts.query("stuffing_victim == 1")["account_id"])
    gf = _rings_run(s.case)
    res = gf.pop("result")
    methods = {GRAPHFRAUD: ([set(res.members(r)) for r in res.flagged["ring_id"]], gf["seconds"])}
    shuffled_case = shuffle_logins(s.case, seed)
    sh = _rings_run(shuffled_case)
    sh.pop("result")
    shuffled_flags = {GRAPHFRAUD: sh["flagged"]}
    # the baselines see every login's IP and device, as a naive analyst query would (no campaign removal, no hub cap)
    for which, case in (("case", s.case), ("shuffled", shuffled_case)):
        t0 = time.perf_counter()
        inc = baselines.incidence(case.logins)
        t_inc = time.perf_counter() - t0
        pop = inc.popularity().astype(np.int64)
        projected = int((pop * (pop - 1) // 2).sum())
        for name, fn in BASELINES.items():
            if name in PROJECTED and projected > MAX_PROJECTION_PAIRS:
                # shuffling spreads a hub's logins over thousands of accounts: a projection of 10^8+ pairs
                # does not fit in memory (the OOM killer took a 50k run at 20 GiB)
                found, secs = None, float("nan")
                if which == "case":
                    raise RuntimeError(f"{name}: {projected:,} projected pairs, over {MAX_PROJECTION_PAIRS:,}")
                shuffled_flags[name] = f"skipped ({projected:,} projected pairs)"
                continue
            t0 = time.perf_counter()
            found = fn(inc)
            secs = t_inc + time.perf_counter() - t0
            if which == "case":
                methods[name] = (found, secs)
            else:
                shuffled_flags[name] = len(found)
        if which == "case":
            t0 = time.perf_counter()
            blocks = baselines.fraudar_blocks(inc, fraudar_k)
            secs = t_inc + time.perf_counter() - t0
            methods[f"FRAUDAR, {fraudar_k} blocks"] = (baselines.fraudar(inc, fraudar_k, blocks=blocks), secs)
            methods[f"FRAUDAR, {fraudar_k} blocks split into components"] = (
                baselines.fraudar(inc, fraudar_k, split=True, blocks=blocks), secs)
    rows, shape_rows, honest_rows = [], [], []
    for method, (found, secs) in methods.items():
        key = {"method": method, "accounts": n, "seed": seed}
        rows.append({**key, **quality(found, truth, victims), "seconds": secs})
        shapes, kinds = per_shape(found, s.truth.rings, s.truth.honest_groups)
        shape_rows += [{**key, **r} for r in shapes]
        honest_rows += [{**key, **r} for r in kinds]
    return {"rows": rows, "shapes": shape_rows, "honest": honest_rows, "ring_step": {"seed": seed, **gf},
            "shuffled": {"seed": seed, **sh}, "shuffled_flags": {"seed": seed, **shuffled_flags}}


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


def report(n: int, seeds: list[int], parts: list[dict]) -> None:
    rows = [r for p in parts for r in p["rows"]]
    df = pd.DataFrame(rows)
    mean = df.groupby("method", sort=False).mean(numeric_only=True).drop(columns=["seed", "accounts"])
    print(f"## Ring quality on {n:,} generated accounts, mean over seeds {seeds}\n")
    print("| method | flagged rings | ring recall | mean best Jaccard | member precision | false rings "
          "| victims in rings | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for m, r in mean.iterrows():
        print(f"| {m} | {r['flagged rings']:.1f} | {r['ring recall']:.2f} | {r['mean best Jaccard']:.2f} | "
              f"{r['member precision']:.2f} | {r['false rings']:.1f} | {r['victims in rings']:.1f} | "
              f"{r['seconds']:.1f} |")

    sh = pd.DataFrame([r for p in parts for r in p["shapes"]])
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

    hg = pd.DataFrame([r for p in parts for r in p["honest"]]).groupby(["method", "kind"], sort=False)[
        ["groups", "flagged"]].sum()
    kinds = [k for k in HONEST_KINDS if k in {k for _, k in hg.index}]
    print(f"\n### Honest groups flagged and stuffing victims in flagged rings ({n:,} accounts, summed over seeds "
          f"{seeds}): flagged / groups\n")
    print("| method | " + " | ".join(kinds) + " | victims in rings |")
    print("|---|" + "---:|" * (len(kinds) + 1))
    victims = df.groupby("method", sort=False)["victims in rings"].sum()
    for m in dict.fromkeys(df["method"]):
        cells = [f"{int(hg.loc[(m, k), 'flagged'])} / {int(hg.loc[(m, k), 'groups'])}" for k in kinds]
        print(f"| {m} | " + " | ".join(cells) + f" | {int(victims[m])} |")

    print(f"\n### graphfraud's ring step (`find_rings`), {n:,} accounts, per seed; and the same case with logins "
          "shuffled\n")
    print("| seed | logins | seconds | RSS before (MiB) | peak RSS during (MiB) | row pairs | passes "
          "| candidate pairs | flagged | shuffled: seconds | shuffled: peak RSS (MiB) | shuffled: candidate pairs "
          "| shuffled: communities | shuffled: **flagged** |")
    print("|---:|" + "---:|" * 13)
    for p in parts:
        r, x = p["ring_step"], p["shuffled"]
        star = " (process peak)" if r["peak_is_process"] else ""
        print(f"| {r['seed']} | {r['logins']:,} | {r['seconds']:.1f} | {r['rss_before_mib']:,.0f} | "
              f"{r['peak_mib']:,.0f}{star} | {r['row_pairs']:,} | {r['passes']} | {r['candidate_pairs']:,} | "
              f"{r['flagged']} | {x['seconds']:.1f} | {x['peak_mib']:,.0f} | {x['candidate_pairs']:,} | "
              f"{x['communities']} | **{x['flagged']}** |")

    flags = pd.DataFrame([p["shuffled_flags"] for p in parts]).set_index("seed")
    print(f"\nShuffled logins ({n:,} accounts; account ids and timestamps permuted independently), rings flagged "
          "per seed: " + "; ".join(f"{m}: " + ", ".join(f"seed {s} {v}" for s, v in flags[m].items())
                                  for m in flags.columns)
          + ". (FRAUDAR reports its k blocks on any input, so it is not run here.)")


def _case_file(n: int, seed: int = 1) -> Path:
    """``bench/out/case_<n>.sqlite`` (seed 1, as bench_foundation.py writes it), written here if absent."""
    from graphfraud import synth

    path = HERE / "out" / f"case_{n}.sqlite"
    if path.exists():
        return path
    tmp = HERE / "out" / ".writing" / path.name
    tmp.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    truth = synth.write_case(tmp, n, seed=seed)
    # renamed only once complete, so an interrupted write is never mistaken for a case
    truth.rename(path.parent / truth.name)
    tmp.rename(path)
    print(f"(wrote {path.name} in {time.perf_counter() - t0:.0f} s)", flush=True)
    return path


def _cooccurrence_step(act, b: int) -> dict:
    """The budgeted step alone: ``cooccurrences`` at every time scale on non-hub rows, as pair_evidence calls it."""
    from graphfraud.rings import TIME_SCALES
    from graphfraud.rings.cooccur import cooccurrences, run_starts

    keep = act.popularity()[act.entity] <= 100
    ent, acct, ts = act.entity[keep], act.account[keep], act.ts[keep]
    out = {"row_pairs": 0, "passes": 0, "cooccurrences": 0}
    with measured() as m:
        for width, tol in TIME_SCALES.values():
            bins = ts // width
            first = run_starts(ent, acct, bins)  # activity is sorted by entity, account, time
            co = cooccurrences(ent[first].astype(np.int64), acct[first].astype(np.int64), bins[first], tol,
                               act.n_accounts, b)
            out["row_pairs"] += co.total_row_pairs
            out["passes"] = max(out["passes"], co.passes)
            out["cooccurrences"] += len(co.a)
            del co, bins, first
    return {**out, **m}


def bounded(n: int, budgets: list[int], variants: list[str], seed: int = 1) -> None:
    """The ring stage's candidate generation on a large case, as generated and with its logins shuffled, per budget."""
    import graphfraud
    from graphfraud.graph.activity import entity_activity
    from graphfraud.rings import pair_table

    path = _case_file(n, seed)
    with measured() as m:
        case = graphfraud.load_case(path)
    print(f"## Bounded candidate generation, {n:,} accounts ({path.name}, {len(case.logins):,} logins)\n")
    print(f"load_case: {m['seconds']:.0f} s, peak RSS {m['peak_mib']:,.0f} MiB", flush=True)
    acts = {}
    for label in variants:
        c = shuffle_logins(case, seed) if label == "shuffled" else case
        with measured() as m:
            acts[label] = entity_activity(c)
        print(f"entity_activity ({label}): {len(acts[label]):,} rows, {m['seconds']:.0f} s, "
              f"peak RSS {m['peak_mib']:,.0f} MiB", flush=True)
        del c
    del case
    print("\nPer budget (co-occurring row pairs held at once; the library's default is 20M): the budgeted step alone "
          "(`cooccurrences` at the 4 time scales), then the whole `pair_table(entity_activity(case), params)` "
          "(max_entity_accounts=100, hub_spike_pvalue=1e-4)\n")
    print("| case | step | budget | row pairs | passes | pairs out | same pairs as first budget | seconds "
          "| RSS before (MiB) | peak RSS during (MiB) | peak - before (MiB) |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|", flush=True)

    def row(label, step, b, rp, passes, out, same, m):
        print(f"| {label} | {step} | {b:,} | {rp:,} | {passes} | {out:,} | {same} | {m['seconds']:.0f} | "
              f"{m['rss_before_mib']:,.0f} | {m['peak_mib']:,.0f} | {m['peak_mib'] - m['rss_before_mib']:,.0f} |",
              flush=True)

    params = {"max_entity_accounts": 100, "hub_spike_pvalue": 1e-4}
    for label, act in acts.items():
        for b in budgets:
            r = _cooccurrence_step(act, b)
            row(label, "cooccurrences", b, r["row_pairs"], r["passes"], r["cooccurrences"], "", r)
        ref = None
        for b in budgets:
            t0 = time.perf_counter()
            try:
                with budget(b), measured() as m:
                    table, _, info = pair_table(act, params)
            except MemoryError:
                print(f"| {label} | pair_table | {b:,} | | | | **MemoryError** under the "
                      f"{resource.getrlimit(resource.RLIMIT_AS)[0] / 2**30:.0f} GiB address-space cap | "
                      f"{time.perf_counter() - t0:.0f} | | | |", flush=True)
                continue
            key = (table["a"].to_numpy(), table["b"].to_numpy(), table["pvalue"].to_numpy())
            same = "(reference)" if ref is None else (
                "yes" if all(np.array_equal(x, y) for x, y in zip(key, ref)) else "**no**")
            ref = ref or key
            row(label, "pair_table", b, info["row_pairs"], info["passes"], len(table), same, m)
            del table, key
        del ref
    acts.clear()


def shuffled_rings(n: int, budgets: list[int], seed: int = 1) -> None:
    """``find_rings`` on a generated case, as generated and with its logins shuffled, per budget."""
    from graphfraud import synth

    s = synth.generate_case(n, seed=seed)
    print(f"\n`find_rings` on {n:,} generated accounts (seed {seed}), as generated and with logins shuffled\n")
    print("| case | budget | row pairs | passes | candidate pairs | seconds | RSS before (MiB) | peak RSS during (MiB) "
          "| communities | flagged |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    for label, c in (("as generated", s.case), ("logins shuffled", shuffle_logins(s.case, seed))):
        for b in budgets:
            with budget(b):
                r = _rings_run(c)
            print(f"| {label} | {b:,} | {r['row_pairs']:,} | {r['passes']} | {r['candidate_pairs']:,} | "
                  f"{r['seconds']:.1f} | {r['rss_before_mib']:,.0f} | {r['peak_mib']:,.0f} | {r['communities']} | "
                  f"{r['flagged']} |", flush=True)
            del r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, nargs="*", default=[5000], help="case sizes to measure quality on")
    ap.add_argument("--seeds", type=int, nargs="+", default=[5, 6, 7], help="generator seeds, one case each")
    ap.add_argument("--fraudar-k", type=int, default=10, help="FRAUDAR blocks to find per case")
    ap.add_argument("--speed", type=int, nargs="*", default=[],
                    help="case sizes to time rings on (cases from bench_foundation)")
    ap.add_argument("--bounded", type=int, nargs="*", default=[],
                    help="case sizes for the bounded candidate-generation check (written to bench/out if absent)")
    ap.add_argument("--budgets", type=int, nargs="+", default=[20_000_000, 2_000_000],
                    help="co-occurrence budgets for --bounded (the first is the reference)")
    ap.add_argument("--variants", nargs="+", default=["generated", "shuffled"], choices=["generated", "shuffled"],
                    help="--bounded on the case as generated and/or with its logins shuffled")
    ap.add_argument("--shuffled-rings", type=int, nargs="*", default=[],
                    help="case sizes for find_rings as generated and shuffled, per --budgets")
    ap.add_argument("--max-memory-gib", type=float,
                    help="address-space cap (RLIMIT_AS) so that a run too big for the machine fails with MemoryError")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        speed_child(args.child)
        return
    for i, n in enumerate(args.accounts):
        if i:
            print()
        parts = [evaluate(n, seed, args.fraudar_k) for seed in args.seeds]
        report(n, args.seeds, parts)
        sys.stdout.flush()
    if args.max_memory_gib:
        cap = int(args.max_memory_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    for n in args.bounded:
        print()
        bounded(n, args.budgets, args.variants)
    for n in args.shuffled_rings:
        shuffled_rings(n, args.budgets)
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
