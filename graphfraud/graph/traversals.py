"""The traversals an analyst runs in a Neptune notebook, as Python functions returning DataFrames.

Each query is built once, by a ``build_*`` function over a
``GraphTraversalSource``. Called with a live ``g`` it runs as bytecode with
the values as arguments; called with placeholders it renders the Gremlin text
that ``queries/<name>.gremlin`` holds for ``%%gremlin`` cells, with ``${param}``
where graph-notebook substitutes a notebook variable (the test suite checks the
files against the rendering, so the two cannot drift apart).

Entities used by more than ``max_accounts`` accounts (carrier NATs, VPN exits)
are not walked through: ``n_accounts`` is stored on every IP and device vertex
at load time for that. gremlite has neither numeric predicates nor ``dedup``,
so on gremlite the cap is written ``within(1..max_accounts)`` (the same set for
these positive counts) and duplicates are removed in pandas.

Examples
--------
>>> print(gremlin_text("campaign_victims"))
g.V().has('ip','gf_id','ip:${ip}').inE('USED_IP').project('account_id','logins','fails','first_seen','last_seen').by(__.outV().values('name')).by('logins').by('fails').by('first_seen').by('last_seen')
"""

from __future__ import annotations

import pandas as pd
from gremlin_python.process.graph_traversal import GraphTraversalSource, __
from gremlin_python.process.translator import Translator
from gremlin_python.process.traversal import P, TraversalStrategies
from gremlin_python.structure.graph import Graph

from ..errors import InputError
from .records import EVIDENCE_LABELS

__all__ = ["QUERIES", "gremlin_text", "shared_infrastructure", "ring_expansion", "accounts_near",
           "campaign_victims", "ring_members", "ring_infrastructure", "paths_to_known_bad", "Param"]

_LABEL_OF_TYPE = {v: k for k, v in EVIDENCE_LABELS.items()}


class Param:
    """A bare ``${name}`` placeholder for a number when a query is rendered as text.

    String parameters are rendered as quoted ``'${name}'`` text instead.
    """

    def __init__(self, name: str):
        self.name = name

    def __str__(self) -> str:
        return "${" + self.name + "}"

    __repr__ = __str__


def _full_gremlin(g: GraphTraversalSource) -> bool:
    """False for gremlite, which lacks numeric predicates and dedup()."""
    for s in g.traversal_strategies.traversal_strategies:
        conn = getattr(s, "remote_connection", None)
        if conn is not None and type(conn).__module__.startswith("gremlite"):
            return False
    return True


def _cap(g, max_accounts):
    if _full_gremlin(g) or isinstance(max_accounts, Param):
        return P.lte(max_accounts)
    return P.within(list(range(1, int(max_accounts) + 1)))


def _labels(types) -> list[str]:
    types = [types] if isinstance(types, str) else list(types)
    bad = [t for t in types if t not in _LABEL_OF_TYPE]
    if bad or not types:
        raise InputError(f"identifier types must be among {sorted(_LABEL_OF_TYPE)}, got {types}")
    return [_LABEL_OF_TYPE[t] for t in types]


# ---------------------------------------------------------------------- the traversals

def build_shared_infrastructure(g, account_id, max_accounts=100, types=("ip", "device")):
    labels = _labels(types)
    return (g.V().has("account", "gf_id", f"account:{account_id}").out_e(*labels).as_("mine").in_v()
            .has("n_accounts", _cap(g, max_accounts)).as_("entity")
            .in_e(*labels).as_("theirs").out_v().not_(__.has("gf_id", f"account:{account_id}"))
            .project("account_id", "entity", "entity_type", "entity_accounts", "their_logins", "my_logins")
            .by("name").by(__.select("entity").values("gf_id")).by(__.select("theirs").label())
            .by(__.select("entity").values("n_accounts")).by(__.select("theirs").values("logins"))
            .by(__.select("mine").values("logins")))


def _expand(g, start, hops, max_accounts, types):
    labels = _labels(types)
    t = start.repeat(__.out(*labels).has("n_accounts", _cap(g, max_accounts)).in_(*labels).simple_path())
    return t.times(hops).emit().path().by("gf_id")


def build_ring_expansion(g, ring_id, hops=1, max_accounts=100, types=("ip", "device")):
    return _expand(g, g.V().has("account", "ring_id", ring_id), hops, max_accounts, types)


def build_accounts_near(g, account_id, hops=2, max_accounts=100, types=("ip", "device")):
    return _expand(g, g.V().has("account", "gf_id", f"account:{account_id}"), hops, max_accounts, types)


