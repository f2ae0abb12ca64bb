"""Benchmarks, each beside a named peer measured in the same run."""
