"""New elements written straight into a gremlite store's SQLite tables, in one transaction.

gremlite 0.1.2 keeps a property graph in three tables (``gremlite.connection.initialize_db``):

- ``quads(s, p, o, g)``: one row per vertex ``(v, 0, label, 0)``, vertex property
  ``(v, name, value, property id)``, edge ``(src, -label, dst, -e)`` and edge property
  ``(-e, name, value, 0)``;
- ``strings(id, v)``: labels, property names, string values and the text of floats;
- ``graphelts(id)``: the ids of vertices, edges and vertex properties.

A value in ``o`` is ``0``/``1`` for False/True, ``2`` for None, ``n - 2**62`` for an
integer ``n``, the string's id for a string, and ``2**62 - 1`` plus the id of
``str(x)`` for a float ``x``.

Adding an element through a traversal costs a handful of SQL look-ups and inserts
(about 125 elements a second on a 19k-vertex store). :class:`GremliteTables`
computes the rows of many elements in Python and writes them with ``executemany``,
giving them the very ids, in the very order, that the traversals would (the tests
compare the tables row for row). It is opened only when the installed gremlite is
a version listed in :data:`KNOWN_VERSIONS` and the store's tables and indexes are
exactly that version's; :meth:`GremliteTables.open` says why not otherwise, and the
caller upserts instead.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version

from ...errors import GraphFraudError

__all__ = ["GremliteTables", "KNOWN_VERSIONS", "UnencodableValue"]

#: gremlite releases whose table layout and value encoding this module writes
KNOWN_VERSIONS = ("0.1.2",)

#: ``sqlite_master`` rows (type, name, table, sql) of a gremlite 0.1.2 store
_SCHEMA = {
    ("table", "quads", "quads", "CREATE TABLE quads (s INT, p INT, o INT, g INT)"),
    ("index", "ops", "quads", "CREATE INDEX ops ON quads (o, p, s)"),
    ("index", "sp", "quads", "CREATE INDEX sp ON quads (s, p)"),
    ("index", "pg", "quads", "CREATE INDEX pg ON quads (p, g)"),
    ("index", "g", "quads", "CREATE INDEX g ON quads (g)"),
    ("table", "strings", "strings", "CREATE TABLE strings (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT UNIQUE)"),
    ("index", "sqlite_autoindex_strings_1", "strings", None),
    ("table", "graphelts", "graphelts", "CREATE TABLE graphelts (id INTEGER PRIMARY KEY AUTOINCREMENT)"),
}

_MIN_INT, _MAX_INT = -2**62, 2**62 - 1
_FALSE, _TRUE, _NONE = 0, 1, 2
_HAS_LABEL, _NO_ID = 0, 0
# a 'WHERE v IN (...)' of this many parameters stays under SQLite's oldest limit (999)
_IN_CHUNK = 500


class UnencodableValue(GraphFraudError):
    """A property value gremlite's tables cannot hold as written here (the caller upserts instead)."""


