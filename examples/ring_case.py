"""From a case file to one ring's case folder, the way an analyst would in a notebook.

Run:  python examples/ring_case.py [CASE.sqlite] [OUT_DIR]
"""

import sys
from pathlib import Path

import graphfraud
from graphfraud.graph.view import annotate_rings

path = sys.argv[1] if len(sys.argv) > 1 else graphfraud.sample_case_path()
out = Path(sys.argv[2] if len(sys.argv) > 2 else "ring-cases")

# 1. Load and check what came in.
case = graphfraud.load_case(path)
print(case.row_counts(), "\n")

# 2. Per-account signals and burst triggers feed the ring scores.
signals = graphfraud.account_signals(case)
bursts = graphfraud.detect_bursts(case)

# 3. Rings: shared infrastructure used together more than chance allows.
rings = graphfraud.find_rings(case, signals=signals, bursts=bursts, seed=0)
print(rings.summary[["ring_id", "size", "score", "pvalue", "flagged"]].head(8).to_string(index=False), "\n")
print("campaign IPs (victims are not rings):", rings.campaigns["ip"].tolist(), "\n")

# 4. Look at the strongest ring, then open a case on it.
top = rings.flagged.iloc[0]
print(f"top ring {top['ring_id']}: {top['top_evidence']}\n")
graph = annotate_rings(graphfraud.build_graph(case, signals=signals, bursts=bursts), rings)
graphfraud.explore(graph, ring=top["ring_id"], path=out / "top_ring.html")
folder = graphfraud.open_case(case, top["ring_id"], out, rings=rings, signals=signals, bursts=bursts, graph=graph)
print("case folder:", folder)
print((folder / "summary.md").read_text()[:600])
