"""``analyze``: every stage in order on one case, written to an all-or-nothing output folder."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .act.baselines import baseline_metrics
from .graph.stores import GraphBackend, connect
from .rings import find_rings
from .detect.bursts import detect_bursts
from .act.output import OutputFolder
from .errors import RejectedInputError
from .case.schema import TIME_FORMAT as _TS
from .case import ALL_TABLE_NAMES, REJECTED_COLUMNS, Case, Periods, resolve_periods
from .errors import InputError
from .progress import Progress
from .detect.signals import account_signals
from .act.stats import PAYMENT_TEST_COLUMNS, payment_outcome_tests

__all__ = ["AnalysisResult", "analyze", "top_share_accounts", "input_fingerprint", "rejection_warnings"]



@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Everything one ``analyze`` run produced; ``files`` maps output names to paths."""

    case: Case
    signals: pd.DataFrame
    bursts: pd.DataFrame
    payment_tests: pd.DataFrame
    baselines: dict[str, pd.DataFrame]
    params: dict
    rings: object = None
    rules: pd.DataFrame | None = None
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    periods: Periods | None = None
    warnings: tuple = ()
    money: object = None  # graphfraud.act.money.MoneySide, for a case with the money side
    features: pd.DataFrame | None = None  # the rule features per account (account_features), over the signal window


def top_share_accounts(signals: pd.DataFrame, share: float = 0.05, column: str = "composite") -> list[str]:
    """The top ``share`` of accounts by ``column`` (at least one; ties broken by account id).

    Examples
    --------
    >>> s = pd.DataFrame({"account_id": ["a", "b", "c"], "composite": [0.1, 0.9, 0.9]})
    >>> top_share_accounts(s, 0.5)
    ['b', 'c']
    """
    if not 0 < share <= 1:
        raise InputError(f"share must be in (0, 1], got {share!r}")
    if not len(signals):
        return []
    k = max(1, math.ceil(share * len(signals)))
    ranked = signals.sort_values([column, "account_id"], ascending=[False, True], kind="stable")
    return ranked["account_id"].head(k).tolist()


