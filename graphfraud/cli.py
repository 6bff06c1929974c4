"""The ``graphfraud`` command: a thin argparse layer over library calls.

Every failure ends in one message on stderr and exit code 2 (bad input or
arguments) or 1 (anything unexpected, with the traceback only under
``GRAPHFRAUD_DEBUG=1``): no traceback reaches a user.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from .cli_realtime import COMMANDS as REALTIME_COMMANDS
from .cli_realtime import add_parsers as add_realtime_parsers
from .errors import GraphFraudError

__all__ = ["main"]

_FMT = argparse.ArgumentDefaultsHelpFormatter
# argument name in the library -> the flag a user typed, so errors name the flag
_FLAGS = {"since": "--since", "until": "--until", "as_of": "--as-of", "window_days": "--window-days",
          "seed": "--seed", "top_share": "--top-share", "daily_alert_budget": "--alert-budget",
          "allow_rejected": "--allow-rejected"}


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return v


def _share(text: str) -> float:
    v = _positive(text)
    if v > 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= v < 2**32:
        raise argparse.ArgumentTypeError(f"must be from 0 to 4294967295, got {text!r}")
    return v


def _at_least(low: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {text!r}")
        return v
    return parse


def _timestamp(text: str) -> str:
    from .case.period import parse_time

    try:
        parse_time(text, "value")
    except GraphFraudError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None
    return text


def _source(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--db", type=Path, help="case as a SQLite file (default: the bundled sample case)")
    src.add_argument("--csv", type=Path, help="case as a folder of CSVs named after the tables")
    src.add_argument("--parquet", type=Path,
                     help="case as a folder of Parquet files (or folders of part files) named after the tables")


def _periods(p: argparse.ArgumentParser, window: bool = True) -> None:
    p.add_argument("--since", type=_timestamp, default=None,
                   help="start of the analysis period (bursts, campaigns, rings, rule alerts); default: first login")
    p.add_argument("--until", type=_timestamp, default=None,
                   help="end of the analysis period; default: last login")
    if window:
        p.add_argument("--window-days", type=_positive, default=14, help="length of the signal window in days")
        p.add_argument("--as-of", type=_timestamp, default=None,
                       help="end of the signal window, e.g. '2025-09-30 23:59:59'; default: end of the analysis period")


class _Parser(argparse.ArgumentParser):
    """argparse, with a hint when a case path is given without its flag."""

    def error(self, message):
        if message.startswith("unrecognized arguments:"):
            extra = message.split(":", 1)[1].split()
            if any(Path(x).exists() for x in extra):
                message += " (give a case with --db FILE, --csv DIR or --parquet DIR)"
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(prog="graphfraud", formatter_class=_FMT,
                description="Find fraud rings and account compromise in a case.")
    p.add_argument("--version", action="version", version=f"graphfraud {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", formatter_class=_FMT,
                       help="signals, burst triggers, rings, rules, baseline metrics, payment tests and a report")
    _source(a)
    a.add_argument("--out", type=Path, default=Path("graphfraud-out"), help="output folder")
    _periods(a)
    a.add_argument("--top-share", type=_share, default=0.05, help="share of accounts tested as 'top by composite'")
    a.add_argument("--ring-method", default="louvain", choices=["louvain", "components"], help="community detection")
    a.add_argument("--resolution", type=_positive, default=1.0, help="Louvain resolution")
    a.add_argument("--seed", type=_seed, default=0, help="seed for community detection (recorded in outputs)")
    a.add_argument("--alert-budget", type=_positive, default=50, help="daily alert budget for proposed rules")
    a.add_argument("--no-cases", action="store_true", help="do not open a case folder per flagged ring")
    a.add_argument("--graph", default=None,
                   help="find the rings in a graph store: networkx, gremlite:///path/store.db, "
                        "ws://host:8182/gremlin or wss://<neptune-endpoint>:8182/gremlin (default: none, rings "
                        "scored in memory from the coded logins; every store gives the same rings)")
    a.add_argument("--neptune-iam", action="store_true",
                   help="sign the Gremlin websocket with AWS SigV4 (needs graphfraud[neptune])")
    a.add_argument("--no-graph-load", action="store_true",
                   help="the graph store already holds the case (e.g. bulk-loaded): do not upsert it again")
    a.add_argument("--no-payment-evidence", action="store_true",
                   help="rings from logins only: leave out the IPs and devices the payments were made from")
    a.add_argument("--allow-rejected", action="store_true",
                   help="continue even when most rows of a table were rejected (the report warns)")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    c = sub.add_parser("case", formatter_class=_FMT, help="ring-level case folders")
    csub = c.add_subparsers(dest="case_command", required=True)
    o = csub.add_parser("open", formatter_class=_FMT,
                        help="write the case folder of one ring, the same folder analyze writes for it")
    o.add_argument("ring_id", help="the ring's id, as in rings.csv (ring-...)")
    _source(o)
    o.add_argument("--out", type=Path, required=True, help="folder to write <ring_id>/ (and _assets/, vis-network for its graph.html) into")
    _periods(o)
    o.add_argument("--graph", default=None, help="graph store the rings are found in, as analyze's --graph")
    o.add_argument("--ring-method", default="louvain", choices=["louvain", "components"], help="community detection")
    o.add_argument("--resolution", type=_positive, default=1.0, help="Louvain resolution")
    o.add_argument("--seed", type=_seed, default=0, help="seed for community detection")
    o.add_argument("--no-payment-evidence", action="store_true",
                   help="rings from logins only, as analyze --no-payment-evidence")

    x = sub.add_parser("export", formatter_class=_FMT, help="write the graph for another store")
    xsub = x.add_subparsers(dest="export_format", required=True)
    n = xsub.add_parser("neptune-csv", formatter_class=_FMT,
                        help="Amazon Neptune Gremlin bulk-load CSV files (see docs/neptune.md)")
    _source(n)
    n.add_argument("--out", type=Path, required=True, help="folder for the CSV files and manifest.json")
    n.add_argument("--max-mb", type=_positive, default=100, help="largest file in MiB")
    _periods(n, window=False)
    n.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    e = sub.add_parser("etl", formatter_class=_FMT,
                       help="transaction ETL: USD amounts, flags, risk tiers and customer aggregates for a data lake")
    _source(e)
    e.add_argument("--out", type=Path, required=True, help="output folder")
    e.add_argument("--format", default="parquet", choices=["parquet", "csv"],
                   help="parquet: one folder per table, transactions partitioned by day (Athena, DuckDB, pyarrow)")
    e.add_argument("--high-amount", type=_positive, default=5000, help="USD above which a payment is high_amount")
    e.add_argument("--history-days", type=_positive, default=30, help="days of the account's own history")
    e.add_argument("--history-multiple", type=_positive, default=5,
                   help="above_history: amount above this multiple of the account's mean")
    e.add_argument("--rapid-seconds", type=_positive, default=60,
                   help="rapid_succession: another payment by the account within this many seconds")
    e.add_argument("--allow-rejected", action="store_true",
                   help="continue even when most rows of a table were rejected")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    g = sub.add_parser("generate", formatter_class=_FMT,
                       help="write a synthetic case (and its ground truth) to a SQLite file")
    g.add_argument("--accounts", type=_at_least(50), required=True, help="number of accounts")
    g.add_argument("--seed", type=_seed, default=0, help="random seed (same seed, same case)")
    g.add_argument("--days", type=_at_least(21), default=60, help="days of activity")
    g.add_argument("--out", type=Path, required=True, help="SQLite file to write (replaced if it exists)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add_realtime_parsers(sub, _FMT)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"analyze": _analyze, "generate": _generate, "case": _case, "export": _export,
                "etl": _etl, **REALTIME_COMMANDS}[args.command](args)
    except GraphFraudError as exc:
        print(f"graphfraud: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("graphfraud: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"graphfraud: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: say so plainly, the traceback only on request
        if os.environ.get("GRAPHFRAUD_DEBUG"):
            raise
        print(f"graphfraud: internal error: {type(exc).__name__}: {exc}\n"
              "  This is a bug in graphfraud, not in your data. Run again with GRAPHFRAUD_DEBUG=1 for the "
              "traceback and report it.", file=sys.stderr)
        return 1


def _check_before_loading(args) -> None:
    """What can be checked without the case: an empty period, an unwritable --out (before minutes of work)."""
    from .act.output import check_writable
    from .case.period import parse_time

    since, until = parse_time(args.since, "--since"), parse_time(args.until, "--until")
    if since is not None and until is not None and since > until:
        raise GraphFraudError(f"--since ({since}) is later than --until ({until}): the analysis period is empty")
    for flag in ("no_graph_load", "neptune_iam"):
        if getattr(args, flag, False) and getattr(args, "graph", None) is None:
            raise GraphFraudError(f"--{flag.replace('_', '-')} applies to a graph store: add --graph "
                                  "(e.g. --graph wss://<neptune-endpoint>:8182/gremlin)")
    check_writable(args.out)


def _input(args) -> tuple[Path, str]:
    """The case path and its format, as the flag named it (the format is checked, not guessed)."""
    from .data import sample_case_path

    for fmt, path in (("sqlite", args.db), ("csv", args.csv), ("parquet", args.parquet)):
        if path is not None:
            return path, fmt
    return sample_case_path(), "sqlite"


def _analyze(args) -> int:
    from .graph.stores import connect
    from .loaders import load_case
    from .pipeline import analyze
    from .progress import Progress

    _check_before_loading(args)
    path, fmt = _input(args)
    loads_graph = args.graph is not None and not args.no_graph_load
    progress = Progress(total=9 - args.no_cases + loads_graph, quiet=args.quiet)
    t0 = time.perf_counter()
    options = {"neptune_iam": True} if args.neptune_iam else {}
    graph = connect(args.graph, **options) if args.graph is not None else None
    try:
        with progress.stage(f"loading {path}"):
            case = load_case(path, format=fmt)
        from .act.money import has_money_side

        progress.total += has_money_side(case)  # one more stage: transactions, micro windows, exposure
        res = analyze(case, args.out, window_days=args.window_days, as_of=args.as_of, top_share=args.top_share,
                      progress=progress, ring_method=args.ring_method, resolution=args.resolution, seed=args.seed,
                      daily_alert_budget=args.alert_budget, open_cases=not args.no_cases, since=args.since,
                      until=args.until, graph=graph, load_graph=not args.no_graph_load, names=_FLAGS,
                      allow_rejected=args.allow_rejected, payment_evidence=not args.no_payment_evidence)
    finally:
        if graph is not None:
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
        f"  period         {res.periods.analysis.label()}: bursts, campaigns, rings",
        f"  signal window  {res.periods.signal_window.label()}: {len(res.signals):,} accounts with signals, rule alerts",
        f"  burst triggers {len(res.bursts):,} on {res.bursts['account_id'].nunique():,} account(s)",
    ]
    for _, t in res.payment_tests.iterrows():
        p = "p n/a" if t["pvalue"] != t["pvalue"] else "p<1e-300" if t["pvalue"] < 1e-300 else f"p={t['pvalue']:.3g}"
        lines.append(f"  payments       {t['cohort']}: {t['bad_flagged']:,}/{t['n_flagged']:,} bad vs "
                     f"{t['bad_rest']:,}/{t['n_rest']:,}, {t['method']}, {p}" + (" (!)" if t["warning"] else ""))
    if res.payment_tests["warning"].astype(bool).any():
        lines.append("                 (!) read with care: the reason is in payment_tests.csv (warning) and the report")
    fl = res.rings.flagged
    evidence = "logins and payments" if res.params["rings"].get("payment_evidence") else "logins"
    lines.append(f"  graph          {res.params['graph'] or f'none: rings scored in memory from the coded {evidence}'}")
    lines.append(f"  rings          {len(fl):,} flagged ({int(fl['size'].sum()) if len(fl) else 0:,} accounts) of "
                 f"{len(res.rings.summary):,} communities; {len(res.rings.campaigns):,} campaign IP(s)")
    if res.money is not None:
        m, tx = res.money, res.money.transactions
        reached = int((m.exposure["hops"].fillna(0) > 0).sum())
        lines.append(f"  money side     {len(tx):,} payments ({int((tx['risk_tier'] == 'HIGH').sum()):,} HIGH, "
                     f"{int((tx['risk_tier'] == 'MEDIUM').sum()):,} MEDIUM; {len(m.rejected):,} not converted); "
                     f"{len(m.micro_alerts):,} micro-window spike(s); {reached:,} account(s) with a path to "
                     f"{len(m.seeds):,} known-bad seed(s)")
    sel = res.rules[res.rules["selected"]]
    lines.append("  rules          " + ("; ".join(f"{r.rule} -> {r.action} ({r.daily_alerts:.1f}/day)"
                                              for r in sel.itertuples()) or "none within the alert budget"))
    for w in res.warnings:
        lines.append(f"  warning        {w}")
    lines.append(f"  outputs        {res.out_dir}/ (report.md, {len(res.files)} files"
                 + (f", cases/ for {len(fl)} ring(s))" if "cases_index" in res.files else ")"))
    print("\n".join(lines))


def _case(args) -> int:
    from .act.cases import open_case
    from .case import resolve_periods
    from .loaders import load_case

    _check_before_loading(args)
    path, fmt = _input(args)
    case = load_case(path, format=fmt)
    periods = resolve_periods(case, args.since, args.until, args.window_days, args.as_of, names=_FLAGS)
    folder = open_case(case, args.ring_id, args.out, periods=periods, store=args.graph, method=args.ring_method,
                       resolution=args.resolution, seed=args.seed, payments=not args.no_payment_evidence)
    print(f"case folder: {folder}")
    return 0


def _load_three_stage(args):
    """Check ``--out``, then load the case as the first of three progress stages (export, etl)."""
    from .act.output import check_writable
    from .loaders import load_case
    from .progress import Progress

    check_writable(args.out)
    progress = Progress(total=3, quiet=args.quiet)
    path, fmt = _input(args)
    with progress.stage(f"loading {path}"):
        return load_case(path, format=fmt), progress


def _export(args) -> int:
    from .graph.neptune_csv import export_neptune_csv
    from .graph.records import graph_records

    case, progress = _load_three_stage(args)
    with progress.stage("building the graph records"):
        records = graph_records(case, args.since, args.until)
    with progress.stage(f"writing {args.out}"):
        manifest = export_neptune_csv(records, args.out, max_bytes=int(args.max_mb * 2**20))
    total = sum(f["bytes"] for f in manifest["files"])
    print(f"{len(records.vertices):,} vertices, {len(records.edges):,} edges in {len(manifest['files'])} file(s), "
          f"{total / 2**20:.1f} MiB: {args.out}/ (manifest.json lists them)")
    return 0


def _etl(args) -> int:
    from .act.etl import run_etl, write_etl

    from .pipeline import rejection_warnings

    case, progress = _load_three_stage(args)
    # as analyze: a table mostly rejected (all the rates, all the listings) stops the run
    warnings = rejection_warnings(case, args.allow_rejected, flag="--allow-rejected")
    with progress.stage("converting, flagging and aggregating payments"):
        result = run_etl(case, high_amount=args.high_amount, history_days=args.history_days,
                         history_multiple=args.history_multiple, rapid_seconds=args.rapid_seconds)
    with progress.stage(f"writing {args.out}"):
        manifest = write_etl(result, args.out, format=args.format)
    tx = result.transactions
    first, last = result.period()
    tiers = ", ".join(f"{t} {int((tx['risk_tier'] == t).sum()):,}" for t in ("HIGH", "MEDIUM", "LOW"))
    rej = result.rejected
    loaded = rej[rej["stage"] == "load"].drop_duplicates(["table", "row"])["table"].value_counts()
    at_load = ", ".join(f"{t} {int(loaded.get(t, 0)):,}" for t in ("payments", "blocklist", "fx_rates"))
    converted = int((rej["stage"] == "conversion").sum())
    period = f"{first} to {last} (first to last payment)" if first is not None else "no payments"
    print(f"graphfraud etl: {case.source}\n"
          f"  period         {period}\n"
          f"  transactions   {len(tx):,} ({tiers})\n"
          f"  customers      {len(result.customers):,}\n"
          f"  rejected       at load: {at_load}; {converted:,} payment(s) without a USD amount "
          f"(every row with its reason in the rejected table)\n"
          + "".join(f"  warning        {w}\n" for w in warnings)
          + f"  outputs        {args.out}/ ({len(manifest['files'])} files, {args.format}; manifest.json lists them)")
    return 0


def _generate(args) -> int:
    from .progress import Progress
    from .synth import write_case

    if args.out.is_dir():
        raise GraphFraudError(f"--out {args.out} is a folder; give the SQLite file to write, e.g. {args.out / 'case.sqlite'}")
    from .act.output import check_writable

    check_writable(args.out.parent if str(args.out.parent) else Path("."))
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