def build_campaign_victims(g, ip):
    return (g.V().has("ip", "gf_id", f"ip:{ip}").in_e("USED_IP")
            .project("account_id", "logins", "fails", "first_seen", "last_seen")
            .by(__.out_v().values("name")).by("logins").by("fails").by("first_seen").by("last_seen"))


def build_ring_members(g, ring_id):
    return (g.V().has("account", "ring_id", ring_id)
            .project("account_id", "ring_score", "ring_flagged", "ring_size")
            .by("name").by("ring_score").by("ring_flagged").by("ring_size"))


def build_ring_infrastructure(g, ring_id):
    labels = list(EVIDENCE_LABELS)
    return (g.V().has("account", "ring_id", ring_id).out_e(*labels).as_("e").in_v()
            .project("entity", "entity_type", "account_id", "logins", "fails", "entity_edges")
            .by("gf_id").by(__.label()).by(__.select("e").out_v().values("name"))
            .by(__.select("e").values("logins")).by(__.select("e").values("fails"))
            .by(__.in_e(*labels).project("logins", "fails").by("logins").by("fails").fold()))


_KNOWN_KINDS = ("account", "ip", "device")


def _known_ids(known_bad) -> list[str]:
    """``gf_id`` of each known-bad thing, from a ``kind, value`` table or a list of names.

    In a list, ``account:…``, ``ip:…`` and ``device:…`` name themselves and anything
    else is an account id.
    """
    if isinstance(known_bad, pd.DataFrame):
        if not {"kind", "value"} <= set(known_bad.columns):
            raise InputError("known_bad as a table needs columns kind and value (e.g. known_bad_seeds(case))")
        kinds = known_bad["kind"].astype(str).str.lower()
        bad = sorted(set(kinds) - set(_KNOWN_KINDS))
        if bad:
            raise InputError(f"known_bad kinds must be among {list(_KNOWN_KINDS)}, got {bad}")
        return list(dict.fromkeys(kinds + ":" + known_bad["value"].astype(str)))
    if isinstance(known_bad, str):
        known_bad = [known_bad]
    ids = [str(k) if str(k).split(":", 1)[0] in _KNOWN_KINDS and ":" in str(k) else f"account:{k}"
           for k in known_bad]
    return list(dict.fromkeys(ids))


def build_paths_to_known_bad(g, account_id, known_bad, max_hops=3, max_accounts=100, max_paths=10,
                             types=("ip", "device")):
    labels = _labels(types)
    # a notebook passes its list whole: within(${known_bad}), not within([${known_bad}])
    bad = P("within", known_bad) if isinstance(known_bad, Param) else P.within(_known_ids(known_bad))
    body = __.out(*labels).has("n_accounts", _cap(g, max_accounts)).in_(*labels).simple_path()
    start = g.V().has("account", "gf_id", f"account:{account_id}")
    # until() before repeat(): the account itself, and each one reached, is checked before walking on,
    # so a path ends at the first known-bad account it meets, or at the account that used a known-bad entity
    if _full_gremlin(g) or isinstance(max_hops, Param):
        walk = start.until(__.or_(__.has("gf_id", bad), __.out(*labels).has("gf_id", bad),
                                  __.loops().is_(P.gte(max_hops)))).repeat(body)
    else:  # gremlite has no loops(), and takes until() and times() together
        walk = start.until(__.or_(__.has("gf_id", bad), __.out(*labels).has("gf_id", bad))).repeat(body).times(
            int(max_hops))
    # ends that are neither known bad nor next to a known-bad entity (the hop limit) yield nothing here
    return (walk.coalesce(__.has("gf_id", bad), __.out(*labels).has("gf_id", bad))
            .path().by("gf_id").limit(max_paths))


#: query name -> (builder, placeholder arguments for the notebook text)
QUERIES = {
    "shared_infrastructure": (build_shared_infrastructure,
                              dict(account_id="${account_id}", max_accounts=Param("max_accounts"))),
    "ring_expansion": (build_ring_expansion,
                       dict(ring_id="${ring_id}", hops=Param("hops"), max_accounts=Param("max_accounts"))),
    "accounts_near": (build_accounts_near,
                      dict(account_id="${account_id}", hops=Param("hops"), max_accounts=Param("max_accounts"))),
    "campaign_victims": (build_campaign_victims, dict(ip="${ip}")),
    "ring_members": (build_ring_members, dict(ring_id="${ring_id}")),
    "ring_infrastructure": (build_ring_infrastructure, dict(ring_id="${ring_id}")),
    "paths_to_known_bad": (build_paths_to_known_bad,
                           dict(account_id="${account_id}", known_bad=Param("known_bad"), max_hops=Param("max_hops"),
                                max_accounts=Param("max_accounts"), max_paths=Param("max_paths"))),
}


