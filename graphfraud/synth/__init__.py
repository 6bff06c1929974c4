"""Synthetic fraud cases with ground truth, deterministic by seed (see :mod:`graphfraud.synth.generate`)."""

from .config import FRAUD_PATTERNS, HONEST_KINDS, HONEST_PATTERNS, LOCKSTEP_ONLY, RING_SHAPES
from .generate import SynthConfig, SyntheticCase, Truth, generate_case, load_truth, truth_path_for, write_case

__all__ = ["SynthConfig", "Truth", "SyntheticCase", "generate_case", "write_case", "truth_path_for", "load_truth",
           "RING_SHAPES", "HONEST_KINDS", "LOCKSTEP_ONLY", "FRAUD_PATTERNS", "HONEST_PATTERNS"]
