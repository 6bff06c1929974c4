"""Stage 4, rings: groups of accounts under one hand, scored against chance and explained.

Three kinds of evidence link two accounts, each against its own null model:
``pairs`` (co-activity on shared IPs and devices at several time scales, counted
by ``cooccur``), ``hubs`` (shared spike hours on a carrier NAT or other hub) and
``sharing`` (one device that is the main device of many accounts).
``communities`` groups the linked pairs (Louvain or connected components);
``summary`` tests each group as a whole and gives it a verdict (fraud ring,
common control likely benign, not significant), score and evidence in words;
``find`` runs the stage from a case or from any graph store's evidence;
``known_bad`` propagates known-bad accounts, IPs and devices over the same graph.
"""

from .communities import COMMUNITY_METHODS, detect_communities, ring_id_for
from .cooccur import chance_coactivity, cooccurrences
from .known_bad import ExposureParams, exposure, known_bad_seeds
from .find import KINDS, RingResult, find_rings, pair_table, rings_from_activity
from .hubs import hub_spike_evidence
from .pairs import TIME_SCALES, hub_entities, pair_evidence
from .sharing import main_device_sharing
from .summary import SCORE_WEIGHTS, SUMMARY_COLUMNS, VERDICTS, ring_summaries

__all__ = ["RingResult", "find_rings", "rings_from_activity", "detect_communities", "COMMUNITY_METHODS",
           "ring_id_for", "pair_evidence", "pair_table", "hub_entities", "chance_coactivity", "cooccurrences",
           "hub_spike_evidence", "main_device_sharing", "TIME_SCALES", "KINDS", "ring_summaries", "SUMMARY_COLUMNS",
           "SCORE_WEIGHTS", "VERDICTS", "ExposureParams", "exposure", "known_bad_seeds"]
