"""Ring-level case folders: everything an analyst needs to open one case on a whole ring.

A folder is for people. Every count in it is of the **analysis period** (the
``since``/``until`` of the run, written at the top of ``summary.md`` and in
``case.json``) and its column says what it counts (``success_logins``,
``members_with_success``, ...), the same definition as the graph page's
tooltips and the ``ring_infrastructure`` notebook traversal. Every table is
sorted by a total order, so the same case gives the same bytes however its rows
were ordered. Text cells that a spreadsheet would run as a formula are made
inert (see :func:`formula_safe`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..case import BAD_PAYMENT_STATUSES, Case, Periods, resolve_periods
from ..case.arrays import column_isin, column_values
from ..case.schema import TIME_FORMAT as _TS
from ..errors import InputError
from ..graph.build import build_graph
from ..detect.micro import spike_counts
from ..graph.view import annotate_rings, annotate_spikes, explore, write_assets
from ..rings import RingResult
from .money import alert_rings, has_money_side, money_side, with_ring_spikes
from .report import markdown_table, md_escape

__all__ = ["open_case", "open_ring_cases", "recommended_actions", "formula_safe", "CASE_FILES", "MONEY_CASE_FILES",
           "ASSETS",
           "MEMBER_COLUMNS", "INFRASTRUCTURE_COLUMNS", "INDEX_COLUMNS"]

CASE_FILES = ("case.json", "members.csv", "shared_infrastructure.csv", "logins.csv", "ec2_activity.csv",
              "payments.csv", "security_findings.csv", "graph.html", "summary.md")
#: the folder beside the ring folders that holds vis-network once for every ring's ``graph.html``
ASSETS = "_assets"

#: members.csv, before the signal columns (signals describe the signal window; their ``logins`` is ``window_logins``)
MEMBER_COLUMNS = ["account_id", "country", "signup_ts", "email_domain", "is_enterprise", "success_logins",
                  "failed_logins", "burst_triggers", "findings", "bad_payments"]
#: shared_infrastructure.csv
INFRASTRUCTURE_COLUMNS = ["entity_type", "value", "members_with_success", "accounts_with_success",
                          "member_success_logins", "risk_score", "is_tor", "campaign_ip", "member_ids"]
#: the index ``open_ring_cases`` returns; ``folder`` is relative to its ``out_dir``
INDEX_COLUMNS = ["ring_id", "size", "score", "pvalue", "folder"]

_EVIDENCE = {  # file -> (case table, time column)
    "logins": ("logins", "event_ts"),
    "ec2_activity": ("ec2_activity", "event_ts"),
    "payments": ("payments", "payment_ts"),
    "security_findings": ("security_findings", "finding_ts"),
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def recommended_actions(row: pd.Series) -> list[str]:
    """Containment steps for a ring, least friction first (MFA step-up before suspension)."""
    actions = ["Step up to MFA on every member's next login and revoke their sessions."]
    if row.get("shared_ips"):
        actions.append("Challenge or rate-limit logins from the shared IPs; block those with risk >= 80 or TOR "
                       "only if no account outside the ring uses them.")
    if row.get("members_with_bursts", 0):
        actions.append("Throttle EC2 provisioning (RunInstances quota) on members with a burst trigger and "
                       "review the instances they launched.")
    if row.get("members_with_bad_payments", 0):
        actions.append("Hold new payment methods and review chargebacks/declines across all members together.")
    if row.get("members_with_findings", 0):
        actions.append("Suspend only the members with a confirmed security finding; keep the others under "
                       "step-up until the case is closed.")
    actions.append("Check for further accounts on the shared devices and IPs before closing (the ring may be larger).")
    return actions


def formula_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as spreadsheet formulas.

    A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading ``'`` (the CSV-injection guard spreadsheets honour);
    a cell that is just a number (``-3.5``) is left as it is, and numeric,
    boolean and time columns are never touched. Only the case folders, written
    for people, are treated so; the analysis outputs stay exact.

    Examples
    --------
    >>> df = pd.DataFrame({"x": ["=HYPERLINK(1)", "-3.5", "@SUM(A1)", "ok"], "n": [-1, 2, 3, 4]})
    >>> formula_safe(df).values.tolist()
    [["'=HYPERLINK(1)", -1], ['-3.5', 2], ["'@SUM(A1)", 3], ['ok', 4]]
    """
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if not (col.dtype == object or pd.api.types.is_string_dtype(col.dtype)
                or isinstance(col.dtype, pd.CategoricalDtype)):
            continue
        out[c] = [("'" + v) if isinstance(v, str) and v.startswith(_FORMULA_START) and not _NUMBER.fullmatch(v)
                  else v for v in col.astype(object)]
    return out


