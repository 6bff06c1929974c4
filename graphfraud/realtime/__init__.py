"""Real time: the last stage of the pipeline, applying what the analysis learned to each new event.

- :mod:`~graphfraud.realtime.events`: the real-time event, its gateway aliases and validation;
- :mod:`~graphfraud.realtime.ruleset`: rules as data over event features, points, thresholds, execution modes,
  the default ruleset and the graph-aware rules;
- :mod:`~graphfraud.realtime.profiles` and :mod:`~graphfraud.realtime.context`: per-account profiles and the
  graph's context (rings, their infrastructure, campaign IPs, exposure, IP reputation);
- :mod:`~graphfraud.realtime.scorer`: :class:`Scorer` (one event, or a frame at once) and :class:`Decision`;
- :mod:`~graphfraud.realtime.decision_log` and :mod:`~graphfraud.realtime.engine`: the SQLite decision log,
  the alert sink, and the engine that puts scorer, log and alerts together for the command line, the HTTP
  service and the Lambda handler;
- :mod:`~graphfraud.realtime.backtest`: replay a case through a ruleset before turning it on.
"""

from .events import ALIASES, EVENT_FIELDS, Event, EventError, events_frame, parse_event
from .profiles import PROFILE_COLUMNS, RISK_LEVELS, FxRates, Profiles
from .ruleset import ACTION_POINTS, FEATURES, Ruleset, default_ruleset, graph_rules, load_ruleset
from .context import GraphContext
from .scorer import DECISION_COLUMNS, Decision, Scorer

__all__ = ["ALIASES", "EVENT_FIELDS", "Event", "EventError", "events_frame", "parse_event", "PROFILE_COLUMNS",
           "RISK_LEVELS", "FxRates", "Profiles", "ACTION_POINTS", "FEATURES", "Ruleset", "default_ruleset",
           "graph_rules", "load_ruleset", "GraphContext", "DECISION_COLUMNS", "Decision", "Scorer"]
