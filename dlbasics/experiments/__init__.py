"""Experiments built on the library: studies and (later) comparisons, cross-validation and sweeps."""