_ROW_MARK = "\x1e\n"  # ASCII record separator: splits one rendering into rows


def _csv_text(safe: pd.DataFrame, lineterminator: str = "\n") -> str:
    """A table already made formula-safe (:func:`formula_safe`) as CSV text."""
    return safe.to_csv(index=False, date_format=_TS, lineterminator=lineterminator)


def _jsonable(v):
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(v) else pd.Timestamp(v).strftime(_TS)
    if hasattr(v, "item"):
        return _jsonable(v.item())
    return v


def _md(text) -> str:
    """Data as Markdown text: escaped like :func:`markdown_table`'s cells, so it renders as text."""
    return md_escape(text).replace("|", "\\|").replace("\n", " ")


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(out[c].dtype):
            out[c] = out[c].astype(object)
    return out


def _sorted(df: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    """Rows in a total order: the given columns, then every other column as tie-breakers."""
    keys = first + [c for c in df.columns if c not in first]
    return df.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def _near_accounts(case: Case, members: set) -> Case:
    """The case cut down to ``members`` plus the logins on IPs and devices they used."""
    lg = case.logins
    members = list(members)
    acct = column_isin(lg["account_id"], members)
    ips = [v for v in set(column_values(lg["ip"], acct)) if v is not None]
    devices = [v for v in set(column_values(lg["device_id"], acct)) if v is not None]
    near = acct | column_isin(lg["ip"], ips) | column_isin(lg["device_id"], devices)

    def only(df: pd.DataFrame) -> pd.DataFrame:
        return df[column_isin(df["account_id"], members)]

    return replace(case, logins=lg[near], ec2_activity=only(case.ec2_activity), payments=only(case.payments),
                   security_findings=only(case.security_findings))


def _default_periods(case: Case, rings: RingResult, periods, since, until) -> Periods:
    if periods is not None:
        return periods
    since = since if since is not None else rings.params.get("since")
    until = until if until is not None else rings.params.get("until")
    return resolve_periods(case, since, until)


def open_ring_cases(case: Case, rings: RingResult, out_dir: str | Path, signals: pd.DataFrame | None = None,
                    bursts: pd.DataFrame | None = None, periods: Periods | None = None, since=None, until=None,
                    ring_ids=None, graph=None, money=None) -> pd.DataFrame:
    """Write a case folder ``<out_dir>/<ring_id>/`` for each flagged ring (or each of ``ring_ids``).

    ``analyze`` and ``graphfraud case open`` both call this, so a folder is the
    same whichever wrote it. ``case`` is the whole case; ``signals`` and
    ``bursts`` are the run's (members.csv and the graph page show them).
    ``periods`` is the run's :class:`~graphfraud.case.Periods`; without it they are
    resolved from ``since``/``until`` (default: the rings' own). Every count and
    evidence row is of the analysis period.

    The graph page of every ring is drawn from one graph, built once from the
    members of the flagged rings (and of ``ring_ids``) and every login on the IPs
    and devices they used (one hop); ``graph`` replaces it (annotated with
    :func:`~graphfraud.graph.view.annotate_rings`). Every per-ring table
    (evidence, members, shared infrastructure) is computed once for all the
    rings and cut by ring in one grouped pass. vis-network is written once, to
    ``<out_dir>/_assets/`` (``ASSETS``), and each ``graph.html`` refers to it as
    ``../_assets/...``: keep that folder beside a ring folder you move.

    ``money`` (a :class:`~graphfraud.act.money.MoneySide`) adds, for a case with
    the money side, ``micro_alerts.csv`` (spike episodes on a member or naming
    one), ``flagged_transactions.csv`` (members' MEDIUM/HIGH payments) and
    ``exposure.csv`` (members' exposure to known-bad), all of the analysis period,
    to each folder, case.json and summary.md.

    Returns the index, one row per folder: ``ring_id, size, score, pvalue,
    folder`` (``folder`` relative to ``out_dir``).
    """
    summary = rings.summary.set_index("ring_id") if len(rings.summary) else pd.DataFrame()
    flagged = rings.flagged["ring_id"].tolist() if len(rings.summary) else []
    wanted = flagged if ring_ids is None else list(dict.fromkeys(ring_ids))
    unknown = [r for r in wanted if r not in summary.index]
    if unknown:
        known = ", ".join(flagged[:5]) or "none"
        raise InputError(f"no ring {unknown[0]!r} in this case with these parameters; flagged rings: {known}")
    periods = _default_periods(case, rings, periods, since, until)
    out_dir = Path(out_dir)
    if not wanted:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in INDEX_COLUMNS})
    # one scope for every page, whichever rings are written: the flagged rings and the ones asked for
    scope_rings = set(flagged) | set(wanted)
    scope = set(rings.rings.loc[rings.rings["ring_id"].isin(scope_rings), "account_id"])
    near = _near_accounts(case, scope)
    start, end = periods.analysis.start, periods.analysis.end
    if graph is None:
        graph = annotate_rings(build_graph(near, since=start, until=end, signals=signals, bursts=bursts), rings)
    if money is not None:  # the page's tooltips show each IP, device and account's spikes in the analysis period
        alerts = money.micro_alerts
        annotate_spikes(graph, spike_counts(alerts[periods.analysis.mask(alerts["window_end"])] if len(alerts)
                                            else alerts))

    # each per-ring table is cut from one table of all wanted rings by one groupby: no ring filters a whole frame
    mine = rings.rings[rings.rings["ring_id"].isin(wanted).to_numpy()]
    members_of = {r: sorted(g.astype(object)) for r, g in mine.groupby("ring_id", sort=True)["account_id"]}
    member_ring = pd.Series(mine["ring_id"].to_numpy(), index=pd.Index(mine["account_id"].astype(object)))
    evidence = _evidence_tables(near, periods, member_ring)
    tables = {**evidence, "shared_infrastructure": _infrastructure(near, periods, member_ring, rings.campaigns),
              "members": _member_table(case, member_ring, evidence, bursts, signals)}
    if money is not None:
        tables.update(_money_tables(money, member_ring, periods))
    by_ring = {name: _ByRing(df) for name, df in tables.items()}
    ring_bursts = None
    if bursts is not None and len(bursts):
        ring_bursts = _ByRing(bursts.assign(_ring=member_ring.reindex(bursts["account_id"].astype(object)).to_numpy()),
                              safe=False)
    assets = write_assets(out_dir / ASSETS)[0].parent
    index = []
    for ring_id in wanted:
        row = summary.loc[ring_id]
        _write_folder(out_dir / ring_id, ring_id, row, members_of.get(ring_id, []), rings, periods,
                      {name: t.raw(ring_id) for name, t in by_ring.items()},
                      {name: t.csv(ring_id) for name, t in by_ring.items()},
                      ring_bursts.raw(ring_id) if ring_bursts is not None else None, case, graph, assets)
        index.append({"ring_id": ring_id, "size": int(row["size"]), "score": row["score"], "pvalue": row["pvalue"],
                      "folder": ring_id})
    return pd.DataFrame(index, columns=INDEX_COLUMNS)


