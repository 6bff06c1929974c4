"""The money side at scale: transaction ETL, micro windows and exposure, seconds and peak memory.

Each size runs in a fresh child process (so its peak RSS is its own): it loads the case,
then times ``transactions`` + ``customer_aggregates`` (the ETL), ``micro_windows`` and
``exposure`` (with the coded activity built inside, as ``analyze`` does), and writes the
ETL's Parquet files. Cases come from ``graphfraud generate --seed 1`` (about 10 payments
per account) and are written once to ``bench/out/case_N.sqlite``.

    python bench/bench_money.py --accounts 100000
    python bench/bench_money.py --accounts 100000 1000000
    python bench/bench_money.py --case my_case.sqlite

Prints a Markdown table: payments, seconds per job, the three together (the target is
under 30 s at 100k accounts with ~1M payments), Parquet writing, and peak RSS in GiB.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_scale import ensure_case  # noqa: E402


def _peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def child(path: str) -> dict:
    import graphfraud
    from graphfraud.act.etl import run_etl, write_etl
    from graphfraud.detect.micro import micro_windows
    from graphfraud.detect.transaction_flags import payment_amounts_usd
    from graphfraud.rings.known_bad import exposure

    t0 = time.perf_counter()
    case = graphfraud.load_case(path)
    out = {"load": time.perf_counter() - t0, "payments": len(case.payments), "accounts": len(case.users),
           "load_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    t0 = time.perf_counter()
    etl = run_etl(case)
    out["etl"] = time.perf_counter() - t0
    out["etl_rss_gib"] = _peak()
    t0 = time.perf_counter()
    alerts = micro_windows(case, amounts=payment_amounts_usd(case))
    out["micro"] = time.perf_counter() - t0
    out["micro_rss_gib"] = _peak()
    t0 = time.perf_counter()
    expo = exposure(case)
    out["exposure"] = time.perf_counter() - t0
    out["exposure_rss_gib"] = _peak()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_etl(etl, tmp)
        out["parquet"] = time.perf_counter() - t0
    out.update(alerts=len(alerts), transactions=len(etl.transactions), reached=int(expo["hops"].notna().sum()),
               rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, nargs="*", default=[100000])
    ap.add_argument("--case", type=Path, nargs="*", default=[])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    cases = [ensure_case(n) for n in args.accounts] if not args.case else args.case
    rows = []
    for path in cases:
        proc = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(proc.stderr[-3000:])
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["together"] = r["etl"] + r["micro"] + r["exposure"]
        rows.append((path.name, r))
    print(f"# money side, {time.strftime('%Y-%m-%d')}, {platform.machine()}, python {platform.python_version()}\n")
    print("| case | accounts | payments | load s | ETL s | micro s | exposure s | together s | Parquet s "
          "| alerts | peak RSS GiB: load, +ETL, +micro, +exposure, all |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, r in rows:
        print(f"| {name} | {r['accounts']:,} | {r['payments']:,} | {r['load']:.1f} | {r['etl']:.1f} | "
              f"{r['micro']:.1f} | {r['exposure']:.1f} | {r['together']:.1f} | {r['parquet']:.1f} | "
              f"{r['alerts']:,} | {r['load_rss_gib']:.2f}, {r['etl_rss_gib']:.2f}, {r['micro_rss_gib']:.2f}, "
              f"{r['exposure_rss_gib']:.2f}, {r['rss_gib']:.2f} |")


if __name__ == "__main__":
    main()
