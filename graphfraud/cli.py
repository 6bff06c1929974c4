"""The ``graphfraud`` command: a thin argparse layer over library calls."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import GraphFraudError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphfraud", description="Find fraud rings and account compromise in a case.")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="signals, burst triggers, baseline metrics, payment tests and a report")
    src = a.add_mutually_exclusive_group()
    src.add_argument("--db", type=Path, help="case as a SQLite file (default: the bundled sample case)")
    src.add_argument("--csv", type=Path, help="case as a folder of CSVs named after the tables")
    a.add_argument("--out", type=Path, default=Path("graphfraud-out"), help="output folder (default ./graphfraud-out)")
    a.add_argument("--window-days", type=float, default=14, help="signal window in days (default 14)")
    a.add_argument("--as-of", default=None, help="end of the window, e.g. '2025-09-30 23:59:59' (default: latest login)")
    a.add_argument("--top-share", type=float, default=0.05, help="share of accounts tested as 'top by composite'")
    a.add_argument("--since", default=None, help="only logins from this time on for bursts, rings and campaigns")
    a.add_argument("--until", default=None, help="only logins up to this time for bursts, rings and campaigns")
    a.add_argument("--ring-method", default="louvain", help="community detection: louvain (default) or components")
    a.add_argument("--resolution", type=float, default=1.0, help="Louvain resolution (default 1.0)")
    a.add_argument("--seed", type=int, default=0, help="seed for community detection (recorded in outputs)")
    a.add_argument("--alert-budget", type=float, default=50, help="daily alert budget for proposed rules")
    a.add_argument("--no-cases", action="store_true", help="do not open a case folder per flagged ring")
    a.add_argument("--graph", default="networkx",
                   help="graph store: networkx (default), gremlite:///path/store.db, ws://host:8182/gremlin or "
                        "wss://<neptune-endpoint>:8182/gremlin")
    a.add_argument("--neptune-iam", action="store_true",
                   help="sign the Gremlin websocket with AWS SigV4 (needs graphfraud[neptune])")
    a.add_argument("--no-graph-load", action="store_true",
                   help="the graph store already holds the case (e.g. bulk-loaded): do not upsert it again")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    c = sub.add_parser("case", help="ring-level case folders")
    csub = c.add_subparsers(dest="case_command", required=True)
    o = csub.add_parser("open", help="write the case folder of one ring, the same folder analyze writes for it")
    o.add_argument("ring_id")
    osrc = o.add_mutually_exclusive_group()
    osrc.add_argument("--db", type=Path, help="case as a SQLite file (default: the bundled sample case)")
    osrc.add_argument("--csv", type=Path, help="case as a folder of CSVs")
    o.add_argument("--out", type=Path, required=True, help="folder to write <ring_id>/ into")
    o.add_argument("--window-days", type=float, default=14, help="signal window in days (default 14), as for analyze")
    o.add_argument("--as-of", default=None, help="end of the signal window (default: end of the analysis period)")
    o.add_argument("--since", default=None, help="start of the analysis period, as given to analyze")
    o.add_argument("--until", default=None, help="end of the analysis period, as given to analyze")
    o.add_argument("--graph", default="networkx", help="graph store the rings are found in, as analyze's --graph")
    o.add_argument("--ring-method", default="louvain")
    o.add_argument("--resolution", type=float, default=1.0)
    o.add_argument("--seed", type=int, default=0)

    x = sub.add_parser("export", help="write the graph for another store")
    xsub = x.add_subparsers(dest="export_format", required=True)
    n = xsub.add_parser("neptune-csv", help="Amazon Neptune Gremlin bulk-load CSV files (see docs/neptune.md)")
    nsrc = n.add_mutually_exclusive_group()
    nsrc.add_argument("--db", type=Path, help="case as a SQLite file (default: the bundled sample case)")
    nsrc.add_argument("--csv", type=Path, help="case as a folder of CSVs")
    n.add_argument("--out", type=Path, required=True, help="folder for the CSV files and manifest.json")
    n.add_argument("--max-mb", type=float, default=100, help="largest file in MiB (default 100)")
    n.add_argument("--since", default=None, help="only logins from this time on")
    n.add_argument("--until", default=None, help="only logins up to this time")
    n.add_argument("-q", "--quiet", action="store_true")

    g = sub.add_parser("generate", help="write a synthetic case (and its ground truth) to a SQLite file")
    g.add_argument("--accounts", type=int, required=True, help="number of accounts")
    g.add_argument("--seed", type=int, default=0, help="random seed (same seed, same case)")
    g.add_argument("--days", type=int, default=60, help="days of activity (default 60)")
    g.add_argument("--out", type=Path, required=True, help="SQLite file to write (replaced if it exists)")
    g.add_argument("-q", "--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"analyze": _analyze, "generate": _generate, "case": _case, "export": _export}[args.command](args)
    except GraphFraudError as exc:
        print(f"graphfraud: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("graphfraud: interrupted", file=sys.stderr)
        return 130


def _analyze(args) -> int:
    from .pipeline import analyze
    from .data import sample_case_path
    from .loaders import load_case
    from .progress import Progress

    from .graph.stores import connect

    path = args.db or args.csv or sample_case_path()
    progress = Progress(total=10 - args.no_cases - args.no_graph_load, quiet=args.quiet)
    t0 = time.perf_counter()
    options = {"neptune_iam": True} if args.neptune_iam else {}
    graph = connect(args.graph, **options)
    with progress.stage(f"loading {path}"):
        case = load_case(path)
    res = analyze(case, args.out, window_days=args.window_days, as_of=args.as_of, top_share=args.top_share,
                  progress=progress, ring_method=args.ring_method, resolution=args.resolution, seed=args.seed,
                  daily_alert_budget=args.alert_budget, open_cases=not args.no_cases, since=args.since,
                  until=args.until, graph=graph, load_graph=not args.no_graph_load)
    graph.close()
    _summary(res, time.perf_counter() - t0)
    return 0


def _summary(res, seconds: float) -> None:
    counts = res.case.row_counts()
    dq = res.case.data_quality()
    lines = [
        "",
        f"graphfraud analyze: {res.case.source}  ({seconds:.1f}s)",
        "  rows used      " + ", ".join(f"{t} {int(r.used):,}" for t, r in counts.iterrows()),
        f"  rejected       {dq['rejected_rows']:,} row(s); {dq['logins_without_reputation']:,} login(s) with no IP reputation",
        f"  window         {res.params['window_start'][:19]} .. {str(res.params['as_of'])[:19]}"
        f"  ({len(res.signals):,} accounts with signals)",
        f"  burst triggers {len(res.bursts)} on {res.bursts['account_id'].nunique()} account(s)",
    ]
    for _, t in res.payment_tests.iterrows():
        p = "n/a" if t["pvalue"] != t["pvalue"] else f"{t['pvalue']:.3g}"
        lines.append(f"  payments       {t['cohort']}: {t['bad_flagged']}/{t['n_flagged']} bad vs "
                     f"{t['bad_rest']}/{t['n_rest']}, {t['method']}, p={p}" + (" (!)" if t["warning"] else ""))
    fl = res.rings.flagged
    lines.append(f"  graph          {res.params['graph']}")
    lines.append(f"  rings          {len(fl)} flagged ({int(fl['size'].sum()) if len(fl) else 0} accounts) of "
                 f"{len(res.rings.summary)} communities; {len(res.rings.campaigns)} campaign IP(s)")
    sel = res.rules[res.rules["selected"]]
    lines.append("  rules          " + "; ".join(f"{r.rule} -> {r.action} ({r.daily_alerts:.1f}/day)"
                                             for r in sel.itertuples()))
    lines.append(f"  outputs        {res.out_dir}/ (report.md, {len(res.files)} files"
                 + (f", cases/ for {len(fl)} ring(s))" if "cases_index" in res.files else ")"))
    print("\n".join(lines))


def _case(args) -> int:
    from .act.cases import open_case
    from .case import resolve_periods
    from .data import sample_case_path
    from .loaders import load_case

    case = load_case(args.db or args.csv or sample_case_path())
    periods = resolve_periods(case, args.since, args.until, args.window_days, args.as_of,
                              names={"since": "--since", "until": "--until", "window_days": "--window-days",
                                     "as_of": "--as-of"})
    folder = open_case(case, args.ring_id, args.out, periods=periods, store=args.graph, method=args.ring_method,
                       resolution=args.resolution, seed=args.seed)
    print(f"case folder: {folder}")
    return 0


def _export(args) -> int:
    from .data import sample_case_path
    from .graph.records import graph_records
    from .loaders import load_case
    from .graph.neptune_csv import export_neptune_csv
    from .progress import Progress

    progress = Progress(total=3, quiet=args.quiet)
    path = args.db or args.csv or sample_case_path()
    with progress.stage(f"loading {path}"):
        case = load_case(path)
    with progress.stage("building the graph records"):
        records = graph_records(case, args.since, args.until)
    with progress.stage(f"writing {args.out}"):
        manifest = export_neptune_csv(records, args.out, max_bytes=int(args.max_mb * 2**20))
    total = sum(f["bytes"] for f in manifest["files"])
    print(f"{len(records.vertices):,} vertices, {len(records.edges):,} edges in {len(manifest['files'])} file(s), "
          f"{total / 2**20:.1f} MiB: {args.out}/ (manifest.json lists them)")
    return 0


def _generate(args) -> int:
    from .progress import Progress
    from .synth import write_case

    progress = Progress(quiet=args.quiet)
    last = [0.0]

    def tick(done: int, total: int) -> None:
        if not args.quiet and time.perf_counter() - last[0] > 2:
            last[0] = time.perf_counter()
            progress.note(f"{done:,}/{total:,} accounts")

    with progress.stage(f"generating {args.accounts:,} accounts (seed {args.seed})"):
        truth = write_case(args.out, args.accounts, seed=args.seed, days=args.days, progress=tick)
    print(f"case:  {args.out}\ntruth: {truth}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
