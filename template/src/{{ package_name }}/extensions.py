"""Your service's own routers and settings. The template renders this file once and never again.

main.py and settings.py belong to the template and change with its updates; what you add here (or
in your own modules, imported from here) is never part of an update's merge, so it never conflicts.
"""

from fastapi import FastAPI
from pydantic import BaseModel


class AppSettings(BaseModel):
    """Your settings, read from the environment as APP__<NAME> (e.g. APP__SHELF_LIMIT=20)."""


def include_routers(app: FastAPI) -> None:
    """Add your routers to the app (`app.include_router(...)`); create_app calls this last."""
