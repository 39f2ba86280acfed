"""Load benchmark of this service against a ceiling: `uv run python -m bench` (see README.md)."""
