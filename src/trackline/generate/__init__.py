"""Synthetic datasets for demos, tests and benchmarks (seeded, with a share of bad records)."""