class GremliteTables:
    """Writes vertices and edges that are not yet in a gremlite store into its tables.

    Use :meth:`open` (it checks the gremlite version and the schema), then
    :meth:`insert` inside :meth:`transaction`.

    Examples
    --------
    >>> from gremlite import SQLiteConnection
    >>> from gremlin_python.process.anonymous_traversal import traversal
    >>> remote = SQLiteConnection(":memory:")
    >>> tables, why = GremliteTables.open(remote)
    >>> with tables.transaction():
    ...     left = tables.insert([{"gf_id": "ip:1", "label": "ip", "n_accounts": 2}],
    ...                          [{"gf_id": "e", "label": "IN_ASN", "src": "ip:1", "dst": "ip:1"}], {})
    >>> g = traversal().with_remote(remote)
    >>> g.V().has("ip", "gf_id", "ip:1").values("n_accounts").to_list(), g.E().count().to_list(), left
    ([2], [1], [])
    """

    def __init__(self, con: sqlite3.Connection):
        self.con = con
        self._string_ids: dict[str, int] = {}

    @classmethod
    def open(cls, remote) -> tuple[GremliteTables | None, str]:
        """``(tables, "")`` for a store this module can write, else ``(None, why not)``."""
        try:
            installed = version("gremlite")
        except PackageNotFoundError:
            return None, "gremlite's version is unknown"
        if installed not in KNOWN_VERSIONS:
            return None, f"gremlite {installed} is not a version whose tables are known ({', '.join(KNOWN_VERSIONS)})"
        con = getattr(remote, "con", None)
        if not isinstance(con, sqlite3.Connection):
            return None, "the gremlite connection has no sqlite3 connection"
        found = set(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                "WHERE tbl_name IN ('quads', 'strings', 'graphelts')").fetchall())
        if found != _SCHEMA:
            return None, "the store's tables are not those of gremlite " + ", ".join(KNOWN_VERSIONS)
        return cls(con), ""

    @contextmanager
    def transaction(self):
        """One write transaction, taken at once (``BEGIN IMMEDIATE``): committed on success, else rolled back.

        Taking the write lock first means no other connection can change the store
        between what the caller reads inside the block and what it writes.
        """
        if self.con.in_transaction:  # gremlite leaves a transaction open until told; ours starts clean
            self.con.commit()
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.con.rollback()
            self._string_ids.clear()  # ids handed out inside the rolled-back transaction are free again
            raise
        self.con.commit()

    def insert(self, vertices: list[dict], edges: list[dict], vertex_ids: dict[str, int],
               chunk_size: int = 20_000) -> list[dict]:
        """Write ``vertices`` and ``edges``, none of which may be in the store yet; return the edges not written.

        Rows are ``gf_id, label`` (+ ``src, dst`` for edges) and properties with
        plain Python values (``None``, bool, int, float, str). ``vertex_ids`` maps
        the ``gf_id`` of vertices already in the store to their gremlite ids; an
        edge with an end in neither ``vertex_ids`` nor ``vertices`` is returned
        untouched, for the caller's upserts to look up (and refuse if it is missing).
        Raises :class:`UnencodableValue` for a value gremlite would store otherwise.
        """
        ids = dict(vertex_ids)
        next_id = self._next_id("graphelts")
        for start in range(0, len(vertices), chunk_size):
            part = vertices[start:start + chunk_size]
            self._intern(_vertex_texts(part))
            quads, elts = [], []
            for r in part:
                v, next_id = next_id, next_id + 1
                ids[r["gf_id"]] = v
                elts.append((v,))
                quads.append((v, _HAS_LABEL, self._string_ids[r["label"]], _NO_ID))
                for k, value in _properties(r, ("label",)):
                    prop, next_id = next_id, next_id + 1
                    elts.append((prop,))
                    quads.append((v, self._string_ids[k], self._encode(value), prop))
            self._write(elts, quads)
        left = []
        for start in range(0, len(edges), chunk_size):
            part = []
            for r in edges[start:start + chunk_size]:
                (part if r["src"] in ids and r["dst"] in ids else left).append(r)
            self._intern(_edge_texts(part))
            quads, elts = [], []
            for r in part:
                e, next_id = next_id, next_id + 1
                elts.append((e,))
                quads.append((ids[r["src"]], -self._string_ids[r["label"]], ids[r["dst"]], -e))
                for k, value in _properties(r, ("label", "src", "dst")):
                    quads.append((-e, self._string_ids[k], self._encode(value), _NO_ID))
            self._write(elts, quads)
        return left

    def update(self, vertices: list[tuple[int, dict, dict]], edges: list[tuple[int, dict, dict]]) -> list[dict]:
        """Set the properties of elements already in the store as ``property(single, k, v)`` would.

        Items are ``(store id, stored properties, row)``. As in gremlite's
        ``Result.set_property``: a property stored with a value equal (``==``) to
        the row's is left alone, one stored with another value gets the new value
        (a vertex property also a new id), a missing one is added; properties the
        row does not have are kept. ``gf_id`` and ``label`` are not touched. A
        vertex with a property stored more than once is not updated here: the
        vertex rows returned are those, for the caller's upserts.
        """
        changes, texts = [], []
        for is_edge, items in ((False, vertices), (True, edges)):
            for element_id, stored, row in items:
                sets = [(k, v, k in stored) for k, v in row.items()
                        if k not in ("gf_id", "label", "src", "dst") and (k not in stored or stored[k] != v)]
                for k, v, _ in sets:  # in the order set_property interns them
                    texts.append(k)  # a stored property's name is in strings already: no new id for it
                    text = _value_text(v)
                    if text is not None:
                        texts.append(text)
                changes.append((is_edge, element_id, row, sets))
        self._intern(texts)
        next_id, left = self._next_id("graphelts"), []
        freed, elts, moved, quads, edge_values = [], [], [], [], []
        for is_edge, element_id, row, sets in changes:
            if is_edge:
                for k, v, replace in sets:
                    if replace:
                        edge_values.append((self._encode(v), -element_id, self._string_ids[k]))
                    else:
                        quads.append((-element_id, self._string_ids[k], self._encode(v), _NO_ID))
                continue
            old = {k: self.con.execute("SELECT g FROM quads WHERE s = ? AND p = ?",
                                       (element_id, self._string_ids[k])).fetchall()
                   for k, _, replace in sets if replace}
            if any(len(ids) != 1 for ids in old.values()):
                left.append(row)
                continue
            for k, v, replace in sets:
                prop, next_id = next_id, next_id + 1
                elts.append((prop,))
                if replace:
                    freed.append(old[k][0])
                    moved.append((self._encode(v), prop, old[k][0][0]))
                else:
                    quads.append((element_id, self._string_ids[k], self._encode(v), prop))
        self.con.executemany("DELETE FROM graphelts WHERE id = ?", freed)
        self.con.executemany("UPDATE quads SET o = ?, g = ? WHERE g = ?", moved)
        self.con.executemany("UPDATE quads SET o = ? WHERE s = ? AND p = ?", edge_values)
        self._write(elts, quads)
        return left

    # ------------------------------------------------------------------ helpers
    def _next_id(self, table: str) -> int:
        # what AUTOINCREMENT would hand out next: past both the sequence and the largest id
        seq = self.con.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        top = self.con.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
        return max(seq[0] if seq else 0, top or 0) + 1

    def _intern(self, texts) -> None:
        """Give each text an id: the one it has in ``strings``, else the next free one, in order of appearance."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._string_ids]
        for start in range(0, len(todo), _IN_CHUNK):
            part = todo[start:start + _IN_CHUNK]
            sql = f"SELECT v, id FROM strings WHERE v IN ({','.join('?' * len(part))})"
            self._string_ids.update(self.con.execute(sql, part))
        next_id, rows = self._next_id("strings"), []
        for t in todo:
            if t not in self._string_ids:
                self._string_ids[t] = next_id
                rows.append((next_id, t))
                next_id += 1
        self.con.executemany("INSERT INTO strings (id, v) VALUES (?, ?)", rows)

    def _encode(self, value) -> int:
        # the order of the tests is gremlite's (querytools.encode_property_value): bool before int
        if value is False:
            return _FALSE
        if value is True:
            return _TRUE
        if value is None:
            return _NONE
        if type(value) is int:
            if not _MIN_INT <= value <= _MAX_INT:
                raise UnencodableValue(f"integer {value} is outside gremlite's range")
            return value + _MIN_INT
        if type(value) is float:
            return self._string_ids[str(value)] + _MAX_INT
        if type(value) is str:
            return self._string_ids[value]
        raise UnencodableValue(f"{type(value).__name__} value {value!r}")

    def _write(self, elts, quads) -> None:
        self.con.executemany("INSERT INTO graphelts (id) VALUES (?)", elts)
        self.con.executemany("INSERT INTO quads (s, p, o, g) VALUES (?, ?, ?, ?)", quads)


def _properties(row: dict, skip: tuple):
    # gf_id first: a traversal sets it in addV/addE, the other properties after it
    yield "gf_id", row["gf_id"]
    for k, v in row.items():
        if k != "gf_id" and k not in skip:
            yield k, v


def _value_text(value):
    if type(value) is float:
        return str(value)
    if type(value) is str:
        return value
    return None


def _vertex_texts(rows):
    # in the order a traversal interns them: the label, then each property's name and value
    for r in rows:
        yield r["label"]
        for k, v in _properties(r, ("label",)):
            yield k
            text = _value_text(v)
            if text is not None:
                yield text


def _edge_texts(rows):
    for r in rows:
        yield r["label"]
        for k, v in _properties(r, ("label", "src", "dst")):
            yield k
            text = _value_text(v)
            if text is not None:
                yield text
