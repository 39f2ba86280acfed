"""SQLAlchemy Core's step split in three: the same read with less of SQLAlchemy each time.

From the ceiling to inprocess.layers.core_app, one part of SQLAlchemy's per-request work is added
at a time: its pool and AsyncConnection around the driver's own call, then Connection's execute of
plain SQL (cursor adaption and result rows), then a select built once (cache key, compiled cache,
typed result); core_app adds building the select per request.
"""

from typing import Any

from ceiling.app import BOOK, book_json
from ceiling.drivers import PLACEHOLDER
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .layers import ROUTE, engine_lifespan, not_found, tables


def served(read: Any) -> Starlette:
    """Starlette answering GET /books/{book_id} with the row `read(connection, book_id)` gives."""

    async def get_book(request: Request) -> JSONResponse:
        book_id = request.path_params["book_id"]
        engine: AsyncEngine = request.app.state.engine
        async with engine.connect() as connection:
            row = await read(connection, book_id)
        return not_found(book_id) if row is None else JSONResponse(book_json(row))

    return Starlette(routes=[Route(ROUTE, get_book)], lifespan=engine_lifespan)


def pool_app() -> Starlette:
    """SQLAlchemy's pool and AsyncConnection, the statement sent by the driver itself."""

    async def read(connection: Any, book_id: int) -> Any:
        raw = (await connection.get_raw_connection()).driver_connection
        if connection.dialect.driver == "asyncpg":
            return await raw.fetchrow(BOOK, book_id)
        cursor = await raw.execute(PLACEHOLDER.sub("%s", BOOK), (book_id,))
        return await cursor.fetchone()

    return served(read)


def driver_sql_app() -> Starlette:
    """AsyncConnection.exec_driver_sql: SQLAlchemy executes, nothing is compiled."""

    async def read(connection: Any, book_id: int) -> Any:
        numbered = connection.dialect.paramstyle.startswith("numeric")
        query = BOOK if numbered else PLACEHOLDER.sub("%s", BOOK)
        return (await connection.exec_driver_sql(query, (book_id,))).first()

    return served(read)


def prebuilt_app() -> Starlette:
    """A Core select built once, its id a bound parameter."""
    book_class, author_class = tables()
    books, authors = book_class.__table__, author_class.__table__
    columns = [books.c.id, books.c.title, books.c.isbn, books.c.author_id]
    columns += [authors.c.id, authors.c.name, authors.c.created_at]
    query = select(*columns).join_from(books, authors).where(books.c.id == bindparam("book_id"))

    async def read(connection: Any, book_id: int) -> Any:
        return (await connection.execute(query, {"book_id": book_id})).first()

    return served(read)
