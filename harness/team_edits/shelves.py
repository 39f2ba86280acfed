"""The team's own endpoints: shelves of the library, kept in code for now."""

from fastapi import APIRouter

router = APIRouter(prefix="/shelves", tags=["shelves"])

SHELVES = ["fiction", "history", "science"]


@router.get("", name="list_shelves")
async def list_shelves() -> list[str]:
    """The shelves a book can stand on."""
    return SHELVES