def gremlin_text(name: str, **params) -> str:
    """The Gremlin text of query ``name`` for a ``%%gremlin`` cell, ``${param}`` placeholders by default.

    Values in ``params`` replace placeholders (useful to show what ran); they
    are rendered as Gremlin literals, never pasted into the text as they are.
    """
    if name not in QUERIES:
        raise InputError(f"unknown Gremlin query {name!r}; known: {sorted(QUERIES)}")
    build, placeholders = QUERIES[name]
    g = GraphTraversalSource(Graph(), TraversalStrategies())
    return Translator("g").translate(build(g, **{**placeholders, **params}).bytecode)


def _frame(rows, columns) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    return df.drop_duplicates().reset_index(drop=True)


def shared_infrastructure(g, account_id: str, max_accounts: int = 100, types=("ip", "device")) -> pd.DataFrame:
    """Accounts sharing an IP or device with ``account_id``, through entities used by at most ``max_accounts``.

    One row per (other account, shared entity): ``account_id, entity, entity_type,
    entity_accounts, their_logins, my_logins``, most-shared accounts first.
    """
    cols = ["account_id", "entity", "entity_type", "entity_accounts", "their_logins", "my_logins"]
    df = _frame(build_shared_infrastructure(g, account_id, max_accounts, types).to_list(), cols)
    df["entity_type"] = df["entity_type"].map(EVIDENCE_LABELS)
    shared = df.groupby("account_id")["entity"].transform("size") if len(df) else df["entity"]
    return (df.assign(_n=shared).sort_values(["_n", "account_id", "entity"], ascending=[False, True, True])
            .drop(columns="_n").reset_index(drop=True))


def _hops_frame(paths, seeds_are_results: bool) -> pd.DataFrame:
    rows = []
    for p in paths:
        objs = list(getattr(p, "objects", p))
        rows.append((objs[0], objs[-1], (len(objs) - 1) // 2, objs[-2] if len(objs) > 1 else None))
    df = pd.DataFrame(rows, columns=["from", "account", "hops", "via"])
    seeds = set(df["from"])
    df = df[~df["account"].isin(seeds)] if not seeds_are_results else df
    df = df.sort_values(["account", "hops", "via"]).drop_duplicates("account")
    return pd.DataFrame({"account_id": df["account"].str.slice(len("account:")), "hops": df["hops"],
                         "via": df["via"], "from_account": df["from"].str.slice(len("account:"))}
                        ).sort_values(["hops", "account_id"]).reset_index(drop=True)


def ring_expansion(g, ring_id: str, hops: int = 1, max_accounts: int = 100, types=("ip", "device")) -> pd.DataFrame:
    """Accounts within ``hops`` shared-identifier hops of ring ``ring_id``'s members, who are not members.

    ``types`` chooses the identifiers walked (``"ip"``, ``"device"``). Returns
    ``account_id, hops, via`` (the last entity on a shortest path) and ``from_account``.
    """
    return _hops_frame(build_ring_expansion(g, ring_id, hops, max_accounts, types).to_list(), False)


def accounts_near(g, account_id: str, hops: int = 2, max_accounts: int = 100, types=("ip", "device")) -> pd.DataFrame:
    """Accounts within ``hops`` shared-identifier hops of a known-bad account (``account_id, hops, via``)."""
    return _hops_frame(build_accounts_near(g, account_id, hops, max_accounts, types).to_list(), False)


def campaign_victims(g, ip: str) -> pd.DataFrame:
    """Accounts an IP logged in to or failed against; ``successes > 0`` marks takeover candidates."""
    cols = ["account_id", "logins", "fails", "first_seen", "last_seen"]
    df = _frame(build_campaign_victims(g, ip).to_list(), cols)
    df.insert(3, "successes", df["logins"] - df["fails"])
    return df.sort_values(["successes", "fails", "account_id"], ascending=[False, False, True]).reset_index(drop=True)


def ring_members(g, ring_id: str) -> pd.DataFrame:
    """The accounts carrying ``ring_id`` (written back by ``find_rings`` on a graph store)."""
    cols = ["account_id", "ring_score", "ring_flagged", "ring_size"]
    return _frame(build_ring_members(g, ring_id).to_list(), cols).sort_values("account_id").reset_index(drop=True)


def ring_infrastructure(g, ring_id: str) -> pd.DataFrame:
    """IPs and devices through which two or more members of ring ``ring_id`` logged in successfully.

    The same definition as the case folder's ``shared_infrastructure.csv``: every
    count is of successful logins over the period the store was loaded with
    (``analyze`` loads the analysis period, ``since``/``until``). Returns
    ``entity, entity_type, members_with_success, accounts_with_success,
    member_success_logins, member_ids`` (``;``-separated);
    ``accounts_with_success`` above ``members_with_success`` means outsiders
    logged in through it too. Most-shared first, then by entity.
    """
    cols = ["entity", "entity_type", "account_id", "logins", "fails", "entity_edges"]
    rows = build_ring_infrastructure(g, ring_id).to_list()
    df = pd.DataFrame(rows, columns=cols)
    out_cols = ["entity", "entity_type", "members_with_success", "accounts_with_success", "member_success_logins",
                "member_ids"]
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in out_cols})
    df["success"] = df["logins"].astype("int64") - df["fails"].astype("int64")
    # one row per (member, entity) edge; the walk may reach an edge more than once
    df = df.drop_duplicates(["entity", "account_id"])
    df = df[df["success"] > 0]
    everyone = {e: sum(1 for x in edges if int(x["logins"]) > int(x["fails"]))
                for e, edges in zip(df["entity"], df["entity_edges"])}
    out = df.groupby(["entity", "entity_type"], as_index=False).agg(
        members_with_success=("account_id", "nunique"), member_success_logins=("success", "sum"),
        member_ids=("account_id", lambda s: ";".join(sorted(s))))
    out["accounts_with_success"] = out["entity"].map(everyone).astype("int64")
    out = out[out["members_with_success"] >= 2]
    return (out[out_cols].sort_values(["members_with_success", "entity"], ascending=[False, True], kind="stable")
            .reset_index(drop=True))


