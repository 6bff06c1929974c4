"""The package reads as the pipeline: stages only import from earlier stages, and nothing imports in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

import graphfraud

PKG = Path(graphfraud.__file__).parent

# Lower rank = earlier in the pipeline. A module may import (at module level) only
# from its own stage or an earlier one; function-level imports are for optional
# dependencies and the one documented call up the pipeline (a store's find_rings).
STAGES = {"errors": 0, "progress": 0, "case": 1, "loaders": 1, "data": 1, "queries": 2, "detect": 2, "graph": 3,
          "rings": 4, "act": 5, "synth": 2, "pipeline": 6, "realtime": 7, "cli": 8, "cli_realtime": 8, "aws": 8,
          "__init__": 9}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["graphfraud", *parts])


def _top_level_imports(path: Path) -> set[str]:
    """graphfraud modules imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text())
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("graphfraud"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("graphfraud"))
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_module_imports_in_a_cycle():
    mods = _modules()
    g = nx.DiGraph()
    for name, path in mods.items():
        for target in _top_level_imports(path):
            if target in mods and target != name:
                # a package's __init__ importing its own submodules is re-exporting, not a cycle
                if not (path.name == "__init__.py" and target.startswith(name + ".")):
                    g.add_edge(name, target)
    cycles = list(nx.simple_cycles(g))
    assert cycles == [], f"import cycles: {cycles}"


def test_stages_import_only_from_earlier_stages():
    bad = []
    for name, path in _modules().items():
        stage = _stage(name)
        for target in _top_level_imports(path):
            if target == "graphfraud":
                continue
            other = _stage(target)
            if other in STAGES and STAGES[other] > STAGES.get(stage, 99):
                bad.append(f"{name} imports {target}")
    assert bad == [], "imports against the pipeline order:\n" + "\n".join(sorted(bad))


@pytest.mark.parametrize("stage", ["case", "detect", "graph", "rings", "act", "synth", "realtime"])
def test_every_stage_package_says_what_it_holds(stage):
    import importlib

    module = importlib.import_module(f"graphfraud.{stage}")
    assert module.__doc__ and len(module.__doc__) > 80
    assert module.__all__ and all(hasattr(module, n) for n in module.__all__)


def test_the_top_level_api_is_unchanged():
    for name in ["load_case", "case_from_frames", "account_signals", "detect_bursts", "find_rings", "open_case",
                 "explore", "build_graph", "connect", "graph_records", "export_neptune_csv", "payment_outcome_test",
                 "payment_outcome_tests", "sample_case_path", "Case", "RingResult", "analyze", "queries"]:
        assert name in graphfraud.__all__ and callable(getattr(graphfraud, name)) or name == "queries"
