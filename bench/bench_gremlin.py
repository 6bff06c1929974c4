"""Gremlin store and Neptune export figures: gremlite load throughput, export time and file sizes.

    python bench/bench_gremlin.py --load-accounts 5000 --export-accounts 100000 1000000

Cases come from bench/out/case_<n>.sqlite (generated with seed 7 when missing).
Prints one line per measurement; docs/neptune.md has the figures of a run.
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
from graphfraud.graph.records import graph_records
from graphfraud.graph.neptune_csv import export_neptune_csv
from graphfraud.synth import write_case

OUT = Path(__file__).resolve().parent / "out"


def case_path(n: int) -> Path:
    path = OUT / f"case_{n}.sqlite"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        write_case(path, n, seed=7, days=45)
    return path


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bench_load(n: int) -> None:
    case = graphfraud.load_case(case_path(n))
    records = graph_records(case)
    folder = tempfile.mkdtemp()
    try:
        store = connect(f"gremlite://{folder}/store.db")
        stats = store.load_case(case, records=records)
        v, e = stats["vertices"], stats["edges"]
        print(f"gremlite load, {n:,} accounts: {v:,} vertices in {stats['vertices_seconds']:.1f}s "
              f"({v / stats['vertices_seconds']:,.0f}/s), {e:,} edges in {stats['edges_seconds']:.1f}s "
              f"({e / stats['edges_seconds']:,.0f}/s), store {os.path.getsize(f'{folder}/store.db') / 2**20:.0f} MiB")
        t0 = time.perf_counter()
        again = store.load_case(case, records=records)
        print(f"gremlite re-load (all upserts match): {time.perf_counter() - t0:.1f}s, "
              f"counts unchanged: {store.counts() == (v, e)}  ({again['vertices']:,} + {again['edges']:,})")
        t0 = time.perf_counter()
        ev = store.evidence()
        print(f"gremlite evidence read-back: {len(ev):,} edges in {time.perf_counter() - t0:.1f}s")
        store.close()
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
    args = ap.parse_args()
    for n in args.load_accounts:
        bench_load(n)
    for n in args.export_accounts:
        bench_export(n)


if __name__ == "__main__":
    main()
