"""Known-bad exposure: how close every account is to known-bad accounts, IPs and devices, and why.

Seeds (:func:`known_bad_seeds`) are what was known to be bad at ``as_of``:
blocklisted accounts, IPs and devices, accounts of a blocklisted e-mail domain,
accounts with a security finding and, on request, accounts with a chargeback.
:func:`exposure` scores every account of the activity table against them and
explains the score with the shortest path to a seed.

Propagation
    A random walk with restart (personalised PageRank) on the bipartite
    account–IP/device graph of the activity: one edge per distinct
    ``(account, entity)`` pair, weight 1. How many logins or days an account
    used an entity is left out on purpose: a ring's burner device used once is
    as damning as a household laptop used daily, and weighting by use would
    tie exposure to how active an account is. Entities used by one account only
    are left out too (unless they are seeds): they link nobody, and in the walk
    they only send it back to the same account, which would inflate every
    account with many private IPs or devices. From an account the walk takes one
    of its entities uniformly; from an entity one of that entity's accounts
    uniformly; at every step it restarts at the seeds with probability
    ``alpha`` (0.15, the usual PageRank value: about ``(1 - alpha) / alpha`` ≈ 6
    steps, three account-to-account hops, between restarts). Every seed starts
    its own walk (the restart vector is 1 on each seed, not 1/|seeds|), so a
    seed far away does not dilute the others.

Hub damping
    Sharing a carrier NAT with a seed says almost nothing. Plain PageRank
    already splits what an entity hands on over its ``d`` users, but the entity
    still hands on *all* of it: a NAT with 500 honest users passes the seed's
    walk intact into the honest crowd, and from there through each user's own
    IPs and devices. Here the walk passes through an entity with probability
    ``min(1, (hub_accounts / d) ** hub_power)`` and otherwise stops (it is
    absorbed). With the defaults (``hub_accounts=10``, ``hub_power=1``) an
    entity of up to 10 accounts (a household, a small office, a ring's device)
    passes the walk on fully, while a hub hands on a share ``10 / d`` of what
    reaches it in total and ``10 / d**2`` to each user: a 300-account NAT passes
    3% in all, 0.01% to each user, against 50% to the other user of a private
    device. A power of 1 is the gentlest that bounds what a hub spreads
    (``hub_power=0.5`` would still let a 1,000-account NAT pass 10%), and
    stronger powers would also choke the 20–60 account proxies and device farms
    rings use (``hub_power=2`` passes a 20-account proxy at 25%). Stopping the
    walk, rather than steering it to the account's other entities, keeps "this
    seed's only link is a NAT" weak instead of pushing all of its weight onto
    its other links. An entity that is itself a seed (a blocklisted IP) is not
    damped: using it is the evidence. On synthetic cases
    (``bench/bench_exposure.py``) the damping moves AUCs by under 0.01 either
    way; what it changes is that hub users stay near 0. Power iteration on ``scipy.sparse``
    matrices converges to ``tol`` (L1 change per seed) or stops at ``max_iter``.

Normalisation
    An account's score ``x``, divided by ``alpha``, is the discounted number of
    times the walks started at the seeds visit it. ``v = x / (alpha * (1 -
    alpha) ** 2)`` counts those visits in units of one sure account-to-account
    hop (two steps of the walk), and ``exposure = 1 - exp(-v)``: the chance of
    at least one such visit if visits were Poisson. It is bounded, keeps the
    order of the scores (no ties at a cap), is close to ``v`` when small, and is
    absolute: it does not depend on how many seeds there are or on the
    best-scored account, so an account near no seed scores about 0 even when
    nothing scores higher. Sharing the one shared device of a seed with nobody
    else gives about 0.8; sharing only a 300-account carrier NAT with a seed,
    under 0.0001 (0.008 without the damping). Seeds are 1.0.

Paths
    ``hops`` counts the IPs and devices on a shortest path to a seed (account
    – entity – account is one hop; an account that used a blocklisted IP is one
    hop from it; a seed is 0; ``<NA>`` when no path exists). The breadth-first
    search starts from every seed at once and never walks through an entity of
    more than ``max_path_accounts`` accounts (as rings' ``max_entity_accounts``);
    a seed entity is an end, so its users are one hop away however many there
    are. At equal length the least-used entity is chosen, the most specific
    evidence. ``path`` spells the path out, e.g. ``A17 -[ip 203.0.113.9]- A9
    -[device dev-3]- A2 (blocklist: mule account)``, up to ``max_hops`` hops
    (longer paths end ``-[k more hops]- <seed> (<why>)``, or ``-[k more hops to
    ip …] (<why>)`` for a seed IP or device).

Only accounts in the activity (successful logins through an IP or device) are
scored: an account of the case with no such login has no shared
infrastructure, so it is not in the table, even when it is a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
from scipy import sparse

from ..case import Case
from ..case.arrays import distinct_rows, run_starts, sort_order, window_mask
from ..case.period import parse_time
from ..errors import InputError
from ..graph.activity import Activity, entity_activity

__all__ = ["ExposureParams", "exposure", "known_bad_seeds", "EXPOSURE_COLUMNS", "SEED_COLUMNS", "SEED_KINDS"]

EXPOSURE_COLUMNS = ["account_id", "exposure", "hops", "nearest_known_bad", "path"]
SEED_COLUMNS = ["kind", "value", "source", "since"]
#: kinds of seed that are nodes of the graph
SEED_KINDS = ("account", "ip", "device")


@dataclass(frozen=True)
class ExposureParams:
    """Parameters of :func:`exposure` (the module docstring explains each choice).

    Attributes
    ----------
    alpha
        restart probability per step of the walk (0.15).
    hub_accounts, hub_power
        hub damping: the walk passes through an entity of ``d`` accounts with
        probability ``min(1, (hub_accounts / d) ** hub_power)`` (10 and 1.0).
    max_path_accounts
        paths never go through an entity used by more accounts than this (100).
    max_hops
        paths are spelled out hop by hop up to this many hops (4).
    tol, max_iter
        power iteration stops when the L1 change per seed is below ``tol``
        (1e-10), or after ``max_iter`` iterations (1000).
    """

    alpha: float = 0.15
    hub_accounts: float = 10
    hub_power: float = 1.0
    max_path_accounts: int = 100
    max_hops: int = 4
    tol: float = 1e-10
    max_iter: int = 1000

    def __post_init__(self):
        problems = []
        if not 0 < self.alpha < 1:
            problems.append(f"alpha must be in (0, 1), got {self.alpha!r}")
        if not self.hub_accounts > 0:
            problems.append(f"hub_accounts must be positive, got {self.hub_accounts!r}")
        if not self.hub_power >= 0:
            problems.append(f"hub_power must be 0 or more, got {self.hub_power!r}")
        for name in ("max_path_accounts", "max_hops", "max_iter"):
            if not int(getattr(self, name)) >= 1:
                problems.append(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not self.tol > 0:
            problems.append(f"tol must be positive, got {self.tol!r}")
        if problems:
            raise InputError("; ".join(problems))


# ---------------------------------------------------------------------- seeds

def known_bad_seeds(case: Case, as_of=None, include_chargebacks: bool = False) -> pd.DataFrame:
    """What was known to be bad at ``as_of``: one row per (kind, value, source).

    Sources: ``case.security_findings`` (``finding_ts <= as_of``), the case's
    ``blocklist`` table when it has one (``listed_ts <= as_of``; a missing
    ``listed_ts`` means listed before the case, always a seed) and, with
    ``include_chargebacks``, payments with status ``CHARGEBACK``
    (``payment_ts <= as_of``). A blocklisted ``email_domain`` makes a seed of
    every account in ``case.users`` with that e-mail domain (case ignored).
    Blocklisted merchants are not seeds: a merchant is not a node of the
    account–IP/device graph.

    Returns
    -------
    DataFrame
        ``kind`` (account, ip, device), ``value``, ``source`` (``"security
        finding: <type>"``, ``"blocklist: <reason>"``, ``"chargeback"``),
        ``since`` (first time known; NaT for a listing older than the case),
        sorted by kind, value, since.

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> lg = pd.DataFrame({"event_ts": ["2025-08-01 10:00"], "account_id": ["A1"], "ip": ["1.1.1.1"],
    ...     "country_iso": ["DE"], "result": ["SUCCESS"], "mfa_used": [0], "device_id": ["d1"]})
    >>> sf = pd.DataFrame({"finding_ts": ["2025-08-02", "2025-09-01"], "account_id": ["A1", "A2"],
    ...     "type": ["CREDENTIAL_EXFIL", "BRUTE_FORCE"], "severity": ["HIGH", "LOW"]})
    >>> case = graphfraud.case_from_frames(logins=lg, security_findings=sf)
    >>> known_bad_seeds(case, as_of="2025-08-15")[["kind", "value", "source"]].values.tolist()
    [['account', 'A1', 'security finding: CREDENTIAL_EXFIL']]
    """
    as_of = parse_time(as_of, "as_of")
    parts = []
    f = case.security_findings
    keep = window_mask(f["finding_ts"], None, as_of)
    kind = f["type"].astype(object).where(f["type"].notna(), None)[keep]
    parts.append(pd.DataFrame({
        "kind": "account", "value": f["account_id"][keep].astype(str).to_numpy(dtype=object),
        "source": ["security finding" if t is None or t == "" else f"security finding: {t}" for t in kind],
        "since": f["finding_ts"][keep].to_numpy(dtype="datetime64[ns]")}))
    if include_chargebacks:
        p = case.payments
        keep = window_mask(p["payment_ts"], None, as_of) & (p["status"].to_numpy(dtype=object) == "CHARGEBACK")
        parts.append(pd.DataFrame({"kind": "account", "value": p["account_id"][keep].astype(str).to_numpy(dtype=object),
                                   "source": "chargeback",
                                   "since": p["payment_ts"][keep].to_numpy(dtype="datetime64[ns]")}))
    if len(case.blocklist):
        parts.append(_blocklist_seeds(case.blocklist, case.users, as_of))
    return _tidy_seeds(pd.concat(parts, ignore_index=True))


def _blocklist_seeds(blocklist: pd.DataFrame, users: pd.DataFrame, as_of) -> pd.DataFrame:
    """Seeds from the case's (validated) blocklist: ``kind, value, reason, listed_ts`` (merchants left out)."""
    kind = blocklist["kind"].astype(object).to_numpy()
    listed = blocklist["listed_ts"].to_numpy(dtype="datetime64[ns]")
    # NaT: listed before the case began, so known at any as_of
    keep = np.isnat(listed) if as_of is not None else np.ones(len(kind), dtype=bool)
    if as_of is not None:
        keep |= ~np.isnat(listed) & (listed <= as_of.to_datetime64())
    reason = blocklist["reason"].astype(object).where(blocklist["reason"].notna(), "").astype(str).to_numpy(object)
    source = np.array([f"blocklist: {r}" if r else "blocklist" for r in reason], dtype=object)
    value = blocklist["value"].astype(str).to_numpy(dtype=object)
    direct = keep & np.isin(kind, SEED_KINDS)
    out = [pd.DataFrame({"kind": kind[direct], "value": value[direct], "source": source[direct],
                         "since": listed[direct]})]
    domain = keep & (kind == "email_domain")
    if domain.any() and len(users):
        listing = pd.DataFrame({"domain": pd.Series(value[domain]).str.strip().str.lower().to_numpy(),
                                "source": source[domain], "since": listed[domain], "shown": value[domain]})
        accounts = pd.DataFrame({"value": users["account_id"].astype(str).to_numpy(dtype=object),
                                 "domain": users["email_domain"].astype(str).str.strip().str.lower().to_numpy()})
        hit = accounts[users["email_domain"].notna().to_numpy()].merge(listing, on="domain")
        out.append(pd.DataFrame({"kind": "account", "value": hit["value"].to_numpy(dtype=object),
                                 "source": (hit["source"] + " (email domain " + hit["shown"] + ")").to_numpy(object),
                                 "since": hit["since"].to_numpy(dtype="datetime64[ns]")}))
    return pd.concat(out, ignore_index=True)


def _tidy_seeds(seeds: pd.DataFrame) -> pd.DataFrame:
    """One row per (kind, value, source), the earliest ``since`` (NaT first: listed before the case)."""
    seeds = seeds.astype({"kind": object, "value": object, "source": object})
    seeds["since"] = pd.to_datetime(seeds["since"]).astype("datetime64[ns]")
    seeds = seeds.sort_values(["kind", "value", "since", "source"], na_position="first", kind="stable")
    return seeds.drop_duplicates(["kind", "value", "source"]).reset_index(drop=True)[SEED_COLUMNS]


def _given_seeds(seeds) -> pd.DataFrame:
    """``seeds=`` as a seed table: a DataFrame with ``kind, value`` or a list of account ids."""
    if isinstance(seeds, pd.DataFrame):
        missing = [c for c in ("kind", "value") if c not in seeds]
        if missing:
            raise InputError(f"seeds= needs columns kind and value (missing {missing}); or pass a list of account ids")
        kind = seeds["kind"].astype(str).str.strip().str.lower()
        unknown = sorted(set(kind) - set(SEED_KINDS))
        if unknown:
            raise InputError(f"seed kinds {unknown} are unknown; expected one of {list(SEED_KINDS)}")
        out = pd.DataFrame({"kind": kind.to_numpy(dtype=object), "value": seeds["value"].astype(str).to_numpy(object),
                            "source": (seeds["source"].astype(str).to_numpy(object) if "source" in seeds else "given"),
                            "since": (seeds["since"].to_numpy() if "since" in seeds else pd.NaT)})
        return _tidy_seeds(out)
    if isinstance(seeds, str):
        raise InputError("seeds= must be a list of account ids or a DataFrame with kind and value, got one string")
    ids = [str(s) for s in seeds]
    return _tidy_seeds(pd.DataFrame({"kind": "account", "value": pd.Series(ids, dtype=object), "source": "given",
                                     "since": pd.NaT}))


# ---------------------------------------------------------------------- exposure

def exposure(case: Case, seeds=None, *, activity: Activity | None = None, as_of=None,
             include_chargebacks: bool = False, params: ExposureParams | None = None, **overrides) -> pd.DataFrame:
    """How exposed every account is to known-bad accounts, IPs and devices, with the path that explains it.

    Parameters
    ----------
    case
        the loaded case.
    seeds
        default :func:`known_bad_seeds` ``(case, as_of, include_chargebacks)``; or a
        DataFrame with ``kind`` (account, ip, device) and ``value`` (``source``
        optional), or a list of account ids.
    activity
        the coded activity to score; default ``entity_activity(case, until=as_of)``.
        One read from a graph store (``store.activity(until=as_of)``) gives the same frame.
    as_of
        what was known then: seeds and logins up to this time (default: everything).
    include_chargebacks
        chargebacks up to ``as_of`` are seeds too (only when ``seeds`` is None).
    params, overrides
        :class:`ExposureParams`; keyword arguments replace its fields
        (``exposure(case, alpha=0.2)``).

    Returns
    -------
    DataFrame
        ``account_id, exposure`` (0–1, seeds 1.0; the module docstring says how), ``hops``
        (Int64, ``<NA>`` when no path avoids the hubs), ``nearest_known_bad`` (a seed account's id or a seed
        entity such as ``ip:1.2.3.4``; missing when unreachable), ``path`` (words;
        ``""`` when unreachable). One row per account of the activity, most exposed
        first, then by account id. ``attrs`` records ``params``, ``as_of``, ``seeds``
        (rows of the seed table), ``seeds_in_activity`` (seed accounts and entities in
        the graph) and ``iterations`` (of the power iteration).

    Examples
    --------
    >>> import pandas as pd, graphfraud
    >>> lg = pd.DataFrame({"event_ts": ["2025-08-01 10:00"] * 4, "account_id": ["S", "A", "A", "B"],
    ...     "ip": ["9.9.9.1", "9.9.9.2", "1.1.1.1", "1.1.1.1"], "country_iso": ["DE"] * 4,
    ...     "result": ["SUCCESS"] * 4, "mfa_used": [0] * 4, "device_id": ["d1", "d1", None, None]})
    >>> out = exposure(graphfraud.case_from_frames(logins=lg), seeds=["S"])
    >>> out[["account_id", "hops", "nearest_known_bad"]].values.tolist()
    [['S', 0, 'S'], ['A', 1, 'S'], ['B', 2, 'S']]
    >>> print(out["path"].iloc[2])
    B -[ip 1.1.1.1]- A -[device d1]- S (given)
    """
    if not isinstance(case, Case):
        raise InputError(f"exposure needs a Case (graphfraud.load_case(path)), got {type(case).__name__}")
    params = params if params is not None else ExposureParams()
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in fields(ExposureParams)})
        if unknown:
            raise InputError(f"unknown exposure parameter(s) {unknown}; "
                             f"known: {[f.name for f in fields(ExposureParams)]}")
        params = replace(params, **overrides)
    as_of = parse_time(as_of, "as_of")
    if activity is None:
        activity = entity_activity(case, until=as_of)
    elif not isinstance(activity, Activity):
        raise InputError(f"activity must be an Activity (entity_activity(case) or store.activity()), "
                         f"got {type(activity).__name__}")
    seed_table = known_bad_seeds(case, as_of, include_chargebacks) if seeds is None else _given_seeds(seeds)

    n_a, n_e = activity.n_accounts, activity.n_entities
    acc, ent = distinct_rows(activity.account.astype(np.int64), activity.entity.astype(np.int64))
    incidence = sparse.csr_matrix((np.ones(len(acc)), (acc, ent)), shape=(n_a, n_e))
    seed_node, reason = _seed_nodes(activity, seed_table)
    score, iterations = _walk(incidence, seed_node, n_a, params)
    hops, via, e_from, origin = _bfs(incidence, seed_node, n_a, params.max_path_accounts)

    expo = -np.expm1(-score / (params.alpha * (1 - params.alpha) ** 2))
    expo[seed_node[seed_node < n_a]] = 1.0
    names = _node_names(activity)
    reached = hops >= 0
    nearest = np.full(n_a, None, dtype=object)
    nearest[reached] = names[origin[:n_a][reached]]
    path = _paths(activity, hops, via, e_from, origin, reason, params.max_hops)
    order = np.lexsort((np.arange(n_a), -expo))
    out = pd.DataFrame({
        "account_id": activity.accounts[order],
        "exposure": expo[order],
        "hops": pd.arrays.IntegerArray(np.where(reached, hops, 0)[order], ~reached[order]),
        "nearest_known_bad": nearest[order],
        "path": path[order]})
    out.attrs.update(params={f.name: getattr(params, f.name) for f in fields(params)},
                     as_of=None if as_of is None else str(as_of), seeds=len(seed_table),
                     seeds_in_activity=len(seed_node), iterations=iterations)
    return out


