"""Stage 3, graph: accounts and the infrastructure they share, in memory or in a graph store.

``records`` turns a case into vertex and edge tables (what every store is
loaded from); ``activity`` is the account–entity activity table the ring stage
scores, built from the case or read back from a store; ``stores`` holds the
stores chosen by URL (NetworkX, Gremlin: gremlite, Gremlin Server, Neptune);
``neptune_csv`` writes bulk-load files; ``traversals`` are the notebook
queries; ``build`` and ``view`` make the NetworkX graph and the offline HTML
page a person explores.
"""

from .activity import ACTIVITY_COLUMNS, Activity, activity_from_rows, entity_activity, evidence_to_activity
from .build import NODE_TYPES, build_graph, node_id
from .neptune_csv import export_neptune_csv, read_neptune_csv
from .records import GraphRecords, graph_records
from .stores import GraphBackend, NetworkXBackend, connect
from .view import annotate_rings, annotate_spikes, explore

__all__ = ["build_graph", "node_id", "NODE_TYPES", "graph_records", "GraphRecords", "entity_activity",
           "evidence_to_activity", "Activity", "activity_from_rows", "ACTIVITY_COLUMNS", "connect", "GraphBackend", "NetworkXBackend",
           "export_neptune_csv", "read_neptune_csv", "explore", "annotate_rings", "annotate_spikes"]
