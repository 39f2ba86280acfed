"""Listings run a fixed number of SELECTs, however many rows they return: no N+1 queries."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from .test_authors import create_author


@pytest.fixture
def selects(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SELECT the engine's connections run while the test records."""
    seen: list[str] = []

    def record(*args: object) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)


async def add_books(app: FastAPI, client: AsyncClient, authors: int, books_each: int) -> None:
    for a in range(authors):
        author_id = await create_author(app, client, f"Prolific {a}")
        for b in range(books_each):
            book = {
                "title": f"Volume {b}",
                "isbn": f"97800000{a:02d}{b:03d}",
                "author_id": author_id,
            }
            response = await client.post(app.url_path_for("create_book"), json=book)
            assert response.status_code == 201, response.text


async def test_listing_books_with_their_authors_is_one_select(
    app: FastAPI, client: AsyncClient, selects: list[str]
) -> None:
    await add_books(app, client, authors=5, books_each=6)
    selects.clear()

    response = await client.get(app.url_path_for("list_books"), params={"limit": 50})

    assert len(response.json()["items"]) == 30
    assert len(selects) == 1, selects


async def test_getting_an_author_with_their_books_is_at_most_two_selects(
    app: FastAPI, client: AsyncClient, selects: list[str]
) -> None:
    await add_books(app, client, authors=1, books_each=12)
    author_id = (await client.get(app.url_path_for("list_authors"))).json()["items"][0]["id"]
    selects.clear()

    response = await client.get(app.url_path_for("get_author", author_id=author_id))

    assert len(response.json()["books"]) == 12
    assert len(selects) <= 2, selects
