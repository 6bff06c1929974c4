"""Synthetic fraud cases with ground truth, deterministic by seed (see :mod:`graphfraud.synth.generate`)."""

from .generate import SynthConfig, SyntheticCase, Truth, generate_case, load_truth, truth_path_for, write_case

__all__ = ["SynthConfig", "Truth", "SyntheticCase", "generate_case", "write_case", "truth_path_for", "load_truth"]
