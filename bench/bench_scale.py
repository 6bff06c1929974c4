"""End-to-end `graphfraud analyze` at several sizes: wall time per stage and peak memory.

Each run is a fresh `graphfraud analyze` process (the command a user types); its stage
times come from its own progress lines and its peak memory from the kernel (the max RSS
of the child, ``resource.getrusage(RUSAGE_CHILDREN)``), so nothing of this script is
counted. Cases come from ``graphfraud generate --seed 1`` and are written once to
``bench/out/case_N.sqlite`` (or give ``--case`` paths).

    python bench/bench_scale.py --accounts 100000 300000 1000000          # --no-cases and full, each size
    python bench/bench_scale.py --accounts 100000 --modes no-cases --repeat 3
    python bench/bench_scale.py --case my_case.sqlite

Prints one Markdown table (stage seconds, wall seconds, peak RSS in GiB, GiB per million
accounts) and writes it to ``bench/out/scale.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
STAGES = ["loading", "account signals", "risky fail", "rings", "money side", "rule proposals", "baseline metrics",
          "payment-outcome tests", "writing", "opening"]
SHORT = ["load", "signals", "bursts", "rings", "money", "rules", "baselines", "payment tests", "writing", "cases"]


def ensure_case(n: int, seed: int = 1) -> Path:
    path = OUT / f"case_{n}.sqlite"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        subprocess.run(["graphfraud", "generate", "--accounts", str(n), "--seed", str(seed), "--out", str(path)],
                       check=True)
    return path


def run_once(args: list[str]) -> tuple[dict, float, float]:
    """One analyze in a child process: stage seconds, wall seconds, and the child's peak RSS (GiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(["graphfraud", "analyze", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"graphfraud analyze {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib < before:  # pragma: no cover - ru_maxrss is a running maximum over all children
        peak_kib = before
    stages = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"\[\d+/\d+\] (.*?) \.\.\. ([\d.]+)s", line)
        if m:
            for key, short in zip(STAGES, SHORT):
                if m.group(1).startswith(key):
                    stages[short] = float(m.group(2))
    return stages, wall, peak_kib / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, nargs="*", default=None, help="generated case sizes (default 100000)")
    ap.add_argument("--case", nargs="*", default=[], help="case files to run instead of generated ones")
    ap.add_argument("--modes", nargs="+", default=["no-cases", "full"], choices=["no-cases", "full"])
    ap.add_argument("--repeat", type=int, default=1, help="runs per size and mode; the fastest is shown")
    args = ap.parse_args()
    sizes = args.accounts if args.accounts is not None else ([] if args.case else [100_000])
    cases = [(n, ensure_case(n)) for n in sizes] + [(None, Path(c)) for c in args.case]
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: each measured run gets its own process tree
    header = ("| case | accounts | mode | " + " | ".join(SHORT) + " | wall (s) | peak RSS (GiB) | GiB per 1M accounts |")
    lines = [f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}; `python bench/bench_scale.py {' '.join(sys.argv[1:])}`", "",
             header, "|" + "---|" * (header.count("|") - 1)]
    for n, path in cases:
        for mode in args.modes:
            best = None
            for _ in range(args.repeat):
                out = Path(tempfile.mkdtemp(prefix="gf_scale_"))
                try:
                    extra = ["--no-cases"] if mode == "no-cases" else []
                    res = _isolated(["--db", str(path), "--out", str(out / "run"), *extra])
                finally:
                    shutil.rmtree(out, ignore_errors=True)
                if best is None or res[1] < best[1]:
                    best = res
            stages, wall, peak = best
            accounts = n if n is not None else _accounts(path)
            row = (f"| {path.name} | {accounts:,} | {mode} | "
                   + " | ".join(f"{stages[s]:.1f}" if s in stages else "–" for s in SHORT)
                   + f" | **{wall:.1f}** | **{peak:.2f}** | {peak / (accounts / 1e6):.2f} |")
            lines.append(row)
            print(row, flush=True)
    text = "\n".join(lines) + "\n"
    OUT.mkdir(exist_ok=True)
    (OUT / "scale.md").write_text(text)
    print("\n" + text)


def _isolated(args: list[str]) -> tuple[dict, float, float]:
    """Run in a fresh grandchild so that this run's peak RSS is not hidden by an earlier, larger run."""
    code = ("import json, sys; sys.path.insert(0, %r); from bench_scale import run_once; "
            "print(json.dumps(run_once(%r)))" % (str(HERE), args))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(proc.stderr[-3000:] or proc.stdout[-3000:])
    import json

    stages, wall, peak = json.loads(proc.stdout.strip().splitlines()[-1])
    return stages, wall, peak


def _accounts(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM users").fetchone()[0])


if __name__ == "__main__":
    main()
