"""The real-time commands of ``graphfraud``: ``score`` (a stream), ``serve`` (HTTP) and ``backtest`` (a replay).

Kept apart from :mod:`graphfraud.cli` so the batch commands' module stays one
screen per command; :func:`graphfraud.cli.main` dispatches here, with the same
error handling (one message, no traceback).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import select
import sys
import time
from pathlib import Path

from .errors import InputError

__all__ = ["add_parsers", "COMMANDS"]


def _scorer_source(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="source", type=Path,
                     help="an analyze output folder: rings, exposure, signals and rules.json (the case it read is "
                          "loaded for the profiles)")
    src.add_argument("--profiles", type=Path,
                     help="a customer-profile table (CSV or Parquet): account_id, avg_amount_30d, payment_count_30d, "
                          "last_device_id, last_country, signup_ts, risk_level")
    p.add_argument("--db", type=Path, default=None,
                   help="the case (SQLite) to use instead of the one the analysis read; with --profiles, its FX rates")
    p.add_argument("--rules", type=Path, default=None,
                   help="ruleset file (JSON or YAML; analyze's rules.json works as is), re-read when it changes; "
                        "default: the six transaction rules, the graph-aware rules and the analysis's rules")
    p.add_argument("--log", default="graphfraud_decisions.sqlite",
                   help="decision log: a SQLite file or sqlite:///FILE URL (decisions by event_id, and rejected events)")
    p.add_argument("--alerts", default="graphfraud_alerts.jsonl", help="JSON-lines file for BLOCK and REVIEW alerts")
    p.add_argument("--webhook", default=None, help="also POST each alert as JSON to this http(s) URL")
    p.add_argument("--warm", default="6h",
                   help="replay this much of the case's last activity into the velocity windows at start ('none': cold)")


def add_parsers(sub, fmt) -> None:
    s = sub.add_parser("score", formatter_class=fmt,
                       help="score events (JSON lines or CSV, a file or stdin) to JSON-lines decisions on stdout")
    _scorer_source(s)
    s.add_argument("--events", required=True, help="events file (.jsonl/.json lines or .csv), or - for stdin")
    s.add_argument("--format", default="auto", choices=["auto", "jsonl", "csv"],
                   help="input format; auto: csv for a .csv file, else JSON lines")
    s.add_argument("--batch", type=int, default=500,
                   help="events per commit; a partial batch is committed as soon as the input pauses")
    v = sub.add_parser("serve", formatter_class=fmt,
                       help="HTTP service: POST /detect, POST /detect/batch, GET /health, GET /rules (needs "
                            "graphfraud[serve])")
    _scorer_source(v)
    v.add_argument("--host", default="127.0.0.1", help="address to listen on")
    v.add_argument("--port", type=int, default=8000, help="port")
    v.add_argument("--workers", type=int, default=1,
                   help="worker processes (velocity windows are per process: one worker keeps them exact)")
    b = sub.add_parser("backtest", formatter_class=fmt,
                       help="replay a case's payments and logins through a ruleset: alerts per day, precision, recall")
    b.add_argument("--db", type=Path, default=None, help="case as a SQLite file (default: the bundled sample case)")
    b.add_argument("--rules", type=Path, default=None,
                   help="ruleset file (default: the six transaction rules and the graph-aware rules)")
    b.add_argument("--out", type=Path, default=Path("graphfraud-backtest"), help="output folder")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")


def _warm(text: str) -> str | None:
    import pandas as pd

    if text.lower() in ("none", "0", "no"):
        return None
    try:
        pd.Timedelta(text)
    except ValueError:
        raise InputError(f"--warm must be a duration like '6h' or 'none', got {text!r}") from None
    return text


def _engine(args):
    from .realtime.engine import build_engine

    return build_engine(args.source, profiles=args.profiles, case=args.db, rules=args.rules, log=args.log,
                        alerts=args.alerts, webhook=args.webhook, warm=_warm(args.warm))


def _records(stream, fmt: str):
    """Dicts from JSON lines or CSV rows; a line that is not a JSON object becomes an Unreadable."""
    from .realtime.engine import Unreadable

    if fmt == "csv":
        for row in csv.DictReader(stream):
            yield {k: (None if v == "" else v) for k, v in row.items() if k is not None}
        return
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            yield Unreadable(f"line {n} is not JSON: {exc}", line.rstrip("\n"))
            continue
        yield rec if isinstance(rec, dict) else Unreadable(f"line {n} is not a JSON object", line.rstrip("\n"))


def _paused(stream) -> bool:
    """True when nothing more can be read right now (a pipe between messages), so a partial batch should go out."""
    try:
        return not select.select([stream], [], [], 0)[0]
    except (ValueError, OSError, io.UnsupportedOperation):
        return False


def _score(args) -> int:
    if args.batch < 1:
        raise InputError(f"--batch must be at least 1, got {args.batch}")
    fmt = args.format if args.format != "auto" else ("csv" if str(args.events).lower().endswith(".csv") else "jsonl")
    if args.events != "-" and not Path(args.events).is_file():
        what = "is a folder; give the events file" if Path(args.events).is_dir() else "no such file"
        raise InputError(f"--events {args.events}: {what}")
    from .realtime.engine import settle_memory

    engine = _engine(args)
    settle_memory()
    stream = sys.stdin if args.events == "-" else open(args.events, encoding="utf-8", newline="")
    counts = {"APPROVE": 0, "REVIEW": 0, "BLOCK": 0, "rejected": 0, "duplicate": 0}
    t0 = time.perf_counter()
    try:
        batch = []
        for rec in _records(stream, fmt):
            batch.append(rec)
            if len(batch) >= args.batch or _paused(stream):
                _emit(engine.decide_many(batch), counts)
                batch = []
        if batch:
            _emit(engine.decide_many(batch), counts)
    finally:
        if stream is not sys.stdin:
            stream.close()
        engine.log.close()
        if engine.alerts is not None:
            engine.alerts.flush()
    n = sum(counts[k] for k in ("APPROVE", "REVIEW", "BLOCK"))
    print(f"graphfraud score: {n:,} decided ({counts['BLOCK']:,} BLOCK, {counts['REVIEW']:,} REVIEW, "
          f"{counts['APPROVE']:,} APPROVE; {counts['duplicate']:,} repeated event ids answered from the log), "
          f"{counts['rejected']:,} rejected with the reason in {engine.log.path} (table rejected), "
          f"{time.perf_counter() - t0:.1f} s; ruleset {engine.scorer.version}", file=sys.stderr)
    return 0


def _emit(outcomes, counts: dict) -> None:
    # printed only after decide_many's commit: a line on stdout is an acknowledged decision
    out = sys.stdout
    for o in outcomes:
        out.write(json.dumps(o.to_dict()) + "\n")
        if not o.ok:
            counts["rejected"] += 1
        else:
            counts[o.decision.decision] += 1
            counts["duplicate"] += o.duplicate
    out.flush()


def _serve(args) -> int:
    from .realtime.service import serve

    if not 1 <= args.port <= 65535:
        raise InputError(f"--port must be from 1 to 65535, got {args.port}")
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    import socket

    with socket.socket() as probe:  # before minutes of loading, not after
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            raise InputError(f"--host {args.host} --port {args.port}: cannot listen there ({exc.strerror}); "
                             "choose another port or stop what uses it") from None
    print(f"graphfraud serve: loading, then listening on http://{args.host}:{args.port} (POST /detect, "
          f"GET /health, API docs at /docs); Ctrl-C stops it", file=sys.stderr, flush=True)
    config = {"source": None if args.source is None else str(args.source),
              "profiles": None if args.profiles is None else str(args.profiles),
              "case": None if args.db is None else str(args.db), "rules": None if args.rules is None else str(args.rules),
              "log": args.log, "alerts": args.alerts, "webhook": args.webhook, "warm": _warm(args.warm)}
    serve(config, host=args.host, port=args.port, workers=args.workers)
    return 0


def _backtest(args) -> int:
    from .act.output import check_writable
    from .data import sample_case_path
    from .loaders import load_case
    from .progress import Progress
    from .realtime.backtest import backtest, write_backtest
    from .realtime.ruleset import load_ruleset

    check_writable(args.out)
    rules = load_ruleset(args.rules) if args.rules is not None else None
    path = args.db if args.db is not None else sample_case_path()
    progress = Progress(quiet=args.quiet)
    with progress.stage(f"loading {path}"):
        case = load_case(path, format="sqlite")
    with progress.stage("replaying payments and logins through the scorer"):
        result = backtest(case, rules)
    with progress.stage(f"writing {args.out}"):
        write_backtest(result, args.out)
    s = result.summary.iloc[-1]
    print(f"graphfraud backtest: {case.source}\n"
          f"  ruleset        {result.ruleset.version} ({len(result.ruleset.rules)} rules, mode {result.ruleset.mode})\n"
          f"  period         {result.period[0]} to {result.period[1]} ({s['days']:g} days)\n"
          f"  events         {result.events:,} replayed; {len(result.rejected):,} could not be scored\n"
          f"  decisions      {int(s['block']):,} BLOCK, {int(s['review']):,} REVIEW ({s['alerts_per_day']:.1f} alerts/day)\n"
          f"  bad payments   precision {s['precision_bad_payments']:.1%}, recall {s['recall_bad_payments']:.1%}\n"
          f"  findings       precision {s['precision_findings']:.1%}, recall {s['recall_findings']:.1%} (by account)\n"
          f"  outputs        {args.out}/ (backtest.md, backtest.csv per rule, backtest_daily.csv, "
          f"backtest_alerts.csv)")
    return 0


COMMANDS = {"score": _score, "serve": _serve, "backtest": _backtest}
