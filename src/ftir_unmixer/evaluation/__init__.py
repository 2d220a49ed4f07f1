"""Evaluation: ground-truth metrics, ground-truth-free diagnostics, reference-library matching."""