def _path_words(ids) -> str:
    """``A1 -[ip 1.1.1.1]- A2 -[device d1]``: accounts by id, IPs and devices in brackets."""
    text = ""
    for gf_id in ids:
        kind, value = gf_id.split(":", 1)
        if kind != "account":
            text += f" -[{kind} {value}]"
        else:
            text += ("- " if text else "") + value
    return text


def paths_to_known_bad(g, account_id: str, known_bad, max_hops: int = 3, max_paths: int = 10,
                       max_accounts: int = 100, types=("ip", "device")) -> pd.DataFrame:
    """Paths from ``account_id`` to known-bad accounts, IPs or devices through shared IPs and devices.

    ``known_bad`` is a ``kind, value`` table (:func:`graphfraud.rings.known_bad.known_bad_seeds`)
    or a list of names: ``ip:…``, ``device:…``, ``account:…`` or a bare account id.
    Entities used by more than ``max_accounts`` accounts are not walked through,
    though a known-bad one is an end. A path stops at the first known-bad thing it
    meets, so a known-bad account's own neighbours are not listed beyond it (and
    a known-bad ``account_id`` gives the one 0-hop path to itself).

    Returns
    -------
    DataFrame
        ``hops`` (IPs and devices on the path), ``path`` (``A1 -[device d1]- A3
        -[ip 9.9.9.9]- A4``), ``known_bad`` (the account id, or ``ip:…``/``device:…``);
        at most ``max_paths`` simple paths of at most ``max_hops`` hops, shortest
        first. gremlite walks breadth-first, so the paths kept are the shortest;
        a server may keep others.
    """
    cols = ["hops", "path", "known_bad"]
    if int(max_hops) < 1 or int(max_paths) < 1:
        raise InputError(f"max_hops and max_paths must be positive, got {max_hops!r} and {max_paths!r}")
    known = _known_ids(known_bad)
    if not known:
        return pd.DataFrame({"hops": pd.Series(dtype="int64"), "path": pd.Series(dtype=object),
                             "known_bad": pd.Series(dtype=object)})
    rows = []
    for p in build_paths_to_known_bad(g, account_id, known, max_hops, max_accounts, max_paths, types).to_list():
        ids = [str(o) for o in getattr(p, "objects", p)]
        end = ids[-1]
        rows.append((len(ids) // 2, _path_words(ids), end.split(":", 1)[1] if end.startswith("account:") else end))
    df = pd.DataFrame(rows, columns=cols).astype({"hops": "int64"})
    # the last hop to a known-bad entity can be one past max_hops
    df = df[df["hops"] <= int(max_hops)].drop_duplicates()
    return df.sort_values(["hops", "path"], kind="stable").reset_index(drop=True)
