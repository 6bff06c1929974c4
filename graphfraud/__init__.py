"""graphfraud: find fraud rings and account compromise in cloud-account and payment data.

Load a case (six tables: users, logins, ip_reputation, ec2_activity, payments,
security_findings; optionally the money side: payment ids, currencies,
merchants, payment IPs/devices, a blocklist and FX rates), compute per-account
signals, detect risky failed logins followed by EC2 bursts, find rings, test
whether flagged accounts have worse payment outcomes, and on the money side
convert and flag transactions, find micro-window spikes and measure exposure to
known-bad accounts.

Examples
--------
>>> import graphfraud
>>> case = graphfraud.load_case(graphfraud.sample_case_path())
>>> signals = graphfraud.account_signals(case, window_days=14)
>>> list(signals.columns)[:3]
['account_id', 'logins', 'failed_login_rate']
"""

from __future__ import annotations

import os as _os

# In a source checkout loaders/, queries/ and data/ sit beside graphfraud/ (the
# repo's fixed shape); installed, they are inside it. Extending __path__ makes
# graphfraud.loaders resolve the same way in both, e.g. when pytest or a notebook
# runs from the repo root and picks up this folder before the installed copy.
_here = _os.path.dirname(__file__)
_root = _os.path.dirname(_here)
if not _os.path.isdir(_os.path.join(_here, "loaders")) and _os.path.isfile(
    _os.path.join(_root, "loaders", "__init__.py")
):
    __path__.append(_root)  # type: ignore[name-defined]  # noqa: F821

# The package is laid out as the pipeline: case/ (load and validate) -> detect/ ->
# graph/ (records, stores, pages) -> rings/ -> act/ (tests, rules, cases, report) -> realtime/ (each new
# event); pipeline.py runs the batch stages in order and cli.py is the command line over it.
from .case import Case, case_from_frames  # noqa: E402
from .data import sample_case_path  # noqa: E402
from .errors import BackendError, GraphFraudError, InputError, RejectedInputError, SchemaError  # noqa: E402
from .loaders import load_case  # noqa: E402
from .detect import (DEFAULT_WEIGHTS, MicroParams, MicroState, TransactionParams, account_signals,  # noqa: E402
                     customer_aggregates, detect_bursts, detect_campaigns, micro_windows, spike_counts,
                     transactions)
from .graph import (GraphBackend, GraphRecords, NetworkXBackend, build_graph, connect, explore,  # noqa: E402
                    export_neptune_csv, graph_records, read_neptune_csv)
from .rings import ExposureParams, RingResult, exposure, find_rings, known_bad_seeds  # noqa: E402
from .act import (PaymentTest, baseline_metrics, benjamini_hochberg, open_case, payment_outcome_test,  # noqa: E402
                  payment_outcome_tests, run_etl, wilson_interval, write_etl)
from .pipeline import AnalysisResult, analyze  # noqa: E402
from .realtime import Decision, Ruleset, Scorer, default_ruleset, graph_rules, load_ruleset  # noqa: E402
from .realtime.backtest import backtest  # noqa: E402
from . import realtime  # noqa: E402
from . import queries  # noqa: E402
# namespaces users reach by name: graphfraud.rules.load_rules, graphfraud.traversals.ring_members, ...
from .act import rules  # noqa: E402
from .graph import traversals  # noqa: E402
from . import synth  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "AnalysisResult",
    "Scorer",
    "Decision",
    "Ruleset",
    "default_ruleset",
    "graph_rules",
    "load_ruleset",
    "backtest",
    "realtime",
    "TransactionParams",
    "transactions",
    "customer_aggregates",
    "run_etl",
    "write_etl",
    "MicroParams",
    "MicroState",
    "micro_windows",
    "spike_counts",
    "ExposureParams",
    "exposure",
    "known_bad_seeds",
    "analyze",
    "detect_campaigns",
    "queries",
    "traversals",
    "rules",
    "synth",
    "Case",
    "GraphBackend",
    "GraphRecords",
    "NetworkXBackend",
    "connect",
    "export_neptune_csv",
    "graph_records",
    "read_neptune_csv",
    "DEFAULT_WEIGHTS",
    "GraphFraudError",
    "InputError",
    "RejectedInputError",
    "BackendError",
    "PaymentTest",
    "SchemaError",
    "account_signals",
    "benjamini_hochberg",
    "case_from_frames",
    "build_graph",
    "detect_bursts",
    "explore",
    "open_case",
    "baseline_metrics",
    "find_rings",
    "RingResult",
    "load_case",
    "payment_outcome_test",
    "payment_outcome_tests",
    "sample_case_path",
    "wilson_interval",
]
