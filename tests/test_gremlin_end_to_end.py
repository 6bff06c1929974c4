"""End to end on gremlite: `analyze --graph gremlite://` and the Neptune notebook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphfraud.graph.stores import connect
from graphfraud.cli import main
from graphfraud.synth import write_case
from graphfraud import traversals as T

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "case.sqlite"
    write_case(path, 150, seed=1, days=21)
    return path


def test_analyze_on_gremlite_writes_the_same_rings_as_networkx(small_db, tmp_path):
    store = tmp_path / "store.db"
    assert main(["analyze", "--db", str(small_db), "--out", str(tmp_path / "nx"), "-q", "--no-cases"]) == 0
    assert main(["analyze", "--db", str(small_db), "--out", str(tmp_path / "gl"), "-q", "--no-cases",
                 "--graph", f"gremlite://{store}"]) == 0
    for name in ("rings.csv", "ring_summary.csv"):
        assert (tmp_path / "nx" / name).read_bytes() == (tmp_path / "gl" / name).read_bytes(), name
    flagged = [line.split(",")[0] for line in (tmp_path / "gl" / "ring_summary.csv").read_text().splitlines()[1:]
               if ",True," in line]
    assert flagged
    with connect(f"gremlite://{store}") as g:  # the results are in the graph for Gremlin users
        members = T.ring_members(g.g, flagged[0])
        assert len(members) >= 2 and members["ring_flagged"].all()
    # a second run against the same store: nothing duplicated, same answer
    before = connect(f"gremlite://{store}").counts()
    assert main(["analyze", "--db", str(small_db), "--out", str(tmp_path / "gl2"), "-q", "--no-cases",
                 "--graph", f"gremlite://{store}"]) == 0
    assert connect(f"gremlite://{store}").counts() == before
    assert (tmp_path / "gl2" / "rings.csv").read_bytes() == (tmp_path / "nx" / "rings.csv").read_bytes()


def test_bad_graph_url_is_a_clean_cli_error(capsys):
    assert main(["analyze", "--graph", "bolt://x", "-q"]) == 2
    assert "unknown graph URL" in capsys.readouterr().err


RUN_NOTEBOOK = """
import json, sys
nb = json.load(open(sys.argv[1]))
ns = {"__name__": "__main__"}
for i, cell in enumerate(nb["cells"]):
    if cell["cell_type"] == "code":
        exec(compile("".join(cell["source"]), f"cell {i}", "exec"), ns)
print("RINGS", len(ns["rings"].flagged), ns["ring_id"], ns["folder"])
"""


def test_neptune_notebook_runs_against_gremlite_and_keeps_its_store_under_out(small_db, tmp_path):
    nb_path = ROOT / "examples" / "neptune_notebook.ipynb"
    nb = json.loads(nb_path.read_text())
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")  # committed clean
    env = {**os.environ, "GRAPHFRAUD_CASE": str(small_db), "GRAPHFRAUD_OUT": str(tmp_path / "out"),
           "MPLBACKEND": "Agg"}
    env.pop("GRAPHFRAUD_GRAPH", None)  # the default store: it must land under OUT, not in /tmp
    proc = subprocess.run([sys.executable, "-c", RUN_NOTEBOOK, str(nb_path)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RINGS")][-1]
    _, n, ring_id, folder = line.split(" ", 3)
    assert int(n) >= 1
    assert (Path(folder) / "case.json").exists()
    assert (tmp_path / "out" / f"{ring_id}.html").exists()
    assert (tmp_path / "out" / "graph.db").stat().st_size > 0
