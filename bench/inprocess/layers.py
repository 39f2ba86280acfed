"""GET /books/{book_id} built up layer by layer, from a constant answer to the generated service.

Each factory returns an ASGI app answering the service's JSON for a book with its author (the
same two-table read: books joined with authors). Run in a rendered project's virtual environment,
with this folder's parent and bench/ceiling on PYTHONPATH, so every library is the service's
version, and configured from the environment:

    LAYERS_PACKAGE  the project's package
    DATABASE__URL   the project's SQLAlchemy URL (the service reads it too)
    LAYERS_DSN      the same database as a libpq URL, for the drivers' own pools (the ceilings)
    LAYERS_BOOK     the service's answer to GET /books/1, which the constant layer repeats

The layers between the ceiling and the service take the project's mapped tables and response
model, so they read the same columns and serialize the same way, but build their own engine with
SQLAlchemy's defaults: what the service adds on top (its engine's events, dependencies,
middleware, metrics, request ids) shows as the service's own step.
"""

import importlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from ceiling.app import book_json, timestamp
from ceiling.app import create_app as create_ceiling
from fastapi import Depends, FastAPI, HTTPException, Path
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as create_engine
from sqlalchemy.orm import joinedload
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROUTE = "/books/{book_id:int}"
ID_MAX = 2**31 - 1


def package() -> str:
    return os.environ["LAYERS_PACKAGE"]


def tables() -> tuple[Any, Any]:
    """The project's mapped classes Book and Author."""
    models = importlib.import_module(f"{package()}.authors.models")
    return models.Book, models.Author


def not_found(book_id: int) -> JSONResponse:
    return JSONResponse({"detail": f"Book {book_id} does not exist."}, status_code=404)


def constant_app() -> Starlette:
    """Starlette answering book 1's bytes for any id: routing and a response, no database.

    Under uvicorn it shows what the HTTP server costs; in-process, what Starlette does.
    """
    body = os.environ["LAYERS_BOOK"].encode()

    async def get_book(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route(ROUTE, get_book)])


def ceiling_app(driver: str) -> Starlette:
    """bench/ceiling/app.py on one driver's own pool.

    The ceiling reads CEILING_* when it starts, so its lifespan is wrapped to set them first: two
    ceilings can then live in one process.
    """
    app = create_ceiling()
    started = app.router.lifespan_context
    # Requests come one at a time here: the pool's size does not matter, only that it is a pool.
    options = {"dsn": os.environ["LAYERS_DSN"], "min_size": 1, "max_size": 5, "unprepared": False}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        os.environ["CEILING_DRIVER"] = driver
        os.environ["CEILING_OPTIONS"] = json.dumps(options)
        async with started(app):
            yield

    app.router.lifespan_context = lifespan
    return app


@asynccontextmanager
async def engine_lifespan(app: Starlette) -> AsyncIterator[None]:
    """An engine with SQLAlchemy's defaults, reading in AUTOCOMMIT as the service's reads do:
    no BEGIN and COMMIT round trips around a single SELECT."""
    engine = create_engine(os.environ["DATABASE__URL"])
    app.state.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    app.state.sessionmaker = async_sessionmaker(app.state.engine, expire_on_commit=False)
    try:
        yield
    finally:
        await engine.dispose()


def core_app() -> Starlette:
    """Starlette + SQLAlchemy Core: a select of the joined columns on an AsyncConnection."""
    book_class, author_class = tables()
    books, authors = book_class.__table__, author_class.__table__
    columns = [books.c.id, books.c.title, books.c.isbn, books.c.author_id]
    columns += [authors.c.id, authors.c.name, authors.c.created_at]

    async def get_book(request: Request) -> JSONResponse:
        book_id = request.path_params["book_id"]
        # Built per request, as handlers write it: SQLAlchemy finds its compiled form by cache key.
        query = select(*columns).join_from(books, authors).where(books.c.id == book_id)
        engine: AsyncEngine = request.app.state.engine
        async with engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return not_found(book_id) if row is None else JSONResponse(book_json(row))

    return Starlette(routes=[Route(ROUTE, get_book)], lifespan=engine_lifespan)


def orm_app() -> Starlette:
    """Starlette + the ORM: AsyncSession.get of the book with its author joined in."""
    book_class, _ = tables()
    with_author = joinedload(book_class.author, innerjoin=True)

    async def get_book(request: Request) -> JSONResponse:
        book_id = request.path_params["book_id"]
        async with request.app.state.sessionmaker() as session:
            book = await session.get(book_class, book_id, options=[with_author])
        if book is None:
            return not_found(book_id)
        author = book.author
        return JSONResponse(
            {
                "id": book.id,
                "title": book.title,
                "isbn": book.isbn,
                "author_id": book.author_id,
                "author": {
                    "id": author.id,
                    "name": author.name,
                    "created_at": timestamp(author.created_at),
                },
            }
        )

    return Starlette(routes=[Route(ROUTE, get_book)], lifespan=engine_lifespan)


def fastapi_app() -> FastAPI:
    """FastAPI as its tutorial writes it: a session dependency, a validated path parameter, the
    ORM read and the project's pydantic response model; no middleware."""
    book_class, _ = tables()
    with_author = joinedload(book_class.author, innerjoin=True)
    response_model = importlib.import_module(f"{package()}.authors.schemas").BookWithAuthor

    async def session(request: Request) -> AsyncIterator[AsyncSession]:
        async with request.app.state.sessionmaker() as session:
            yield session

    app = FastAPI(lifespan=engine_lifespan)

    @app.get(ROUTE, response_model=response_model)
    async def get_book(
        book_id: Annotated[int, Path(ge=1, le=ID_MAX)],
        session: Annotated[AsyncSession, Depends(session)],
    ) -> Any:
        book = await session.get(book_class, book_id, options=[with_author])
        if book is None:
            raise HTTPException(404, f"Book {book_id} does not exist.")
        return response_model.model_validate(book)

    return app


def service_app() -> Any:
    """The generated service as uvicorn starts it: create_app() with its settings from the
    environment."""
    return importlib.import_module(f"{package()}.main").create_app()