def analyze(
    case: Case,
    out_dir: str | Path | None = "graphfraud-out",
    window_days: float = 14,
    as_of=None,
    top_share: float = 0.05,
    top_ips: int = 20,
    progress: Progress | None = None,
    ring_method: str = "louvain",
    resolution: float = 1.0,
    seed: int = 0,
    daily_alert_budget: float = 50,
    open_cases: bool = True,
    since=None,
    until=None,
    graph=None,
    load_graph: bool = True,
    names: dict | None = None,
    allow_rejected: bool = False,
    payment_evidence: bool = True,
) -> AnalysisResult:
    """The whole run on ``case``: signals, bursts, rings, rules, SQL baselines, payment tests, report, case folders.

    Two periods (see :mod:`graphfraud.case.period`): the **analysis period**
    ``[since, until]`` (default the whole case) for burst triggers, campaigns,
    rings and payment cohorts, and the **signal window** (``window_days`` ending
    at ``as_of``, default the end of the analysis period) for the account signals
    and the rules' alert counts. Both are in ``params``, the report, the CLI
    summary, ``manifest.json`` and every case folder.

    With ``out_dir`` set, every output is written atomically (see
    :mod:`graphfraud.act.output`): ``account_signals.csv``, ``account_features.csv``
    (the rule features, which the real-time scorer reads), ``burst_triggers.csv``, ``payment_tests.csv``, the three ``baseline_*.csv``, ``rejected_rows.csv``,
    ``rings.csv``, ``ring_summary.csv``, ``campaigns.csv``, ``hubs.csv``,
    ``rules.csv``, ``rules.json``, ``report.md``, ``daily_fail_rate.png``, a case
    folder per flagged ring under ``cases/`` with ``cases/index.csv``, and
    ``manifest.json`` last. Outputs of an earlier run that this run does not
    write are removed.

    ``graph`` is the store the rings are found in: ``None`` (the default: no
    store, rings scored straight from the coded activity, no graph of the
    whole case is built), a URL for :func:`graphfraud.connect`
    (``"networkx"``, ``"gremlite:///path.db"``, ``"wss://..."``) or an open
    :class:`~graphfraud.graph.stores.GraphBackend`. The case is upserted into
    a store first (``load_graph=False`` skips that, for a graph already
    bulk-loaded). Every store gives the same ``rings.csv`` and
    ``ring_summary.csv``. ``names`` maps argument names to the caller's (the CLI
    passes flag names) so that errors name what the user typed. A table with
    half or more of its rows rejected stops the run (``allow_rejected=True``
    continues); more than 2% rejected is a warning in ``warnings``, the report
    and the CLI summary. ``payment_evidence``: payments made from an IP or
    device (when the case's payments carry them) link accounts like successful
    logins do; False leaves them out of the rings.

    Examples
    --------
    >>> import graphfraud
    >>> res = graphfraud.analyze(graphfraud.load_case(graphfraud.sample_case_path()), out_dir=None)
    >>> res.payment_tests["cohort"].tolist()
    ['accounts with a burst trigger', 'top 5% by composite', 'members of flagged rings']
    >>> res.periods.analysis.label()
    '2025-08-01 00:00:00 to 2025-09-14 23:59:00 (45.0 days)'
    """
    from .act.cases import open_ring_cases
    from .act.money import has_money_side, money_side, with_ring_spikes
    from .act.report import write_report
    from .act.rules import account_features, candidate_rules, propose_rules, rules_text, selected_rules

    n = {"seed": "seed", "top_share": "top_share", "daily_alert_budget": "daily_alert_budget", "top_ips": "top_ips",
         **(names or {})}
    _check_arguments(seed, top_share, daily_alert_budget, top_ips, n)
    progress = progress or Progress(quiet=True)
    out = OutputFolder(out_dir) if out_dir is not None else None
    if out is not None:
        # written first: when the run stops on bad input, this is what says why
        out.csv("rejected_rows.csv", case.rejected[REJECTED_COLUMNS])
    warnings = rejection_warnings(case, allow_rejected, flag=(names or {}).get("allow_rejected", "allow_rejected=True"))
    periods = resolve_periods(case, since, until, window_days, as_of, names)
    since, until = periods.analysis.start, periods.analysis.end
    with progress.stage("account signals"):
        signals = account_signals(case, window_days=window_days, as_of=periods.as_of)
    params = {
        **periods.as_dict(),
        "window_days": window_days,
        "as_of": periods.as_of.strftime(_TS),
        "window_start": periods.signal_window.start.strftime(_TS),
        "top_share": top_share,
        "source": case.source,
        "daily_alert_budget": daily_alert_budget,
        "seed": seed,
    }
    with progress.stage("risky fail -> EC2 burst detector"):
        bursts = detect_bursts(case, since=since, until=until)
    ring_args = dict(since=since, until=until, method=ring_method, resolution=resolution, seed=seed,
                     signals=signals, bursts=bursts, payments=payment_evidence)
    if graph is None:
        params["graph"] = None
        with progress.stage(f"rings ({ring_method}, seed {seed}) from the coded activity"):
            rings = find_rings(case, **ring_args)
    else:
        backend = graph if isinstance(graph, GraphBackend) else connect(graph)
        params["graph"] = backend.url
        if load_graph:
            with progress.stage(f"loading the graph into {backend.url}"):
                params["graph_load"] = backend.load_case(case, since=since, until=until, progress=progress,
                                                         payments=payment_evidence)
        with progress.stage(f"rings ({ring_method}, seed {seed}) from {backend.url}"):
            rings = backend.find_rings(case, **ring_args)
    params["rings"] = rings.params
    money = None
    if has_money_side(case):
        with progress.stage("money side: transactions, micro windows, exposure"):
            # exposure walks the graph the rings were scored on (campaign IPs left out: their victims are random)
            money = money_side(case, as_of=until, activity=rings.activity)
            rings = with_ring_spikes(rings, money, periods.analysis)
        params["money"] = _money_params(money)
    with progress.stage("rule proposals"):
        window_bursts = detect_bursts(case, since=periods.signal_window.start, until=periods.signal_window.end)
        features = account_features(case, signals, window_bursts, rings, rings.campaigns,
                                    period=periods.signal_window, money=money)
        rules = propose_rules(features, case, periods.signal_window, daily_alert_budget,
                              rules=candidate_rules(money=money is not None))
    with progress.stage("baseline metrics"):
        # the same tables as queries/daily_fail_rate.sql etc. (tested equal), grouped on codes
        baselines = baseline_metrics(case, top_ips=top_ips)
    with progress.stage("payment-outcome tests"):
        cohorts = {
            "accounts with a burst trigger": bursts["account_id"].unique().tolist(),
            f"top {top_share:.0%} by composite": top_share_accounts(signals, top_share),
            "members of flagged rings": rings.rings.loc[rings.rings["ring_id"].isin(rings.flagged["ring_id"]),
                                                        "account_id"].tolist(),
        }
        tests = payment_outcome_tests(case, cohorts)
    result = AnalysisResult(case, signals, bursts, tests, baselines, params, rings, rules, periods=periods,
                            warnings=tuple(warnings), money=money, features=features)
    if out is None:
        return result
    with progress.stage(f"writing {out.root}"):
        for name, df in (("account_signals", signals), ("burst_triggers", bursts),
                         ("payment_tests", tests[PAYMENT_TEST_COLUMNS]),
                         ("baseline_daily_fail_rate", baselines["daily_fail_rate"]),
                         ("baseline_top_failing_ips", baselines["top_failing_ips"]),
                         ("baseline_ip_risk_distribution", baselines["ip_risk_distribution"]),
                         ("rings", rings.rings), ("ring_summary", rings.summary), ("campaigns", rings.campaigns),
                         ("hubs", rings.hubs), ("rules", rules), ("account_features", _feature_table(features)),
                         *_money_outputs(money)):
            result.files[name] = out.csv(f"{name}.csv", df)
        result.files["rejected_rows"] = out.path("rejected_rows.csv")
        chosen = selected_rules(rules)
        result.files["rules_json"] = out.text("rules.json", rules_text(chosen), rows=len(chosen))
        result = replace(result, out_dir=out.root)
        result.files.update(write_report(result, out))
    if open_cases and len(rings.flagged):
        with progress.stage(f"opening {len(rings.flagged)} ring case(s)"):
            index = open_ring_cases(case, rings, out.root / "cases", signals, bursts, periods=periods, money=money)
            for f in sorted((out.root / "cases").rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    out.adopt(f)
            result.files["cases_index"] = out.csv("cases/index.csv", index)
    out.finish(_manifest_info(case, params, periods))
    return result


def _feature_table(features: pd.DataFrame) -> pd.DataFrame:
    """The rule features per account, as the real-time scorer reads them back (``Scorer.from_analysis``)."""
    return features.reset_index().rename(columns={"index": "account_id"})


def _money_outputs(money) -> list[tuple[str, pd.DataFrame]]:
    """The money side's files: spike episodes, exposure, customers, MEDIUM/HIGH payments, unconverted payments."""
    if money is None:
        return []
    tx = money.transactions
    return [("micro_alerts", money.micro_alerts), ("exposure", money.exposure), ("customer_risk", money.customers),
            ("flagged_transactions", tx[(tx["risk_tier"] != "LOW").to_numpy()].drop(columns=["day"])),
            ("transactions_rejected", money.rejected)]


def _money_params(money) -> dict:
    first, last = money.period()
    return {"payments_from": None if first is None else str(first), "payments_to": None if last is None else str(last),
            "transactions": len(money.transactions), "not_converted": len(money.rejected),
            "micro_alerts": len(money.micro_alerts), "exposure_as_of": None if money.as_of is None else str(money.as_of),
            "seeds": 0 if money.seeds is None else len(money.seeds)}


def rejection_warnings(case: Case, allow_rejected: bool = False, flag: str = "allow_rejected=True") -> list[str]:
    """Warnings for tables with more than 2% of rows rejected; a stop from half on, unless ``allow_rejected``.

    A table whose rows are (nearly) all rejected usually means a shifted or
    mis-typed column, and every figure built on it would be silently wrong.
    """
    try:
        return case.check_rejections()
    except RejectedInputError as exc:
        if not allow_rejected:
            raise RejectedInputError(f"{exc} Or pass {flag} to continue anyway.", exc.summary, exc.tables) from None
        return case.check_rejections(stop_share=1.01)


def _check_arguments(seed, top_share, budget, top_ips, n: dict) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"{n['seed']} must be a whole number from 0 to 4294967295, got {seed!r}")
    if not isinstance(top_share, (int, float)) or not 0 < top_share <= 1:
        raise InputError(f"{n['top_share']} must be in (0, 1], got {top_share!r}")
    if not isinstance(budget, (int, float)) or not math.isfinite(budget) or budget <= 0:
        raise InputError(f"{n['daily_alert_budget']} must be a positive number of alerts per day, got {budget!r}")
    if isinstance(top_ips, bool) or not isinstance(top_ips, (int, np.integer)) or top_ips < 1:
        raise InputError(f"{n['top_ips']} must be a whole number >= 1, got {top_ips!r}")


