"""The ceiling the generated service is measured against: Starlette on a raw asyncpg pool.

Same queries, same JSON shape, no ORM and no framework beyond routing. Run with uvicorn:
`DATABASE_URL=postgresql://... uvicorn --factory bench.ceiling:create_app`.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BOOK_COLUMNS = "b.id, b.title, b.isbn, b.author_id, a.id, a.name, a.created_at"
BOOK = f"SELECT {BOOK_COLUMNS} FROM books b JOIN authors a ON a.id = b.author_id WHERE b.id = $1"
BOOKS = f"""
SELECT {BOOK_COLUMNS} FROM books b JOIN authors a ON a.id = b.author_id
ORDER BY b.id LIMIT $1 OFFSET $2
"""
INSERT = "INSERT INTO authors (name) VALUES ($1) RETURNING id, name, created_at"


def author_json(row: asyncpg.Record, offset: int = 0) -> dict[str, object]:
    return {"id": row[offset], "name": row[offset + 1], "created_at": row[offset + 2].isoformat()}


def book_json(row: asyncpg.Record) -> dict[str, object]:
    return {
        "id": row[0],
        "title": row[1],
        "isbn": row[2],
        "author_id": row[3],
        "author": author_json(row, 4),
    }


async def get_book(request: Request) -> JSONResponse:
    pool: asyncpg.Pool = request.app.state.pool
    row = await pool.fetchrow(BOOK, int(request.path_params["book_id"]))
    if row is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return JSONResponse(book_json(row))


async def create_author(request: Request) -> JSONResponse:
    pool: asyncpg.Pool = request.app.state.pool
    body = await request.json()
    row = await pool.fetchrow(INSERT, body["name"])
    return JSONResponse(author_json(row), status_code=201)


async def list_books(request: Request) -> JSONResponse:
    pool: asyncpg.Pool = request.app.state.pool
    limit = int(request.query_params.get("limit", 20))
    offset = int(request.query_params.get("offset", 0))
    rows = await pool.fetch(BOOKS, limit, offset)
    items = [book_json(row) for row in rows]
    return JSONResponse({"items": items, "limit": limit, "offset": offset})


def create_app() -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            os.environ["DATABASE_URL"], min_size=5, max_size=15
        )
        yield
        await app.state.pool.close()

    routes = [
        Route("/books/{book_id:int}", get_book),
        Route("/authors", create_author, methods=["POST"]),
        Route("/books", list_books),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
