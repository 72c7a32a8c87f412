"""Benchmarks: `bash bench/run` (see bench/README.md)."""