def _manifest_info(case: Case, params: dict, periods: Periods) -> dict:
    from . import __version__

    return {"tool": "graphfraud analyze", "version": __version__, "input": case.source,
            "input_fingerprint": input_fingerprint(case), "periods": periods.as_dict(), "seed": params["seed"],
            "parameters": {k: v for k, v in params.items() if k not in ("graph_load",)},
            "row_counts": case.row_counts().reset_index().to_dict(orient="records")}


def _input_files(folder: Path) -> list[Path]:
    """The folder's files, and those below a table's folder of part files, sorted by path."""
    tables = set(ALL_TABLE_NAMES) | {f"{t}.parquet" for t in ALL_TABLE_NAMES}
    files = []
    for p in folder.iterdir():
        if p.is_file():
            files.append(p)
        elif p.is_dir() and p.name.lower() in tables:
            files += [q for q in p.rglob("*") if q.is_file()]
    return sorted(files, key=lambda q: q.relative_to(folder).as_posix())


def input_fingerprint(case: Case) -> str:
    """sha256 of the input: the file, every file of a folder (sorted by name), or the tables in memory.

    A folder's files include those in a table's folder of Parquet part files
    (``logins/``, ``logins.parquet/``), named by their path within the folder.
    """
    h = hashlib.sha256()
    src = Path(case.source)
    files = _input_files(src) if src.is_dir() else [src] if src.is_file() else []
    if files:
        for f in files:
            h.update(f.relative_to(src).as_posix().encode() if src.is_dir() else f.name.encode())
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    else:
        for name in case.tables_present():
            df = case.table(name)
            h.update(name.encode())
            h.update(pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy().tobytes())
    return "sha256:" + h.hexdigest()




