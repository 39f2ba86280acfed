"""The team's own test of its own endpoints."""

from fastapi import FastAPI
from httpx import AsyncClient


async def test_the_shelves_are_listed_in_order(app: FastAPI, client: AsyncClient) -> None:
    response = await client.get(app.url_path_for("list_shelves"))

    assert response.json() == ["fiction", "history", "science"]
