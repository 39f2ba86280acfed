"""Code bench.request_cost runs in a rendered project's virtual environment."""
