"""What the large arrays of one run hold, in GiB: the case's tables, the coded activity, the time bins, the pair table.

    python bench/memory_parts.py bench/out/case_1000000.sqlite

Sizes are the arrays' own bytes (``nbytes``; for DataFrames ``memory_usage(deep=True)``,
which counts each distinct category string once), not the process's RSS: they say which
part grows with what. Prints a Markdown table.
"""

from __future__ import annotations

import resource
import sys

import graphfraud
from graphfraud.detect.campaigns import detect_campaigns
from graphfraud.graph.activity import entity_activity
from graphfraud.rings.find import pair_table
from graphfraud.rings.pairs import TIME_SCALES, _time_bins

GIB = 2**30


def main(path: str) -> None:
    case = graphfraud.load_case(path)
    rows = []
    for name in graphfraud.case.TABLE_NAMES:
        df = case.table(name)
        rows.append((f"table {name} ({len(df):,} rows)", df.memory_usage(deep=True).sum()))
    camp = detect_campaigns(case, None, None, min_victims=10)["ip"].tolist()
    act = entity_activity(case, exclude_ips=camp)
    rows.append((f"coded activity ({len(act.account):,} rows)",
                 act.account.nbytes + act.entity.nbytes + act.ts.nbytes))
    rows.append((f"entity names ({act.n_entities:,}) and account ids ({act.n_accounts:,})",
                 sum(sys.getsizeof(s) for s in act.entities) + sum(sys.getsizeof(s) for s in act.accounts)))
    pop = act.popularity()
    keep = (pop[act.entity] <= 100) & (pop[act.entity] >= 2)
    bins = 0
    for _, (width, _) in TIME_SCALES.items():
        e, a, b = _time_bins(act, keep, width)
        bins += e.nbytes + a.nbytes + b.nbytes
    rows.append(("time bins of the four scales (held together while pairs are scored)", bins))
    params = dict(max_entity_accounts=100, hub_spike_pvalue=1e-4, edge_pvalue=0.01)
    table, _, info = pair_table(act, params)
    rows.append((f"pair table kept ({info['pairs_kept']:,} of {info['candidate_pairs']:,} candidate pairs)",
                 table.memory_usage(deep=True).sum()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print("| part | GiB |\n|---|---:|")
    for what, nbytes in rows:
        print(f"| {what} | {nbytes / GIB:.2f} |")
    print(f"| (peak RSS of this script, GiB) | {peak:.2f} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
