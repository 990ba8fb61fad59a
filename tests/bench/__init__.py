"""Benchmarks run by `./dev bench`; each figure is one JSON line: {"name", "value", "unit", "target"}."""