def open_case(case: Case, ring_id: str, out_dir: str | Path, rings: RingResult | None = None,
              signals: pd.DataFrame | None = None, bursts: pd.DataFrame | None = None, graph=None,
              periods: Periods | None = None, since=None, until=None, window_days: float = 14, as_of=None,
              store=None, money=None, **ring_params) -> Path:
    """Write ``<out_dir>/<ring_id>/``: case.json, members, shared infrastructure, evidence CSVs, graph and summary.

    vis-network goes to ``<out_dir>/_assets/``, shared with any other ring
    folder written there; the ring's ``graph.html`` refers to ``../_assets/``.

    With ``rings`` given this is :func:`open_ring_cases` for one ring. Without
    it the run is repeated the way ``analyze`` does it, so the folder is the
    one ``analyze`` wrote: the periods from ``since``, ``until``,
    ``window_days`` and ``as_of``; signals over the signal window; burst triggers
    and rings over the analysis period, the rings found in ``store`` (a URL for
    :func:`graphfraud.connect` or an open backend; default ``None``: no store, as analyze) with
    ``ring_params`` (``method``, ``resolution``, ``seed``, ...; same parameters
    and seed give the same ring id). Re-running overwrites the same files with
    the same content.

    CSVs are formula-safe (:func:`formula_safe`): a text cell starting with
    ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``, plain numbers
    stay numbers.

    Examples
    --------
    >>> import graphfraud, tempfile
    >>> case = graphfraud.load_case(graphfraud.sample_case_path())
    >>> rings = graphfraud.find_rings(case)
    >>> folder = open_case(case, rings.flagged["ring_id"].iloc[0], tempfile.mkdtemp(), rings=rings)
    >>> sorted(p.name for p in folder.iterdir())[:4]
    ['case.json', 'ec2_activity.csv', 'exposure.csv', 'flagged_transactions.csv']
    """
    if rings is None:
        from ..detect.bursts import detect_bursts
        from ..detect.signals import account_signals
        from ..graph.stores import GraphBackend, connect

        periods = periods if periods is not None else resolve_periods(case, since, until, window_days, as_of)
        since, until = periods.analysis.start, periods.analysis.end
        if signals is None:
            signals = account_signals(case, window_days=periods.window_days, as_of=periods.as_of)
        if bursts is None:
            bursts = detect_bursts(case, since=since, until=until)
        if store is None:
            from ..rings import find_rings

            rings = find_rings(case, since=since, until=until, signals=signals, bursts=bursts, **ring_params)
        else:
            backend = store if isinstance(store, GraphBackend) else connect(store)
            try:
                backend.load_case(case, since=since, until=until, payments=ring_params.get("payments", True))
                rings = backend.find_rings(case, since=since, until=until, signals=signals, bursts=bursts,
                                           **ring_params)
            finally:
                if not isinstance(store, GraphBackend):
                    backend.close()
    if money is None and has_money_side(case):
        money = money_side(case, as_of=(periods.analysis.end if periods is not None else until),
                           activity=rings.activity)  # as analyze: the graph the rings were scored on
        rings = with_ring_spikes(rings, money, periods.analysis if periods is not None else None)
    index = open_ring_cases(case, rings, out_dir, signals, bursts, periods=periods, since=since, until=until,
                            ring_ids=[ring_id], graph=graph, money=money)
    return Path(out_dir) / index["folder"].iloc[0]


