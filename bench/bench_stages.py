"""Each stage of graphfraud against a minimal implementation of the same computation, in one process.

The minimal versions live in ``bench/minimal.py``. Before a ratio is printed, the two
results are checked equal on what both compute (a mismatch stops the run). The ratio
is graphfraud's seconds over the minimal version's: what validation, rejected-row
accounting, periods, statistics and explanations cost on top of the core work.

    python bench/bench_stages.py                                   # bench/out/case_100000.sqlite
    python bench/bench_stages.py --case bench/out/case_300000.sqlite --repeat 3

Prints a Markdown table: stage, what the minimal version computes, seconds of each,
ratio, and the check made.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import minimal  # noqa: E402

import graphfraud  # noqa: E402
from graphfraud.act.baselines import daily_fail_rate  # noqa: E402
from graphfraud.case.schema import TABLE_NAMES  # noqa: E402
from graphfraud.detect.campaigns import detect_campaigns  # noqa: E402
from graphfraud.graph.activity import entity_activity  # noqa: E402
from graphfraud.rings.pairs import TIME_SCALES, hub_entities, pair_evidence  # noqa: E402


def best_of(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def check(ok: bool, what: str) -> str:
    if not ok:
        sys.exit(f"results differ: {what}")
    return what


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default=str(Path(__file__).resolve().parent / "out" / "case_100000.sqlite"))
    ap.add_argument("--repeat", type=int, default=1, help="runs of each side; the fastest counts")
    args = ap.parse_args()
    rows = []

    def add(stage, yardstick, ours, mine, checked):
        rows.append((stage, yardstick, ours, mine, ours / mine, checked))
        print(f"| {stage} | {yardstick} | {ours:.2f} | {mine:.2f} | **{ours / mine:.1f}x** | {checked} |", flush=True)

    t_ours, case = best_of(lambda: graphfraud.load_case(args.case), args.repeat)
    t_min, tables = best_of(lambda: minimal.load_sqlite(args.case), args.repeat)
    same = all(len(case.table(n)) == tables[n].num_rows for n in TABLE_NAMES)
    same &= np.array_equal(case.logins["event_ts"].to_numpy(), tables["logins"]["event_ts"].to_numpy())
    same &= (case.logins["account_id"].astype(object).to_numpy()
             == tables["logins"]["account_id"].to_pandas().astype(object).to_numpy()).all()
    add("load (SQLite, 6 tables)", "sqlite3 fetchall, Arrow dictionary-encoded text, each distinct timestamp parsed once",
        t_ours, t_min, check(same, "rows per table, login times and account ids identical"))
    del tables

    t_ours, sig = best_of(lambda: graphfraud.account_signals(case), args.repeat)
    t_min, msig = best_of(lambda: minimal.signals(case.logins, case.ip_reputation), args.repeat)
    cols = ["failed_login_rate", "new_country_rate", "tor_login_count", "high_risk_ip_share", "composite"]
    same = (sig["account_id"].tolist() == msig["account_id"].tolist()
            and all(np.allclose(sig[c].to_numpy(dtype=float), msig[c].to_numpy(dtype=float)) for c in cols))
    add("account signals", "bincounts over codes, sort-and-mask for new countries", t_ours, t_min,
        check(same, f"{len(sig):,} accounts, the 4 signals and the composite equal"))

    camp = detect_campaigns(case, None, None, min_victims=10)["ip"].tolist()

    def ours_pairs():
        act = entity_activity(case, exclude_ips=camp)
        return act, pair_evidence(act)

    t_ours, (act, pairs) = best_of(ours_pairs, args.repeat)
    t_min, mpairs = best_of(lambda: minimal.coactive_pairs(case.logins, camp), args.repeat)
    names = np.sort(np.asarray(case.logins["account_id"].cat.categories, dtype=object))
    same, n_pairs = True, 0
    for name, (width, tol) in TIME_SCALES.items():
        got = pairs[pairs[f"coactive_{name}"] > 0]
        ours_set = set(zip(got["account_a"], got["account_b"], got[f"coactive_{name}"].tolist()))
        keys, counts = mpairs[(width, tol)]
        n = np.int64(len(names))
        mine_set = set(zip(names[keys // n], names[keys % n], counts.tolist()))
        same &= ours_set == mine_set
        n_pairs += len(mine_set)
    add("entity activity + pair evidence (4 time scales)",
        "distinct (entity, bin, account) codes, windowed self-join, distinct bin pairs counted per pair",
        t_ours, t_min, check(same, f"every co-active pair and its count at each scale ({n_pairs:,} pair-scales)"))

    t_ours, (pop, hub) = best_of(lambda: (act.popularity(), hub_entities(act)), args.repeat)
    t_min, (mpop, mhub) = best_of(lambda: minimal.hubs(act.entity, act.account, act.n_entities), args.repeat)
    add("popularity + hubs", "distinct (entity, account) codes, bincount", t_ours, t_min,
        check(np.array_equal(pop, mpop) and len(hub) == len(mhub), f"accounts per entity, {len(hub)} hubs"))

    t_ours, daily = best_of(lambda: daily_fail_rate(case), args.repeat)
    t_min, mdaily = best_of(lambda: minimal.daily_fail_rate(case.logins), args.repeat)
    same = (daily["logins"].tolist() == mdaily["logins"].tolist()
            and daily["accounts"].tolist() == mdaily["accounts"].tolist())
    add("baseline: daily fail rate", "pandas groupby on the day", t_ours, t_min,
        check(same, f"{len(daily)} days: logins, fails, distinct accounts"))

    t_ours, rec = best_of(lambda: graphfraud.graph_records(case), args.repeat)
    t_min, medges = best_of(lambda: (minimal.used_edges(case.logins, "ip"), minimal.used_edges(case.logins, "device_id")),
                            args.repeat)
    e = rec.edges
    same = True
    for label, m in zip(("USED_IP", "USED_DEVICE"), medges):
        got = e[e["label"] == label]
        m = m.assign(dst=m["dst"].str.replace("device_id:", "device:", n=1, regex=False))
        same &= (sorted(zip(got["src"], got["dst"], got["logins"].astype(int), got["fails"].astype(int),
                            [0 if t is None else len(t) for t in got["success_us"]]))
                 == sorted(zip(m["src"], m["dst"], m["logins"].tolist(), m["fails"].tolist(),
                               [len(t) for t in m["success_times"]])))
    add("graph records (export)", "account-IP and account-device edges: one sort of codes, reduceat, string ends, success times per edge",
        t_ours, t_min, check(same, f"{int(e['label'].isin(['USED_IP', 'USED_DEVICE']).sum()):,} account-IP/device edges: "
                                   "ends, logins, fails, number of success times"))

    bursts = graphfraud.detect_bursts(case)
    rings = graphfraud.find_rings(case, signals=sig, bursts=bursts)
    flagged = rings.rings[rings.rings["ring_id"].isin(rings.flagged["ring_id"])]
    tmp = Path(tempfile.mkdtemp(prefix="gf_stages_"))
    try:
        def ours_cases():
            shutil.rmtree(tmp / "ours", ignore_errors=True)
            return graphfraud.act.cases.open_ring_cases(case, rings, tmp / "ours", signals=sig, bursts=bursts)

        def mine_cases():
            shutil.rmtree(tmp / "mine", ignore_errors=True)
            return minimal.case_folders(case.logins, flagged, tmp / "mine")

        t_ours, index = best_of(ours_cases, args.repeat)
        t_min, written = best_of(mine_cases, args.repeat)
        same = sorted(index["folder"]) == sorted(p.name for p in (tmp / "mine").iterdir())
        add("case folders", "per flagged ring: its members' logins as CSV, a page with its account-IP edges",
            t_ours, t_min, check(same, f"the same {written} ring folders"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nMeasured {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}; "
          f"`python bench/bench_stages.py {' '.join(sys.argv[1:])}` on {Path(args.case).name} "
          f"({len(case.logins):,} logins)\n")
    print("| stage | minimal version | graphfraud (s) | minimal (s) | ratio | checked equal |")
    print("|---|---|---:|---:|---:|---|")
    for stage, yard, ours, mine, ratio, checked in rows:
        print(f"| {stage} | {yard} | {ours:.2f} | {mine:.2f} | **{ratio:.1f}x** | {checked} |")


if __name__ == "__main__":
    main()
