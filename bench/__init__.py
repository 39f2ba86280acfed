"""Benchmarks of the template (not tests): run as `uv run python -m bench.NAME` from the root."""