# ---------------------------------------------------------------------- one grouped pass over the evidence

class _ByRing:
    """A table of every wanted ring (ring id in ``_ring``), cut by ring in one grouped pass.

    The rows are put in ring order once (stable, so each ring keeps the
    table's order), which makes every ring's rows one contiguous block: a ring's
    table is a slice, not a row lookup. ``raw`` rows are what the folder
    computes from (and what case.json and summary.md show); ``safe`` rows, made
    formula-safe once for the whole table, are what its CSV holds. A ring with no
    rows gets the table's empty frame, so every CSV has its header.
    """

    def __init__(self, df: pd.DataFrame, safe: bool = True):
        ring = df["_ring"]
        has = ring.notna().to_numpy()
        codes, self._rings = pd.factorize(ring[has], sort=True)
        order = np.flatnonzero(has)[np.argsort(codes, kind="stable")]
        self._raw = df.drop(columns="_ring").iloc[order].reset_index(drop=True)
        self._safe = formula_safe(self._raw) if safe else self._raw
        self._bounds = np.searchsorted(np.sort(codes), np.arange(len(self._rings) + 1))
        self._csv = None

    def raw(self, ring_id: str) -> pd.DataFrame:
        return self._take(self._raw, ring_id)

    def csv(self, ring_id: str) -> str:
        """The ring's formula-safe rows as CSV text, cut from one rendering of the whole table."""
        if self._csv is None:
            self._csv = self._render()
        k = self._rings.get_indexer([ring_id])[0]
        if self._csv is False:  # a cell holds the row marker: render this ring's rows alone
            return _csv_text(self._take(self._safe, ring_id))
        header, rows = self._csv
        return header + ("".join(rows[self._bounds[k]:self._bounds[k + 1]]) if k >= 0 else "")

    def _render(self):
        # pandas formats each cell on its own, so one call for all rings gives each ring's exact lines;
        # a row marker other than the newline keeps quoted multi-line cells whole
        parts = _csv_text(self._safe, _ROW_MARK).split(_ROW_MARK)
        if len(parts) != len(self._safe) + 2:
            return False
        return parts[0] + "\n", [p + "\n" for p in parts[1:-1]]

    def _take(self, df: pd.DataFrame, ring_id: str) -> pd.DataFrame:
        k = self._rings.get_indexer([ring_id])[0]
        block = df.iloc[self._bounds[k]:self._bounds[k + 1]] if k >= 0 else df.iloc[:0]
        return block.reset_index(drop=True)


