"""Load time of one case from SQLite, a CSV folder and Parquet folders.

The case is generated once (``graphfraud.synth.write_case``) and exported to CSV and
to three Parquet layouts: text as SQLite stores it, typed (Arrow timestamps and
booleans, as a data lake holds it), and typed with ``logins`` as a folder of part
files. Each load runs in a fresh Python process, so its peak memory (max RSS) is its
own; every format must give the same tables (compared by a hash of each typed table).

    python bench/bench_load.py                          # 100k accounts: /tmp/c100k.sqlite, /tmp/c100k_csv/, ...
    python bench/bench_load.py --accounts 10000 --repeat 3

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

PARTS = 32  # logins part files in the "parts" layout


def child(path: str, fmt: str) -> None:
    """Runs inside the measured process; prints one JSON line."""
    import graphfraud
    from graphfraud.case.schema import TABLE_NAMES

    t0 = time.perf_counter()
    case = graphfraud.load_case(path, format=fmt)
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    digest = {name: _digest(case.table(name)) for name in TABLE_NAMES}
    print(json.dumps({"load_s": seconds, "peak_mb": peak, "logins": len(case.logins),
                      "rejected": len(case.rejected), "digest": digest}))


def _peak_mb() -> float:
    """This process's peak RSS. ru_maxrss would do, but Linux carries it over exec from the
    parent (which held the exported tables), so read the high-water mark of our own memory."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _digest(df) -> str:
    """Order-sensitive hash of a typed table, values compared as text (categoricals by value)."""
    import numpy as np
    import pandas as pd

    h = pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy()
    weights = np.arange(1, len(h) + 1, dtype=np.uint64)
    return f"{int((h * weights).sum()):x}-{len(h)}"  # uint64 arithmetic wraps: fine for a checksum


def ensure_inputs(n: int, seed: int, folder: Path) -> dict[str, tuple[Path, str]]:
    """The case in every layout: name -> (path, format). Existing exports are reused."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from graphfraud.case.schema import TABLE_NAMES, TABLES
    from graphfraud.synth import write_case

    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"c{n // 1000}k"
    db = stem.with_suffix(".sqlite")
    if not db.exists():
        t0 = time.perf_counter()
        write_case(db, n, seed=seed)
        print(f"generated {db} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    dirs = {k: Path(f"{stem}_{k}") for k in ("csv", "parquet_text", "parquet_typed", "parquet_parts")}
    layouts = {"sqlite": (db, "sqlite"), "csv": (dirs["csv"], "csv"),
               "parquet (text)": (dirs["parquet_text"], "parquet"),
               "parquet (typed)": (dirs["parquet_typed"], "parquet"),
               f"parquet (typed, logins in {PARTS} parts)": (dirs["parquet_parts"], "parquet")}
    if all(p.exists() for p, _ in layouts.values()):
        return layouts
    t0 = time.perf_counter()
    for p in dirs.values():
        p.mkdir(exist_ok=True)
    with sqlite3.connect(db) as conn:
        for name in TABLE_NAMES:
            df = pd.read_sql_query(f"SELECT * FROM {name}", conn)
            df.to_csv(dirs["csv"] / f"{name}.csv", index=False)
            pq.write_table(pa.Table.from_pandas(df, preserve_index=False), dirs["parquet_text"] / f"{name}.parquet")
            for col in TABLES[name].columns:
                if col.kind == "ts":
                    df[col.name] = pd.to_datetime(df[col.name], format="ISO8601")
                elif col.kind == "flag":
                    df[col.name] = df[col.name].astype(bool)
            table = pa.Table.from_pandas(df, preserve_index=False)
            pq.write_table(table, dirs["parquet_typed"] / f"{name}.parquet")
            if name == "logins":
                (dirs["parquet_parts"] / name).mkdir(exist_ok=True)
                step = -(-len(table) // PARTS)
                for k in range(PARTS):
                    pq.write_table(table.slice(k * step, step),
                                   dirs["parquet_parts"] / name / f"part-{k:05d}.parquet")
            else:
                pq.write_table(table, dirs["parquet_parts"] / f"{name}.parquet")
    print(f"exported in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return layouts


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=Path("/tmp"), help="where the case and its exports are kept")
    ap.add_argument("--repeat", type=int, default=1, help="loads per layout; the table shows the fastest")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    layouts = ensure_inputs(args.accounts, args.seed, args.dir)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                        os.environ.get("PYTHONPATH")]))}
    runs = {name: [] for name in layouts}
    load_before = os.getloadavg()[0]
    # round robin, so that whatever else runs on the machine slows every layout alike
    for _ in range(args.repeat):
        for name, (path, fmt) in layouts.items():
            proc = subprocess.run([sys.executable, __file__, "--child", str(path), fmt], capture_output=True,
                                  text=True, env=env, check=True)
            runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    rows, digests = [], {}
    for name, (path, _) in layouts.items():
        best = min(runs[name], key=lambda r: r["load_s"])
        digests[name] = best["digest"]
        rows.append((name, size_mb(path), best, [r["load_s"] for r in runs[name]]))
    reference = digests["sqlite"]
    print(f"\n{args.accounts:,} accounts (seed {args.seed}), {rows[0][2]['logins']:,} logins; "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after\n")
    print("| input | size on disk (MiB) | load (s) | all runs (s) | peak RSS (MiB) | same tables as SQLite |")
    print("|---|---:|---:|---|---:|---|")
    for name, mb, best, all_runs in rows:
        same = "yes" if digests[name] == reference else "NO: " + ", ".join(
            t for t in reference if reference[t] != digests[name][t])
        print(f"| {name} | {mb:,.0f} | {best['load_s']:.1f} | {', '.join(f'{s:.1f}' for s in all_runs)} | "
              f"{best['peak_mb']:,.0f} | {same} |")


if __name__ == "__main__":
    main()
