"""Neptune bulk-load export: typed headers, bounded files, and a round trip back to the same graph."""

from __future__ import annotations

import csv

import pytest

import graphfraud
from graphfraud.graph.stores import NetworkXBackend, snapshot_frames
from graphfraud.cli import main
from graphfraud.errors import InputError
from graphfraud.graph.records import graph_records
from graphfraud.graph.neptune_csv import export_neptune_csv, read_neptune_csv

from conftest import logins, reputation


def test_the_files_read_back_as_the_in_memory_graph(sample_case, tmp_path):
    records = graph_records(sample_case)
    manifest = export_neptune_csv(records, tmp_path, max_bytes=150_000)
    assert all(f["bytes"] <= 150_000 for f in manifest["files"])
    assert len([f for f in manifest["files"] if f["label"] == "USED_IP"]) > 1  # it really split
    assert sum(f["rows"] for f in manifest["files"] if f["kind"] == "edges") == len(records.edges)
    store = NetworkXBackend()
    store.load_case(sample_case)
    expected = store.snapshot()
    got = snapshot_frames(*read_neptune_csv(tmp_path))
    assert got[0].equals(expected[0]) and got[1].equals(expected[1])


def test_headers_use_neptune_types(tmp_path):
    case = graphfraud.case_from_frames(
        logins=logins(("2025-08-01 10:00", "A1", "1.1.1.1", "DE", "SUCCESS", 1, "d1")),
        ip_reputation=reputation(("1.1.1.1", 10, 64500, 1)))
    export_neptune_csv(graph_records(case), tmp_path)
    with open(tmp_path / "vertices-ip-0001.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["~id", "~label", "gf_id:String", "name:String", "risk_score:Int", "is_tor:Bool", "asn:Long",
                       "n_accounts:Int"]
    assert rows[1] == ["ip:1.1.1.1", "ip", "ip:1.1.1.1", "1.1.1.1", "10", "true", "64500", "1"]
    with open(tmp_path / "edges-USED_IP-0001.csv") as fh:
        head = next(csv.reader(fh))
    assert head[:4] == ["~id", "~from", "~to", "~label"] and "mfa_share:Double" in head


def test_ids_with_commas_quotes_and_newlines_survive(tmp_path):
    nasty = ['a,b', 'say "hi"', "line\nbreak", "x'); g.V().drop(); //", "back\\slash"]
    case = graphfraud.case_from_frames(logins=logins(
        *[("2025-08-01 10:00", a, "1.1.1.1", "DE", "SUCCESS", 0, a) for a in nasty]))
    records = graph_records(case)
    export_neptune_csv(records, tmp_path)
    got = snapshot_frames(*read_neptune_csv(tmp_path))
    expected = snapshot_frames(records.vertex_rows(), records.edge_rows())
    assert got[0].equals(expected[0]) and got[1].equals(expected[1])


def test_a_re_export_leaves_no_stale_files(sample_case, tmp_path):
    export_neptune_csv(graph_records(sample_case), tmp_path, max_bytes=100_000)
    small = graphfraud.case_from_frames(logins=logins(("2025-08-01 10:00", "A1", "1.1.1.1", "DE", "SUCCESS", 0, None)))
    manifest = export_neptune_csv(graph_records(small), tmp_path, max_bytes=100_000)
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == sorted(f["file"] for f in manifest["files"])


def test_broken_files_name_the_file_and_line(tmp_path):
    (tmp_path / "vertices-ip-0001.csv").write_text("~id,~label,gf_id:String\nip:1,ip\n")
    with pytest.raises(InputError, match=r"vertices-ip-0001.csv line 2: 2 fields, header has 3"):
        read_neptune_csv(tmp_path)
    with pytest.raises(InputError, match="no bulk-load CSV"):
        read_neptune_csv(tmp_path / "nothing")
    with pytest.raises(InputError, match="smaller than the header"):
        export_neptune_csv(graph_records(graphfraud.case_from_frames(logins=logins(
            ("2025-08-01 10:00", "A1", "1.1.1.1", "DE", "SUCCESS", 0, None)))), tmp_path / "x", max_bytes=10)


def test_cli_export(tmp_path, capsys):
    assert main(["export", "neptune-csv", "--out", str(tmp_path), "--max-mb", "0.5", "-q"]) == 0
    assert "vertices" in capsys.readouterr().out
    assert (tmp_path / "manifest.json").exists()
    assert max(p.stat().st_size for p in tmp_path.glob("*.csv")) <= 0.5 * 2**20
