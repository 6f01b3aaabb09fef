"""Benchmark commands, each run from the repo root as `python -m benchmarks.NAME`."""
