"""Synthetic fraud cases with ground truth, deterministic by seed (see :mod:`graphfraud.synth.generate`)."""

from .config import HONEST_KINDS, LOCKSTEP_ONLY, RING_SHAPES
from .generate import SynthConfig, SyntheticCase, Truth, generate_case, load_truth, truth_path_for, write_case

__all__ = ["SynthConfig", "Truth", "SyntheticCase", "generate_case", "write_case", "truth_path_for", "load_truth",
           "RING_SHAPES", "HONEST_KINDS", "LOCKSTEP_ONLY"]
