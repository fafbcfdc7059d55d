"""Measurements: ``python -m benchmarks.bench``, ``benchmarks/synthetic_accuracy.py``."""
