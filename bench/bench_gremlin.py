"""Gremlin store and Neptune export figures: gremlite load throughput, export time and file sizes.

    python bench/bench_gremlin.py --load-accounts 5000 --export-accounts 100000 1000000
    python bench/bench_gremlin.py --load-accounts 300 --export-accounts --upserts   # + the all-upsert path

gremlite loads are measured on the reference case (../shared/data/aws_fraud_case, skipped with a
message when it is absent) and on generated cases bench/out/case_<n>.sqlite (seed 7, made when
missing): into an empty store; again over the complete store; resuming a store that holds every
vertex and half the edges (what a load stopped half-way leaves); and updating a store that holds
the graph of the first half of the period. Elements/s is the case's vertices + edges over the
seconds of the load. Prints one line per measurement; docs/neptune.md has the figures of a run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import graphfraud
from graphfraud.graph.stores import connect
from graphfraud.graph.records import GraphRecords, graph_records
from graphfraud.graph.neptune_csv import export_neptune_csv
from graphfraud.synth import write_case

OUT = Path(__file__).resolve().parent / "out"
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "aws_fraud_case" / "aws_fraud_case.sqlite"


def case_path(n: int) -> Path:
    path = OUT / f"case_{n}.sqlite"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        write_case(path, n, seed=7, days=45)
    return path


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bench_load(name: str, case, upserts: bool = False) -> None:
    records = graph_records(case)
    n = len(records.vertices) + len(records.edges)
    print(f"gremlite load, {name}: {len(records.vertices):,} vertices + {len(records.edges):,} edges = {n:,} elements")
    ts = case.logins["event_ts"]
    first_half = graph_records(case, until=ts.min() + (ts.max() - ts.min()) / 2)
    half_edges = GraphRecords(records.vertices, records.edges.iloc[: len(records.edges) // 2])
    folder = tempfile.mkdtemp()
    try:
        def timed(what, before=None, bulk=True):
            path = f"{folder}/{what.split(',')[0].replace(' ', '_')}.db"
            with connect(f"gremlite://{path}") as store:
                if before is not None:
                    store.load_case(case, records=before)
                stats = store.load_case(case, records=records, bulk=bulk)
                ok = store.counts() == (len(records.vertices), len(records.edges))
            print(f"  {what}: {stats['seconds']:.1f}s ({n / stats['seconds']:,.0f} elements/s); "
                  f"unchanged {stats['unchanged']:,}, inserted {stats['inserted']:,}, updated {stats['updated']:,}, "
                  f"upserted {stats['upserted']:,}; counts as recorded: {ok}; store {os.path.getsize(path) / 2**20:.0f} MiB")
            return path

        path = timed("empty store")
        with connect(f"gremlite://{path}") as store:
            stats = store.load_case(case, records=records)
            print(f"  again over the complete store: {stats['seconds']:.1f}s ({n / stats['seconds']:,.0f} elements/s); "
                  f"unchanged {stats['unchanged']:,}, inserted {stats['inserted']:,}, updated {stats['updated']:,}, "
                  f"upserted {stats['upserted']:,}")
            t0 = time.perf_counter()
            ev = store.evidence()
            print(f"  evidence read-back: {len(ev):,} edges in {time.perf_counter() - t0:.1f}s")
        timed("resume, store holds every vertex and half the edges", before=half_edges)
        timed("update, store holds the first half of the period", before=first_half)
        if upserts:
            timed("empty store, upserting every element (bulk=False)", bulk=False)
            timed("resume with upserts (bulk=False), store holds every vertex and half the edges",
                  before=half_edges, bulk=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_export(n: int) -> None:
    t0 = time.perf_counter()
    case = graphfraud.load_case(case_path(n))
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    records = graph_records(case)
    t_rec = time.perf_counter() - t0
    folder = tempfile.mkdtemp()
    try:
        t0 = time.perf_counter()
        manifest = export_neptune_csv(records, folder)
        t_exp = time.perf_counter() - t0
        files = manifest["files"]
        total = sum(f["bytes"] for f in files)
        by_label = {}
        for f in files:
            by_label[f["label"]] = by_label.get(f["label"], 0) + f["bytes"]
        print(f"export, {n:,} accounts: {len(records.vertices):,} vertices, {len(records.edges):,} edges; "
              f"case load {t_load:.1f}s, records {t_rec:.1f}s, CSV write {t_exp:.1f}s; {len(files)} files, "
              f"{total / 2**20:.0f} MiB (largest {max(f['bytes'] for f in files) / 2**20:.0f} MiB); "
              f"peak RSS {peak_gib():.1f} GiB")
        print("  by label (MiB): " + ", ".join(f"{k} {v / 2**20:.0f}" for k, v in sorted(by_label.items())))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load-accounts", type=int, nargs="*", default=[5000])
    ap.add_argument("--export-accounts", type=int, nargs="*", default=[100000])
    ap.add_argument("--reference", type=Path, default=REFERENCE, help="the reference case (default: %(default)s)")
    ap.add_argument("--upserts", action="store_true",
                    help="also time loads that upsert every element (bulk=False): minutes at 300 accounts")
    args = ap.parse_args()
    if args.reference.exists():
        bench_load(f"reference case {args.reference.name}", graphfraud.load_case(args.reference), args.upserts)
    else:
        print(f"gremlite load, reference case: skipped, {args.reference} is not present")
    for n in args.load_accounts:
        bench_load(f"generated, {n:,} accounts", graphfraud.load_case(case_path(n)), args.upserts)
    for n in args.export_accounts:
        bench_export(n)


if __name__ == "__main__":
    main()
