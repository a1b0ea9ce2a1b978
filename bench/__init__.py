"""Benchmarks: scripts that print ratios measured in one run (see README, Performance)."""
