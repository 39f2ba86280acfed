"""The ceiling a service is measured against, run in a rendered project's virtual environment."""
