"""The flow every graph store shares: load a case, read the evidence back, score rings, write results back.

:class:`GraphBackend` writes the flow once; a store only says how to upsert a
batch of vertices or edges, how to read the evidence edges back in pages, and
how to set properties on account vertices, and may say how to write many
elements at once (:meth:`GraphBackend._bulk_write`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Iterator

import pandas as pd

from ...case import Case
from ...progress import Progress
from ..activity import evidence_to_activity
from ..records import GraphRecords, encode_times, graph_records

__all__ = ["GraphBackend", "ring_properties", "snapshot_frames", "EVIDENCE_COLUMNS"]

EVIDENCE_COLUMNS = ["account_id", "entity", "entity_type", "success_us"]


class GraphBackend(ABC):
    """A graph store graphfraud can load a case into and find rings in.

    Subclasses implement the five primitives at the bottom; everything a user
    calls (:meth:`load_case`, :meth:`evidence`, :meth:`activity`,
    :meth:`find_rings`, :meth:`write_rings`) is written here once.
    """

    #: what :func:`connect` was given, for reports
    url: str = ""
    batch_size: int = 500
    page_size: int = 500

    # ------------------------------------------------------------------ the flow
    def load_case(self, case: Case, since=None, until=None, progress: Progress | None = None,
                  records: GraphRecords | None = None, bulk: bool = True, payments: bool = True) -> dict:
        """Load the case's graph (see :mod:`graphfraud.graph.records`): vertices first, then edges.

        Elements are keyed by ``gf_id``, so loading twice, or again after an
        interrupted load, ends with the same graph. With ``bulk`` (the default) a
        store writes what it can without an upsert per element (gremlite: the
        elements it lacks inserted and those stored otherwise updated, straight in
        its tables, in one transaction; any Gremlin store: elements already stored
        as recorded are skipped) and upserts the rest; ``bulk=False`` upserts
        every element. ``payments`` adds the payments' IPs and devices as evidence
        (see :func:`~graphfraud.graph.records.graph_records`).

        Returns counts and timings: ``vertices``, ``edges`` (in the records),
        ``unchanged`` (already stored as recorded), ``inserted`` and ``updated``
        (written without upserts), ``upserted``, ``writer`` (how), ``bulk_seconds``,
        ``vertices_seconds``, ``edges_seconds`` (the upserts) and ``seconds`` (all).
        """
        started = time.perf_counter()
        progress = progress or Progress(quiet=True)
        records = records if records is not None else graph_records(case, since, until, payments=payments)
        stats = {"vertices": len(records.vertices), "edges": len(records.edges), "unchanged": 0, "inserted": 0,
                 "updated": 0, "upserted": 0, "writer": "upserts", "bulk_seconds": 0.0}
        t0 = time.perf_counter()
        left = self._bulk_write(records, progress, stats) if bulk else None
        stats["bulk_seconds"] = time.perf_counter() - t0
        todo = (((records.vertex_rows(), len(records.vertices)), (records.edge_rows(), len(records.edges)))
                if left is None else ((left[0], len(left[0])), (left[1], len(left[1]))))
        for kind, (rows, total), upsert in zip(("vertices", "edges"), todo,
                                               (self._upsert_vertices, self._upsert_edges)):
            t0, done = time.perf_counter(), 0
            for batch in batches(rows, self.batch_size):
                upsert(batch)
                done += len(batch)
                if done % (self.batch_size * 20) < len(batch) or done == total:
                    progress.note(f"{kind} upserted: {done:,}/{total:,}")
            stats[f"{kind}_seconds"] = time.perf_counter() - t0
            stats["upserted"] += done
        stats["seconds"] = time.perf_counter() - started
        return stats

    def evidence(self) -> pd.DataFrame:
        """Every account–IP/device edge with successful logins: ``account_id, entity, entity_type, success_us``."""
        pages = [p for p in self._evidence_pages(self.page_size) if len(p)]
        if not pages:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in EVIDENCE_COLUMNS})
        return pd.concat(pages, ignore_index=True)[EVIDENCE_COLUMNS]

    def activity(self, since=None, until=None, exclude_ips=()):
        """The coded ring-scoring :class:`~graphfraud.graph.activity.Activity`, read from the store.

        Equal to :func:`~graphfraud.graph.activity.entity_activity` on the case.
        """
        return evidence_to_activity(self.evidence(), since, until, exclude_ips)

    def find_rings(self, case: Case, write_back: bool = True, **params):
        """:func:`graphfraud.find_rings` with the evidence read from this store; results written back.

        ``case`` still supplies campaigns, signals, bursts and payments: the
        store holds the graph, not the event tables.
        """
        # the one call up the pipeline (graph -> rings), kept lazy so the graph stage never imports it at load
        from ...rings import find_rings

        result = find_rings(case, graph=self, **params)
        if write_back:
            self.write_rings(result)
        return result

    def write_rings(self, result) -> int:
        """Set ``ring_id, ring_score, ring_flagged, ring_size`` on member account vertices.

        Properties from an earlier run are cleared first, so an account that left
        a ring does not keep its old ring id. Returns the number of accounts written.
        """
        self._clear_ring_properties()
        rows = ring_properties(result)
        for batch in batches(iter(rows), self.batch_size):
            self._set_account_properties(batch)
        return len(rows)

    def counts(self) -> tuple[int, int]:
        """(vertices, edges) in the store."""
        return self._counts()

    def snapshot(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every vertex and edge in the store with all its properties, in a canonical form.

        Two stores hold the same graph exactly when their snapshots are equal;
        :func:`snapshot_frames` puts :class:`GraphRecords` or bulk-load files in
        the same form.
        """
        vertices, edges = self._dump()
        return snapshot_frames(vertices, edges)

    def close(self) -> None:
        """Release the connection (nothing to do for in-memory stores)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # ------------------------------------------------------------------ what a store may implement
    def _bulk_write(self, records: GraphRecords, progress: Progress, stats: dict) -> tuple[list, list] | None:
        """Write what the store can without an upsert per element; return the vertex and edge rows left to upsert.

        ``None`` (the default) leaves every row to the upserts. A store that writes
        here sets ``unchanged``, ``inserted``, ``updated`` and ``writer`` in ``stats``.
        """
        return None

    # ------------------------------------------------------------------ what a store implements
    @abstractmethod
    def _upsert_vertices(self, rows: list[dict]) -> None:
        """Create or update vertices keyed by ``gf_id``; ``rows`` hold ``gf_id``, ``label`` and properties."""

    @abstractmethod
    def _upsert_edges(self, rows: list[dict]) -> None:
        """Create or update edges keyed by ``gf_id``, from vertex ``src`` to vertex ``dst``."""

    @abstractmethod
    def _evidence_pages(self, page_size: int) -> Iterator[pd.DataFrame]:
        """Evidence edges (``EVIDENCE_COLUMNS``), a page of accounts at a time."""

    @abstractmethod
    def _clear_ring_properties(self) -> None:
        """Remove the ring properties from every account vertex."""

    @abstractmethod
    def _set_account_properties(self, rows: list[dict]) -> None:
        """Set properties on account vertices; each row has ``gf_id`` and the properties."""

    @abstractmethod
    def _counts(self) -> tuple[int, int]:
        ...

    @abstractmethod
    def _dump(self) -> tuple[list[dict], list[dict]]:
        """All vertices (``gf_id, label`` + properties) and edges (``gf_id, label, src, dst`` + properties)."""


def snapshot_frames(vertices, edges) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Vertex and edge dicts as two DataFrames sorted by ``gf_id``, columns sorted, times encoded.

    Examples
    --------
    >>> v, e = snapshot_frames([{"gf_id": "b", "label": "ip"}, {"gf_id": "a", "label": "account", "name": "a"}], [])
    >>> v.values.tolist()
    [['a', 'account', 'a'], ['b', 'ip', None]]
    """
    def frame(rows, keys):
        rows = [{k: (encode_times(v) if k == "success_us" and not isinstance(v, str) else v)
                 for k, v in r.items() if v is not None} for r in rows]
        df = pd.DataFrame(rows, dtype=object)
        for k in keys:
            if k not in df:
                df[k] = pd.Series(dtype=object)
        cols = list(keys) + sorted(c for c in df.columns if c not in keys)
        df = df[cols].astype(object)
        df = df.where(df.notna(), None)
        return df.sort_values("gf_id", kind="stable").reset_index(drop=True)

    return frame(vertices, ("gf_id", "label")), frame(edges, ("gf_id", "label", "src", "dst"))


def ring_properties(result) -> list[dict]:
    """What :meth:`GraphBackend.write_rings` sets: one dict per ring member.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> res = SimpleNamespace(rings=pd.DataFrame({"ring_id": ["r1", "r1"], "account_id": ["A", "B"]}),
    ...     summary=pd.DataFrame({"ring_id": ["r1"], "score": [0.5], "flagged": [True], "size": [2]}))
    >>> ring_properties(res)[0]
    {'gf_id': 'account:A', 'ring_id': 'r1', 'ring_score': 0.5, 'ring_flagged': True, 'ring_size': 2}
    """
    summary = result.summary.set_index("ring_id")
    rows = []
    for rid, acct in zip(result.rings["ring_id"], result.rings["account_id"]):
        s = summary.loc[rid]
        rows.append({"gf_id": f"account:{acct}", "ring_id": rid, "ring_score": float(s["score"]),
                     "ring_flagged": bool(s["flagged"]), "ring_size": int(s["size"])})
    return rows


def batches(rows, size: int):
    batch = []
    for r in rows:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