def _node_names(activity: Activity) -> np.ndarray:
    """Node index -> the name a seed is reported by: account id, or ``ip:…``/``device:…``."""
    return np.concatenate([activity.accounts, activity.entities]).astype(object)


def _seed_nodes(activity: Activity, seeds: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """Node indices of the seeds in the activity (accounts, then ``n_accounts + entity``) and why each is bad."""
    kind, value = seeds["kind"].to_numpy(dtype=object), seeds["value"].to_numpy(dtype=object)
    node = np.full(len(seeds), -1, dtype=np.int64)
    is_acc = kind == "account"
    node[is_acc] = activity.account_codes(value[is_acc])
    if (~is_acc).any() and activity.n_entities:
        names = (kind[~is_acc] + ":" + value[~is_acc]).astype(object)
        pos = np.minimum(np.searchsorted(activity.entities, names), activity.n_entities - 1)
        found = activity.entities[pos] == names
        node[~is_acc] = np.where(found, pos + activity.n_accounts, -1)
    keep = node >= 0
    why = (pd.DataFrame({"node": node[keep], "source": seeds["source"].to_numpy(dtype=object)[keep]})
           .groupby("node", sort=True)["source"].agg(lambda s: "; ".join(dict.fromkeys(s))))
    return why.index.to_numpy(dtype=np.int64), dict(zip(why.index.tolist(), why.tolist()))


def _walk(incidence: sparse.csr_matrix, seed_node: np.ndarray, n_a: int, params: ExposureParams):
    """Scores of the walk with restart to every seed, hubs damped (see the module docstring): accounts, iterations."""
    n_e = incidence.shape[1]
    if not len(seed_node):
        return np.zeros(n_a), 0
    ent_seeds = seed_node[seed_node >= n_a] - n_a
    deg_e = np.asarray(incidence.sum(axis=0)).ravel()
    linking = deg_e >= 2
    linking[ent_seeds] = True
    walk = (incidence @ sparse.diags(linking.astype(float))).tocsr()
    walk.eliminate_zeros()
    deg_a = np.asarray(walk.sum(axis=1)).ravel()
    passes = np.minimum(1.0, (params.hub_accounts / np.maximum(deg_e, 1)) ** params.hub_power)
    passes[ent_seeds] = 1.0  # using a blocklisted entity is the evidence itself
    s_a, s_e = np.zeros(n_a), np.zeros(n_e)
    s_a[seed_node[seed_node < n_a]] = 1.0
    s_e[ent_seeds] = 1.0
    a_out = np.where(deg_a > 0, 1.0 / np.maximum(deg_a, 1), 0.0)
    e_out = np.where(linking, passes / np.maximum(deg_e, 1), 0.0)
    to_entities = walk.T.tocsr()
    alpha, keep = params.alpha, 1 - params.alpha
    x_a, x_e = alpha * s_a, alpha * s_e
    tol = params.tol * len(seed_node)
    for it in range(1, int(params.max_iter) + 1):
        # Gauss-Seidel order (entities from the current accounts, then accounts from the new entities):
        # the same fixed point as two Jacobi half-steps, in half the iterations
        new_e = alpha * s_e + keep * (to_entities @ (x_a * a_out))
        new_a = alpha * s_a + keep * (walk @ (new_e * e_out))
        change = np.abs(new_a - x_a).sum() + np.abs(new_e - x_e).sum()
        x_a, x_e = new_a, new_e
        if change < tol:
            break
    return x_a, it


def _bfs(incidence: sparse.csr_matrix, seed_node: np.ndarray, n_a: int, max_path_accounts: int):
    """Shortest paths from all seeds at once, one sparse step per level, never through a hub.

    Returns per account ``hops`` (-1 unreached) and ``via`` (the entity it was reached
    through), per entity ``e_from`` (the account it was reached from, -1 for a seed
    entity) and per node the seed it leads back to (``origin``, accounts then entities).
    """
    n_e = incidence.shape[1]
    by_entity = incidence.tocsc()
    deg_e = np.diff(by_entity.indptr)
    walkable = deg_e <= max_path_accounts
    hops = np.full(n_a, -1, dtype=np.int64)
    via = np.full(n_a, -1, dtype=np.int64)
    e_from = np.full(n_e, -1, dtype=np.int64)
    origin = np.full(n_a + n_e, -1, dtype=np.int64)
    origin[seed_node] = seed_node
    seed_acc, seed_ent = seed_node[seed_node < n_a], seed_node[seed_node >= n_a] - n_a
    hops[seed_acc] = 0
    e_seen = np.zeros(n_e, dtype=bool)
    e_seen[seed_ent] = True
    frontier, level = seed_acc, 0
    while len(frontier) or (level == 0 and len(seed_ent)):
        level += 1
        # entities first reached from this level's accounts; each keeps the lowest-coded account
        rows = incidence[frontier].tocoo()
        a, e = frontier[rows.row], rows.col.astype(np.int64)
        ok = walkable[e] & ~e_seen[e]
        a, e = a[ok], e[ok]
        first = sort_order(e, a)
        a, e = a[first], e[first]
        start = run_starts(e)
        new_e = e[start]
        e_from[new_e], e_seen[new_e] = a[start], True
        origin[n_a + new_e] = origin[a[start]]
        if level == 1:
            new_e = np.concatenate([seed_ent, new_e])
        # accounts first reached through those entities; each keeps the least-used one (the most specific)
        cols = by_entity[:, new_e].tocoo()
        a, e = cols.row.astype(np.int64), new_e[cols.col]
        ok = hops[a] < 0
        a, e = a[ok], e[ok]
        first = sort_order(a, deg_e[e], e)
        a, e = a[first], e[first]
        start = run_starts(a)
        frontier = a[start]
        hops[frontier], via[frontier] = level, e[start]
        origin[frontier] = origin[n_a + e[start]]
    return hops, via, e_from, origin


def _paths(activity: Activity, hops, via, e_from, origin, reason: dict, max_hops: int) -> np.ndarray:
    """``path`` per account: back along the parents, one hop per step for all reached accounts at once."""
    n_a = activity.n_accounts
    out = np.full(n_a, "", dtype=object)
    reached = np.flatnonzero(hops >= 0)
    if not len(reached):
        return out
    accounts = activity.accounts.astype(object)
    shown = pd.Series(activity.entities, dtype=object).str.replace(":", " ", n=1, regex=False).to_numpy(dtype=object)
    text = accounts[reached].copy()
    cur = reached.copy()  # the account each path has got to; -1 once it ended at a seed entity
    for _ in range(int(max_hops)):
        live = np.flatnonzero((cur >= 0) & (hops[np.maximum(cur, 0)] > 0))
        if not len(live):
            break
        e = via[cur[live]]
        back = e_from[e]
        text[live] = text[live] + " -[" + shown[e] + "]"
        to_acc = back >= 0
        text[live[to_acc]] = text[live[to_acc]] + "- " + accounts[back[to_acc]]
        cur[live] = back
    left = np.flatnonzero((cur >= 0) & (hops[np.maximum(cur, 0)] > 0))
    if len(left):
        # longer than max_hops: say how much is left and where it ends
        names = np.concatenate([accounts, shown]).astype(object)
        more = [f" -[{r} more hop{'s' if r > 1 else ''}]- {names[o]}" if o < n_a
                else f" -[{r} more hop{'s' if r > 1 else ''} to {names[o]}]"
                for r, o in zip(hops[cur[left]], origin[cur[left]])]
        text[left] = text[left] + np.array(more, dtype=object)
    why = pd.Series(reason, dtype=object).reindex(origin[reached]).fillna("").to_numpy(dtype=object)
    out[reached] = text + " (" + why + ")"
    return out