def _evidence_tables(case: Case, periods: Periods, member_ring: pd.Series) -> dict[str, pd.DataFrame]:
    """file name -> every member's rows in the analysis period, plain columns, in a total order, ring in ``_ring``."""
    out = {}
    for name, (table, ts) in _EVIDENCE.items():
        df = getattr(case, table)
        keep = periods.analysis.mask(df[ts]) & column_isin(df["account_id"], member_ring.index)
        df = _plain(df[keep])
        df = _sorted(df, [ts, "account_id"]) if len(df) else df.reset_index(drop=True)
        out[name] = df.assign(_ring=member_ring.reindex(df["account_id"]).to_numpy())
    return out


def _infrastructure(case: Case, periods: Periods, member_ring: pd.Series, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Each ring's IPs and devices with successful logins by 2+ members.

    Columns ``INFRASTRUCTURE_COLUMNS``, and the ring in ``_ring``.
    """
    lg = case.logins
    ok = periods.analysis.mask(lg["event_ts"]) & (lg["result"].astype(object).to_numpy() == "SUCCESS")
    acct = lg["account_id"].astype(object).to_numpy()[ok]
    parts = []
    for col, kind in (("ip", "ip"), ("device_id", "device")):
        val = lg[col].astype(object).to_numpy()[ok]
        has = pd.notna(val)
        parts.append(pd.DataFrame({"entity_type": kind, "value": val[has], "account_id": acct[has]}))
    used = pd.concat(parts, ignore_index=True)
    per = used.groupby(["entity_type", "value", "account_id"], sort=True).size().rename("success").reset_index()
    everyone = per.groupby(["entity_type", "value"]).size().rename("accounts_with_success")
    per["ring_id"] = member_ring.reindex(per["account_id"]).to_numpy()
    mine = per[per["ring_id"].notna()]
    shared = mine.groupby(["ring_id", "entity_type", "value"], sort=True).agg(
        members_with_success=("account_id", "size"), member_success_logins=("success", "sum"),
        member_ids=("account_id", lambda s: ";".join(sorted(s))))
    shared = shared[shared["members_with_success"] >= 2].reset_index()
    if not len(shared):  # the aggregation of nothing has no columns to fill in
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*INFRASTRUCTURE_COLUMNS, "_ring"]})
    shared["accounts_with_success"] = everyone.reindex(
        pd.MultiIndex.from_frame(shared[["entity_type", "value"]])).to_numpy()
    rep = case.ip_reputation.set_index("ip")
    is_ip = (shared["entity_type"] == "ip").to_numpy()
    risk = rep["risk_score"].reindex(shared["value"]).to_numpy(dtype=float, na_value=np.nan)
    shared["risk_score"] = pd.array(np.where(is_ip, risk, np.nan)).astype("Int64")
    tor = rep["is_tor"].reindex(shared["value"]).astype(object).to_numpy()
    shared["is_tor"] = [bool(t) if ip and pd.notna(t) else None for t, ip in zip(tor, is_ip)]
    camp = set(campaigns["ip"].astype(object)) if len(campaigns) else set()
    shared["campaign_ip"] = is_ip & shared["value"].isin(camp).to_numpy()
    shared = shared.sort_values(["ring_id", "members_with_success", "accounts_with_success", "entity_type", "value"],
                                ascending=[True, False, True, True, True], kind="stable")
    return shared[INFRASTRUCTURE_COLUMNS].assign(_ring=shared["ring_id"].to_numpy()).reset_index(drop=True)


# ---------------------------------------------------------------------- one folder

def _write_folder(folder: Path, ring_id: str, row: pd.Series, members: list[str], rings: RingResult,
                  periods: Periods, raw: dict, csv: dict, bursts, case: Case, graph, assets: Path | None) -> None:
    """One ring's folder from its rows: ``raw`` to compute and show, ``csv`` (formula-safe CSV text) to write.

    ``assets`` is the shared vis-network folder the page refers to (None: the page inlines it).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in (*_EVIDENCE, "shared_infrastructure", "members", *[m for m in MONEY_FILES if m in csv]):
        (folder / f"{name}.csv").write_text(csv[name], encoding="utf-8")
    logins, found, infra, mem = raw["logins"], raw["security_findings"], raw["shared_infrastructure"], raw["members"]
    bad = raw["payments"][raw["payments"]["status"].isin(list(BAD_PAYMENT_STATUSES)).to_numpy()]
    timeline = _timeline(logins, bad, found, bursts, infra, mem)
    components = {k[2:]: _jsonable(v) for k, v in row.items() if str(k).startswith("c_")}
    doc = {
        "ring_id": ring_id,
        "members": members,
        "size": int(row["size"]),
        "score": _jsonable(row["score"]),
        "pvalue": _jsonable(row["pvalue"]),
        "flagged": bool(row["flagged"]),
        "periods": periods.as_dict(),
        "score_components": components,
        "top_evidence": row["top_evidence"],
        "shared_infrastructure": [{k: _jsonable(v) for k, v in r.items()} for r in infra.to_dict("records")],
        "timeline": timeline,
        "evidence_counts": {"logins": len(logins), "success_logins": int(mem["success_logins"].sum()),
                            "ec2_activity": len(raw["ec2_activity"]), "payments": len(raw["payments"]),
                            "bad_payments": len(bad), "security_findings": len(found),
                            "burst_triggers": int(mem["burst_triggers"].sum())},
        "recommended_actions": recommended_actions(row),
        **({"money_side": _money_doc(raw)} if "micro_alerts" in raw else {}),
        # since/until as resolved (None meant the whole case), so the folder reads the same whoever opened it
        "parameters": {k: _jsonable(v) for k, v in {**rings.params, "since": periods.analysis.start,
                                                     "until": periods.analysis.end}.items()},
        "source": str(case.source),
    }
    (folder / "case.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    explore(graph, ring=ring_id, hops=1, path=folder / "graph.html", title=f"Ring {ring_id}", assets=assets)
    (folder / "summary.md").write_text(_summary_md(doc, mem, infra, periods, raw), encoding="utf-8")


def _member_table(case: Case, member_ring: pd.Series, evidence: dict, bursts, signals) -> pd.DataFrame:
    """members.csv of every wanted ring: ``MEMBER_COLUMNS``, then the signals; ring in ``_ring``, by account.

    ``evidence`` is :func:`_evidence_tables`' (analysis period); the signals
    describe the signal window, so their ``logins`` is renamed ``window_logins``.
    """
    accounts = member_ring.index
    mem = pd.DataFrame({"account_id": accounts.to_numpy(dtype=object), "_ring": member_ring.to_numpy()})
    users = _plain(case.users[case.users["account_id"].astype(object).isin(accounts).to_numpy()])
    users = users.drop_duplicates("account_id").set_index("account_id")
    mem = mem.join(users[["country", "signup_ts", "email_domain", "is_enterprise"]], on="account_id")

    def count(df: pd.DataFrame) -> np.ndarray:
        return df.groupby(df["account_id"].astype(object)).size().reindex(mem["account_id"], fill_value=0).to_numpy()

    lg, pay = evidence["logins"], evidence["payments"]
    result = lg["result"].to_numpy()
    mem["success_logins"] = count(lg[result == "SUCCESS"])
    mem["failed_logins"] = count(lg[result == "FAIL"])
    mem["burst_triggers"] = count(bursts) if bursts is not None and len(bursts) else 0
    mem["findings"] = count(evidence["security_findings"])
    mem["bad_payments"] = count(pay[pay["status"].isin(list(BAD_PAYMENT_STATUSES)).to_numpy()])
    if signals is not None:
        sig = _plain(signals[signals["account_id"].astype(object).isin(accounts).to_numpy()])
        sig = sig.rename(columns={"logins": "window_logins"})
        # a member with no login in the signal window has no signals; nullable integers keep the others' counts
        # whole ("4", not "4.0"), in every ring alike
        sig = sig.astype({c: "Int64" for c in sig.columns if pd.api.types.is_integer_dtype(sig[c].dtype)})
        mem = mem.merge(sig, on="account_id", how="left")
    return mem.sort_values(["_ring", "account_id"], kind="stable").reset_index(drop=True)


def _timeline(logins, bad, found, bursts, infra, mem) -> list[dict]:
    """Events at the times they happened (login, trigger, payment and finding timestamps; never bin bounds).

    One ring's rows are few, so they are read as Python lists: a pandas call per
    ring and event kind would cost more than the events themselves.
    """
    events = []
    if "signup_ts" in mem:
        for ts, account, domain in zip(*_columns(mem, "signup_ts", "account_id", "email_domain")):
            if pd.notna(ts):
                events.append((ts, "signup", account, f"signed up ({domain})"))
    kind, value = _columns(infra, "entity_type", "value")
    ips = {v for k, v in zip(kind, value) if k == "ip"}
    devices = {v for k, v in zip(kind, value) if k == "device"}
    on_shared = [(ts, account, ip, device)
                 for ts, account, ip, device, result in zip(*_columns(logins, "event_ts", "account_id", "ip",
                                                                      "device_id", "result"))
                 if result == "SUCCESS" and (ip in ips or device in devices)]

    def via(login) -> str:
        _, _, ip, device = login
        parts = ([f"IP {ip}"] if ip in ips else []) + ([f"device {device}"] if device in devices else [])
        return "via " + " and ".join(parts)

    if on_shared:
        first, last = on_shared[0], on_shared[-1]
        events.append((first[0], "first shared login", first[1], via(first)))
        events.append((last[0], "last shared login", last[1], via(last)))
        by_day: dict = {}
        for login in on_shared:
            by_day.setdefault(login[0].strftime("%Y-%m-%d"), []).append(login)
        for _, day in sorted(by_day.items()):
            n = len({login[1] for login in day})
            if n >= 2:
                t0, t1 = min(login[0] for login in day), max(login[0] for login in day)
                events.append((t0, "coordinated session", None,
                               f"{n} members logged in successfully on shared infrastructure "
                               f"({len(day)} logins, {t0:%H:%M:%S} to {t1:%H:%M:%S})"))
    if bursts is not None:
        for ts, account, ip, runs, regions in zip(*_columns(bursts, "trigger_ts", "account_id", "ip", "run_count_24h",
                                                            "region_count_24h")):
            events.append((ts, "burst trigger", account,
                           f"risky fail from {ip}, then {runs} launches in {regions} regions"))
    for ts, account, status, amount in zip(*_columns(bad, "payment_ts", "account_id", "status", "amount_usd")):
        events.append((ts, "bad payment", account, f"{status} {amount:.2f} USD"))
    for ts, account, finding, severity in zip(*_columns(found, "finding_ts", "account_id", "type", "severity")):
        events.append((ts, "security finding", account, f"{finding} ({severity})"))
    events.sort(key=lambda e: (pd.Timestamp(e[0]), e[1], e[2] or "", e[3]))
    return [{"ts": _jsonable(pd.Timestamp(t)), "event": e, "account_id": a, "detail": d} for t, e, a, d in events]


def _columns(df: pd.DataFrame, *names: str) -> list[list]:
    """The named columns as Python lists (timestamps as ``pd.Timestamp``)."""
    return [df[c].tolist() for c in names]


def _summary_md(doc, mem, infra, periods: Periods, raw: dict | None = None) -> str:
    comp = ", ".join(f"{_md(k)} {v:.2f}" for k, v in doc["score_components"].items() if v is not None)
    counts = doc["evidence_counts"]
    lines = [
        f"# Case: {_md(doc['ring_id'])}",
        "",
        *[f"- {line}" for line in periods.lines()],
        "",
        f"**{doc['size']} accounts**, score {doc['score']:.2f} (p = {doc['pvalue']:.2g}, "
        f"{'flagged' if doc['flagged'] else 'not flagged'}).",
        "",
        f"Why: {_md(doc['top_evidence'])}.",
        "",
        f"Score components (each 0-1): {comp}.",
        "",
        f"In the analysis period: {counts['success_logins']:,} successful logins by members "
        f"({counts['logins']:,} logins in all), {counts['burst_triggers']:,} burst trigger(s), "
        f"{counts['bad_payments']:,} bad payment(s), {counts['security_findings']:,} security finding(s).",
        "",
        "## Recommended actions",
        "",
        *[f"{i}. {a}" for i, a in enumerate(doc["recommended_actions"], 1)],
        "",
        "## Members",
        "",
        markdown_table(mem[[c for c in ["account_id", "country", "signup_ts", "email_domain", "success_logins",
                                        "composite", "burst_triggers", "findings", "bad_payments"] if c in mem]]),
        "",
        "## Shared infrastructure (successful logins by 2+ members)",
        "",
        markdown_table(infra.drop(columns=["member_ids"])),
        "",
        "## Timeline (first 40 events; all in case.json)",
        "",
        markdown_table(pd.DataFrame(doc["timeline"][:40])),
        "",
        "Evidence (analysis period): logins.csv, ec2_activity.csv, payments.csv, security_findings.csv; "
        "graph.html opens offline.",
        "",
    ]
    if raw is not None and "micro_alerts" in raw:
        lines += _money_md(raw)
    return "\n".join(lines)


#: the money side's per-ring files (a case with the money side only)
MONEY_FILES = ("micro_alerts", "flagged_transactions", "exposure")
MONEY_CASE_FILES = tuple(f"{name}.csv" for name in MONEY_FILES)


def _money_tables(money, member_ring: pd.Series, periods: Periods) -> dict[str, pd.DataFrame]:
    """Per ring (in ``_ring``): spike episodes naming a member, members' MEDIUM/HIGH payments, members' exposure."""
    al = money.micro_alerts
    al = al[periods.analysis.mask(al["window_end"])] if len(al) else al
    members = set(member_ring.index)
    touched = alert_rings(al, member_ring)
    alerts = al.iloc[touched["alert"].to_numpy()].reset_index(drop=True).assign(_ring=touched["ring_id"].to_numpy())
    tx = money.transactions
    keep = periods.analysis.mask(tx["payment_ts"]) & (tx["risk_tier"] != "LOW").to_numpy() & \
        tx["account_id"].isin(members).to_numpy()
    flagged = tx[keep].drop(columns=["day"]).reset_index(drop=True)
    flagged = flagged.assign(_ring=member_ring.reindex(flagged["account_id"]).to_numpy())
    expo = money.exposure[money.exposure["account_id"].isin(members)].reset_index(drop=True)
    expo = expo.assign(hops=expo["hops"].astype(object), _ring=member_ring.reindex(expo["account_id"]).to_numpy())
    return {"micro_alerts": alerts, "flagged_transactions": flagged, "exposure": expo}


def _money_doc(raw: dict) -> dict:
    al, tx, ex = raw["micro_alerts"], raw["flagged_transactions"], raw["exposure"]
    return {"micro_alerts": len(al), "spiking_entities": sorted(set(al["entity_type"] + " " + al["entity"].astype(str)))
            if len(al) else [], "flagged_transactions": len(tx),
            "high_risk_transactions": int((tx["risk_tier"] == "HIGH").sum()) if len(tx) else 0,
            "max_member_exposure": _jsonable(ex["exposure"].max()) if len(ex) else None,
            "members_near_known_bad": int(ex["hops"].notna().sum()) if len(ex) else 0}


def _money_md(raw: dict) -> list[str]:
    al, tx, ex = raw["micro_alerts"], raw["flagged_transactions"], raw["exposure"]
    top = al.sort_values("score", ascending=False).head(10) if len(al) else al
    near = ex[ex["hops"].notna()].head(10) if len(ex) else ex
    return [
        "## Money side (analysis period)",
        "",
        f"{len(al):,} micro-window spike episode(s) on members or naming them (micro_alerts.csv); "
        f"{len(tx):,} MEDIUM/HIGH payment(s) by members (flagged_transactions.csv); "
        f"{len(near):,} member(s) with a path to a known-bad account, IP or device (exposure.csv).",
        "",
        markdown_table(top[["entity_type", "entity", "metric", "window_start", "window_end", "value", "baseline",
                            "score"]], floatfmt="{:,.2f}") if len(top) else "_No spike involved a member._",
        "",
        markdown_table(tx.sort_values("risk_score", ascending=False).head(10)[
            ["payment_ts", "account_id", "amount_usd", "risk_score", "risk_tier", "reasons"]], floatfmt="{:,.2f}")
        if len(tx) else "_No member payment was MEDIUM or HIGH risk._",
        "",
        markdown_table(near[["account_id", "exposure", "hops", "nearest_known_bad", "path"]])
        if len(near) else "_No member has a path to a known-bad account, IP or device._",
        "",
    ]
