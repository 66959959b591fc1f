"""Benchmarks of the reconciliation engine; each script prints its figures."""
