"""Stage 4, rings: groups of accounts under one hand, scored against chance and explained.

``pairs`` scores every pair of accounts sharing specific infrastructure against
a null model of chance co-activity; ``communities`` groups the significant
pairs (Louvain or connected components); ``summary`` gives each group its pooled
p-value, score components, verdict and evidence in words; ``find`` runs the
stage from a case or from any graph store's evidence.
"""

from .communities import COMMUNITY_METHODS, detect_communities, ring_id_for
from .find import RingResult, find_rings, rings_from_activity
from .pairs import PAIR_COLUMNS, chance_coactivity, hub_entities, pair_evidence
from .summary import SCORE_WEIGHTS, SUMMARY_COLUMNS, ring_summaries

__all__ = ["RingResult", "find_rings", "rings_from_activity", "detect_communities", "COMMUNITY_METHODS",
           "ring_id_for", "pair_evidence", "hub_entities", "chance_coactivity", "PAIR_COLUMNS", "ring_summaries",
           "SUMMARY_COLUMNS", "SCORE_WEIGHTS"]
