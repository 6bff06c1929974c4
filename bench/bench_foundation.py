"""Foundation benchmark: load, signals, bursts (and the whole analyze run) at 10k, 100k and 1M accounts.

Each size runs in a fresh Python process so its peak memory (max RSS) is its own.
Generated cases are cached under bench/out/ (delete them to regenerate).

    python bench/bench_foundation.py                  # 10k, 100k, 1M and the 5k speed-up
    python bench/bench_foundation.py --sizes 10000    # quicker

Prints a Markdown table; docs/benchmarks.md holds the figures measured on the
project's 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def child(path: str, analyze: bool) -> None:
    """Runs inside the measured process; prints one JSON line."""
    import graphfraud
    from graphfraud.pipeline import analyze as run_analyze

    t = {}
    t0 = time.perf_counter()
    case = graphfraud.load_case(path)
    t["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    signals = graphfraud.account_signals(case)
    t["signals_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    bursts = graphfraud.detect_bursts(case)
    t["bursts_s"] = time.perf_counter() - t0
    t["logins"] = len(case.logins)
    t["accounts_with_signals"] = len(signals)
    t["triggers"] = len(bursts)
    t["peak_after_core_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if analyze:
        del signals, bursts
        t0 = time.perf_counter()
        run_analyze(case, OUT / f"analyze_{Path(path).stem}")
        t["analyze_rest_s"] = time.perf_counter() - t0
    t["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(t))


def ensure_case(n: int, seed: int = 1) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"case_{n}.sqlite"
    if not path.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "graphfraud.cli", "generate", "--accounts", str(n), "--seed", str(seed),
                        "--out", str(path), "--quiet"], check=True, stdout=subprocess.DEVNULL)
        print(f"  generated {n:,} accounts in {time.perf_counter() - t0:.1f}s "
              f"({path.stat().st_size / 2**20:.0f} MiB)", file=sys.stderr)
    return path


def end_to_end(path: Path) -> tuple[float, float]:
    """Wall time and peak RSS of `graphfraud analyze --db path` as a user runs it."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c",
                           "import resource, sys; from graphfraud.cli import main; rc = main(sys.argv[1:]); "
                           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)",
                           "analyze", "--db", str(path), "--out", str(OUT / f"e2e_{path.stem}"), "--quiet"],
                          capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, int(proc.stderr.strip().splitlines()[-1]) / 1024


def speedup(n: int = 5000) -> dict:
    sys.path.insert(0, str(HERE))
    import graphfraud
    from naive import naive_bursts, naive_signals

    case = graphfraud.load_case(ensure_case(n, seed=5))
    t0 = time.perf_counter()
    fast_s = graphfraud.account_signals(case)
    fast_b = graphfraud.detect_bursts(case)
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow_s = naive_signals(case)
    t_slow_signals = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow_b = naive_bursts(case)
    t_slow_bursts = time.perf_counter() - t0
    import pandas as pd

    pd.testing.assert_frame_equal(fast_s.reset_index(drop=True), slow_s, check_dtype=False)
    pd.testing.assert_frame_equal(fast_b, slow_b, check_dtype=False)
    slow = t_slow_signals + t_slow_bursts
    return {"accounts": n, "logins": len(case.logins), "vectorised_s": fast, "loop_signals_s": t_slow_signals,
            "loop_bursts_s": t_slow_bursts, "speedup": slow / fast}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--no-speedup", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--analyze", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.analyze)
        return

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}", file=sys.stderr)
    rows = []
    for n in args.sizes:
        path = ensure_case(n)
        proc = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                              check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        wall, peak = end_to_end(path)
        r.update(accounts=n, e2e_s=wall, e2e_peak_mb=peak)
        rows.append(r)
        print(f"  {n:,}: {r}", file=sys.stderr)

    print("| accounts | logins | load (s) | signals (s) | bursts (s) | peak RSS load+signals+bursts (MiB) "
          "| `graphfraud analyze` end to end (s) | its peak RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['accounts']:,} | {r['logins']:,} | {r['load_s']:.1f} | {r['signals_s']:.2f} | {r['bursts_s']:.2f} "
              f"| {r['peak_after_core_mb']:,.0f} | {r['e2e_s']:.1f} | {r['e2e_peak_mb']:,.0f} |")
    if not args.no_speedup:
        s = speedup()
        print()
        print(f"Speed-up on {s['accounts']:,} accounts ({s['logins']:,} logins), same results checked: "
              f"vectorised signals + bursts {s['vectorised_s']:.2f} s; per-account loop {s['loop_signals_s']:.1f} s "
              f"(signals) + {s['loop_bursts_s']:.1f} s (bursts) = **{s['speedup']:.0f}x** faster.")


if __name__ == "__main__":
    main()
