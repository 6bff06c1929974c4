"""Neptune bulk-load files: the graph as Gremlin load-format CSVs, and back.

Millions of accounts go into Neptune through its bulk loader, not through
upserts. :func:`export_neptune_csv` writes one set of files per vertex and edge
label (``~id``, ``~label``, typed property headers such as ``risk_score:Int``;
edges ``~id``, ``~from``, ``~to``, ``~label``), each file at most ``max_bytes``
so the loader can work on them in parallel. ``~id`` is the namespaced
``gf_id``, which is also kept as a property so queries and upserts key on the
same thing whichever way the graph was loaded. docs/neptune.md has the loader
request.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..errors import InputError
from .records import PROPERTY_TYPES, GraphRecords, encode_times

__all__ = ["export_neptune_csv", "read_neptune_csv"]

_VERTEX_HEAD = ["~id", "~label"]
_EDGE_HEAD = ["~id", "~from", "~to", "~label"]


def _cell(key: str, value) -> str:
    if value is None:
        return ""  # no property on this element (Neptune skips empty fields)
    kind = PROPERTY_TYPES[key]
    if kind == "Bool":
        return "true" if value else "false"
    if key == "success_us" and not isinstance(value, str):
        return encode_times(value)
    if hasattr(value, "item"):
        value = value.item()
    if kind == "Double":
        return repr(float(value))
    if kind in ("Int", "Long"):
        return str(int(value))
    return str(value)


def _parse(kind: str, text: str):
    if kind in ("Int", "Long"):
        return int(text)
    if kind == "Double":
        return float(text)
    if kind == "Bool":
        return text == "true"
    return text


class _SplitWriter:
    """CSV rows into ``<stem>-0001.csv``, ``-0002``, ... each under ``max_bytes`` (header included)."""

    def __init__(self, folder: Path, stem: str, header: list[str], max_bytes: int):
        self.folder, self.stem, self.max_bytes = folder, stem, max_bytes
        self.header = self._line(header)
        if len(self.header) >= max_bytes:
            raise InputError(f"max_bytes={max_bytes} is smaller than the header of {stem}")
        self.files: list[Path] = []
        self._fh = None
        self._size = 0

    @staticmethod
    def _line(row) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        return buf.getvalue().encode("utf-8")

    def write(self, row) -> None:
        line = self._line(row)
        if len(self.header) + len(line) > self.max_bytes:
            raise InputError(f"one {self.stem} row is {len(line):,} bytes, more than max_bytes={self.max_bytes:,}")
        if self._fh is None or self._size + len(line) > self.max_bytes:
            self._open()
        self._fh.write(line)
        self._size += len(line)

    def _open(self) -> None:
        self.close()
        path = self.folder / f"{self.stem}-{len(self.files) + 1:04d}.csv"
        self._fh = open(path, "wb")
        self._fh.write(self.header)
        self._size = len(self.header)
        self.files.append(path)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def export_neptune_csv(records: GraphRecords, out_dir: str | Path, max_bytes: int = 100 * 2**20) -> dict:
    """Write ``records`` as Neptune Gremlin bulk-load CSVs into ``out_dir``.

    Returns the manifest (also written as ``manifest.json``): files with their
    label, kind, rows and bytes.

    Examples
    --------
    >>> import tempfile, graphfraud
    >>> from graphfraud.graph.records import graph_records
    >>> rec = graph_records(graphfraud.load_case(graphfraud.sample_case_path()))
    >>> m = export_neptune_csv(rec, tempfile.mkdtemp(), max_bytes=200_000)
    >>> sum(f["rows"] for f in m["files"] if f["kind"] == "vertices") == len(rec.vertices)
    True
    >>> max(f["bytes"] for f in m["files"]) <= 200_000
    True
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.csv"):  # a re-export must not leave files of a bigger graph behind
        old.unlink()
    manifest = {"format": "csv", "max_bytes": max_bytes, "files": []}
    for kind, frame, head, props_of, rows_of in (
        ("vertices", records.vertices, _VERTEX_HEAD, records.vertex_properties, records.vertex_rows),
        ("edges", records.edges, _EDGE_HEAD, records.edge_properties, records.edge_rows),
    ):
        for label in sorted(set(frame["label"])):
            props = ["gf_id"] + props_of(label)
            writer = _SplitWriter(out, f"{kind}-{label}", head + [f"{p}:{PROPERTY_TYPES[p]}" for p in props],
                                  max_bytes)
            counts: dict[int, int] = {}
            for r in rows_of(label):
                ids = [r["gf_id"], r["label"]] if kind == "vertices" else [r["gf_id"], r["src"], r["dst"], r["label"]]
                writer.write(ids + [_cell(p, r.get(p)) for p in props])
                counts[len(writer.files)] = counts.get(len(writer.files), 0) + 1
            writer.close()
            for i, path in enumerate(writer.files, start=1):
                manifest["files"].append({"file": path.name, "kind": kind, "label": label, "rows": counts.get(i, 0),
                                          "bytes": path.stat().st_size})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def read_neptune_csv(folder: str | Path) -> tuple[list[dict], list[dict]]:
    """Read bulk-load CSVs back into vertex and edge dicts (what a Neptune load would hold).

    Typed headers are parsed back (``Int``, ``Long``, ``Double``, ``Bool``,
    ``String``); an empty field means the element has no such property.
    """
    folder = Path(folder)
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise InputError(f"no bulk-load CSV files in {folder}")
    vertices, edges = [], []
    for path in files:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            system = [h for h in header if h.startswith("~")]
            props = [(h.split(":", 1)[0], h.split(":", 1)[1] if ":" in h else "String")
                     for h in header if not h.startswith("~")]
            is_edge = "~from" in system
            for line_no, row in enumerate(reader, start=2):
                if len(row) != len(header):
                    raise InputError(f"{path.name} line {line_no}: {len(row)} fields, header has {len(header)}")
                rec = dict(zip(system, row[:len(system)]))
                item = {"label": rec["~label"]}
                if is_edge:
                    item.update(src=rec["~from"], dst=rec["~to"])
                for (name, kind), text in zip(props, row[len(system):]):
                    if text != "":
                        item[name] = _parse(kind, text)
                if item.get("gf_id", rec["~id"]) != rec["~id"]:
                    raise InputError(f"{path.name} line {line_no}: ~id {rec['~id']!r} differs from gf_id")
                (edges if is_edge else vertices).append(item)
    return vertices, edges
