"""The ceiling a service is measured against: Starlette on a bare driver, no ORM, no FastAPI.

It runs the service's queries and answers the service's JSON, so the difference between the two
is what the service's own layers cost. bench.run starts it with the service's uvicorn command, in
the rendered project's virtual environment (so Starlette and uvicorn are the service's versions),
configured through CEILING_* variables (see settings()).
"""

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .drivers import DRIVERS, Database, Options

# The statements the service's ORM emits for the same requests (drivers swap the placeholders).
BOOK_COLUMNS = "b.id, b.title, b.isbn, b.author_id, a.id, a.name, a.created_at"
BOOKS_WITH_AUTHORS = f"SELECT {BOOK_COLUMNS} FROM books b JOIN authors a ON a.id = b.author_id"
BOOK = f"{BOOKS_WITH_AUTHORS} WHERE b.id = $1"
PAGE_OF_BOOKS = f"{BOOKS_WITH_AUTHORS} WHERE b.id > $1 ORDER BY b.id LIMIT $2"
INSERT_AUTHOR = "INSERT INTO authors (name) VALUES ($1) RETURNING id, name, created_at"
INSERT_EVENT = "INSERT INTO audit_events (action, subject) VALUES ($1, $2)"


def timestamp(value: datetime | str) -> str:
    """A timestamp as the service's JSON has it (pydantic's ISO 8601, Z for UTC)."""
    if isinstance(value, str):
        # SQLite keeps it as text, in UTC without saying so; the service adds the zone.
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    elif value.tzinfo is None:
        # MySQL's DATETIME has no zone either: the service stores UTC there and says so.
        value = value.replace(tzinfo=UTC)
    text = value.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def author_json(row: Any, first: int = 0) -> dict[str, Any]:
    return {"id": row[first], "name": row[first + 1], "created_at": timestamp(row[first + 2])}


def book_json(row: Any) -> dict[str, Any]:
    return {
        "id": row[0],
        "title": row[1],
        "isbn": row[2],
        "author_id": row[3],
        "author": author_json(row, first=4),
    }


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


async def get_book(request: Request) -> JSONResponse:
    book_id = request.path_params["book_id"]
    row = await database(request).one(BOOK, book_id)
    if row is None:
        detail = f"Book {book_id} does not exist."
        # The service's error bodies carry the request's id; a fresh one, as it makes them.
        return JSONResponse({"detail": detail, "request_id": uuid4().hex}, status_code=404)
    return JSONResponse(book_json(row))


async def create_author(request: Request) -> JSONResponse:
    body = await request.json()
    # The service writes the audit event in the author's transaction: so here.
    row = await database(request).create_author(INSERT_AUTHOR, INSERT_EVENT, body["name"])
    return JSONResponse(author_json(row), status_code=201)


async def list_books(request: Request) -> JSONResponse:
    limit = int(request.query_params.get("limit", 20))
    after = int(request.query_params.get("after", 0))
    rows = await database(request).all(PAGE_OF_BOOKS, after, limit)
    items = [book_json(row) for row in rows]
    next_page = None
    if len(rows) == limit:
        url = request.url.include_query_params(after=rows[-1][0], limit=limit)
        next_page = f"{url.path}?{url.query}"
    return JSONResponse({"items": items, "next": next_page})


def settings() -> tuple[str, Options]:
    """CEILING_DRIVER (a key of DRIVERS) and CEILING_OPTIONS (Options as JSON)."""
    return os.environ["CEILING_DRIVER"], Options(**json.loads(os.environ["CEILING_OPTIONS"]))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    driver, options = settings()
    app.state.database = DRIVERS[driver](options)
    await app.state.database.open()
    try:
        yield
    finally:
        await app.state.database.close()


def create_app() -> Starlette:
    routes = [
        Route("/books/{book_id:int}", get_book),
        Route("/books", list_books),
        Route("/authors", create_author, methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
