"""Case folders: time and size of ``cases/`` as ``open_ring_cases`` writes it, next to the simplest per-ring code.

    python bench/bench_cases.py                        # 20k accounts (generated once under bench/out/)
    python bench/bench_cases.py --accounts 100000
    python bench/bench_cases.py --db path/to/case.sqlite
    python bench/bench_cases.py --analyze              # also `graphfraud analyze` end to end

Signals, bursts and rings are computed once and not timed. Then both writers run
in this process on the same rings, each building the one ring-scope graph itself:

  open_ring_cases    every per-ring table computed once for all rings and cut by
                     ring in one grouped pass; vis-network written once to
                     cases/_assets/, each graph.html refers to ../_assets/
  baseline           bench/naive.py's naive_ring_cases: each ring filters the whole
                     tables for its members and counts its shared infrastructure
                     from every login of the period; each page inlines vis-network

The bench checks that both wrote the same files (graph.html: the same nodes,
edges and header; only how vis-network is included differs) and prints wall and
CPU seconds, the ratio, and the size of each folder. ``--analyze`` also runs
``graphfraud analyze`` as a user does and reports its wall and CPU time, its
case stage (wall, from the progress lines) and the size of its cases/ folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))


def ensure_case(n: int, seed: int = 1) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"case_{n}.sqlite"
    if not path.exists():
        from graphfraud.synth import write_case

        t0 = time.perf_counter()
        write_case(path, n, seed=seed)
        print(f"  generated {n:,} accounts in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return path


def folder_size(root: Path) -> dict:
    files = [p for p in root.rglob("*") if p.is_file()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files),
            "pages": sum(p.stat().st_size for p in files if p.name == "graph.html"),
            "assets": sum(p.stat().st_size for p in files if "_assets" in p.relative_to(root).parts)}


def _page_parts(page: str) -> tuple:
    """What a page shows, whichever way it carries vis-network: its data and its header bar."""
    return tuple(re.search(pattern, page, re.S).group(1) for pattern in (
        r"var nodes = new vis.DataSet\((.*?)\);\n", r"var edges = new vis.DataSet\((.*?)\);\n",
        r'<div id="bar">(.*?)<div id="net">'))


def differences(a: Path, b: Path, ring_ids) -> list[str]:
    """Files of the ring folders under ``a`` and ``b`` that differ (graph.html by what it shows)."""
    from graphfraud.act.cases import CASE_FILES

    out = []
    for rid in ring_ids:
        for name in CASE_FILES:
            x, y = a / rid / name, b / rid / name
            if name == "graph.html":
                same = _page_parts(x.read_text(encoding="utf-8")) == _page_parts(y.read_text(encoding="utf-8"))
            else:
                same = x.read_bytes() == y.read_bytes()
            if not same:
                out.append(f"{rid}/{name}")
    return out


def timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def analyze_run(path: Path, out: Path) -> dict:
    """`graphfraud analyze` as a user runs it: total wall time, its case stage, and cases/ on disk."""
    shutil.rmtree(out, ignore_errors=True)
    t0, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "graphfraud.cli", "analyze", "--db", str(path), "--out", str(out)],
                          capture_output=True, text=True, check=True)
    wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    stage = re.search(r"opening (\d+) ring case\(s\) \.\.\. ([\d.]+)s", proc.stderr)
    return {"wall_s": wall, "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            "rings": int(stage.group(1)) if stage else 0,
            "cases_stage_s": float(stage.group(2)) if stage else float("nan"), **folder_size(out / "cases")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=20_000, help="size of the generated case (seed 1)")
    ap.add_argument("--db", type=Path, help="a case file to use instead of a generated one")
    ap.add_argument("--analyze", action="store_true", help="also time `graphfraud analyze` end to end")
    args = ap.parse_args()

    import graphfraud
    from graphfraud.act.cases import ASSETS, open_ring_cases
    from graphfraud.case import resolve_periods
    from graphfraud.graph.build import build_graph
    from graphfraud.graph.view import annotate_rings
    from naive import naive_ring_cases

    path = args.db or ensure_case(args.accounts)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; case {path}", file=sys.stderr)
    t0 = time.perf_counter()
    case = graphfraud.load_case(path)
    periods = resolve_periods(case, None, None)
    start, end = periods.analysis.start, periods.analysis.end
    signals = graphfraud.account_signals(case, window_days=periods.window_days, as_of=periods.as_of)
    bursts = graphfraud.detect_bursts(case, since=start, until=end)
    rings = graphfraud.find_rings(case, since=start, until=end, signals=signals, bursts=bursts)
    ring_ids = rings.flagged["ring_id"].tolist()
    print(f"  load, signals, bursts, rings: {time.perf_counter() - t0:.1f}s; {len(ring_ids)} flagged rings",
          file=sys.stderr)

    fast_dir, naive_dir = OUT / f"cases_fast_{path.stem}", OUT / f"cases_baseline_{path.stem}"
    for d in (fast_dir, naive_dir):
        shutil.rmtree(d, ignore_errors=True)
    fast = timed(lambda: open_ring_cases(case, rings, fast_dir, signals, bursts, periods=periods))

    def baseline():
        from graphfraud.act.cases import _near_accounts

        scope = set(rings.rings.loc[rings.rings["ring_id"].isin(ring_ids), "account_id"])
        graph = annotate_rings(build_graph(_near_accounts(case, scope), since=start, until=end, signals=signals,
                                           bursts=bursts), rings)
        naive_ring_cases(case, rings, naive_dir, signals, bursts, periods, graph)

    slow = timed(baseline)
    diff = differences(fast_dir, naive_dir, ring_ids)
    fs, ns = folder_size(fast_dir), folder_size(naive_dir)
    result = {"accounts": case.users["account_id"].nunique(), "logins": len(case.logins), "rings": len(ring_ids),
              "fast_wall_s": fast[0], "fast_cpu_s": fast[1], "baseline_wall_s": slow[0], "baseline_cpu_s": slow[1],
              "fast": fs, "baseline": ns, "differences": diff}
    print(json.dumps(result), file=sys.stderr)

    mb = 1e6
    print(f"{result['accounts']:,} accounts, {result['logins']:,} logins, {len(ring_ids)} flagged rings "
          f"(wall and CPU seconds of writing every ring's folder, graph included)")
    print()
    print("| writer | wall (s) | CPU (s) | cases/ (MB) | of which graph.html (MB) | of which _assets/ (MB) | files |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| open_ring_cases | {fast[0]:.1f} | {fast[1]:.1f} | {fs['bytes'] / mb:.1f} | {fs['pages'] / mb:.1f} "
          f"| {fs['assets'] / mb:.2f} | {fs['files']} |")
    print(f"| baseline (per-ring filters, vis-network in every page) | {slow[0]:.1f} | {slow[1]:.1f} "
          f"| {ns['bytes'] / mb:.1f} | {ns['pages'] / mb:.1f} | {ns['assets'] / mb:.2f} | {ns['files']} |")
    print()
    print(f"open_ring_cases is {slow[1] / fast[1]:.1f}x faster (CPU) and {ns['bytes'] / fs['bytes']:.1f}x smaller; "
          f"vis-network is written once, to {ASSETS}/. Same files: "
          + ("yes" if not diff else f"NO, {len(diff)} differ, e.g. {diff[:3]}"))
    if args.analyze:
        a = analyze_run(path, OUT / f"analyze_cases_{path.stem}")
        print()
        print(f"`graphfraud analyze --db {path.name}`: {a['wall_s']:.1f} s wall, {a['cpu_s']:.1f} s CPU in all; "
              f"opening {a['rings']} ring case(s) {a['cases_stage_s']:.1f} s wall (its progress line); "
              f"cases/ {a['bytes'] / mb:.1f} MB in {a['files']} files "
              f"(graph.html {a['pages'] / mb:.1f} MB, _assets/ {a['assets'] / mb:.2f} MB)")
    if diff:
        sys.exit(1)


if __name__ == "__main__":
    main()
