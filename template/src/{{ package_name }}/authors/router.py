"""HTTP endpoints of the sample domain."""

from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import ReadConnectionDep, SessionDep, SessionmakerDep
from ..errors import SERVER_ERRORS, documented
from ..fields import ID_MAX, Id
from . import service
from .models import Author, Book
from .schemas import (
    AuthorCreate,
    AuthorPage,
    AuthorRead,
    AuthorUpdate,
    AuthorWithBooks,
    BookCreate,
    BookPage,
    BookRead,
    BookUpdate,
    BookWithAuthor,
)

router = APIRouter(tags=["authors"], responses=SERVER_ERRORS)

# `{author_id:int}` in the paths: only digits match, so /authors/export is never taken for an id.
AuthorId = Annotated[int, Path(ge=1, le=ID_MAX)]
BookId = Annotated[int, Path(ge=1, le=ID_MAX)]
Limit = Annotated[int, Query(ge=1, le=100, description="Rows per page.")]
After = Annotated[
    int, Query(ge=0, le=ID_MAX, description="Start after this id; from the `next` link.")
]
# How many of an author's books GET /authors/{author_id} embeds; `more_books` links to the rest.
EMBEDDED_BOOKS = 20


def _links(operation_id: str, parameter: str) -> dict[str, Any]:
    """OpenAPI links from a created row to the operations on it, for clients and fuzzers."""
    return {
        name.replace("_", " ").title().replace(" ", ""): {
            "operationId": name,
            "parameters": {parameter: "$response.body#/id"},
        }
        for name in (f"get_{operation_id}", f"update_{operation_id}", f"delete_{operation_id}")
    }


AUTHOR_CREATED = {"links": _links("author", "author_id")}
BOOK_CREATED = {"links": _links("book", "book_id")}
# Each line of the export is one AuthorRead document.
NDJSON_OF_AUTHORS = {
    "content": {
        "application/x-ndjson": {"schema": AuthorRead.model_json_schema()},
    },
}


def _next(request: Request, rows: Sequence[AuthorRead | BookRead], limit: int) -> str | None:
    # A full page may be followed by more; a short one is the last. Relative: the service does not
    # know the host name its clients see behind a proxy.
    if len(rows) < limit:
        return None
    url = request.url.include_query_params(after=rows[-1].id, limit=limit)
    return f"{url.path}?{url.query}"


def _no_author(author_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"Author {author_id} does not exist.")


def _no_book(book_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"Book {book_id} does not exist.")


async def _author_or_404(session: AsyncSession, author_id: int) -> Author:
    author = await service.get_author(session, author_id=author_id)
    if author is None:
        raise _no_author(author_id)
    return author


async def _book_or_404(session: AsyncSession, book_id: int) -> Book:
    book = await service.get_book(session, book_id=book_id)
    if book is None:
        raise _no_book(book_id)
    return book


@router.get("/authors", name="list_authors", operation_id="list_authors", responses=documented(422))
async def list_authors(
    request: Request, connection: ReadConnectionDep, limit: Limit = 20, after: After = 0
) -> AuthorPage:
    authors = await service.read_authors(connection, after=after, limit=limit)
    return AuthorPage(items=authors, next=_next(request, authors, limit))


class NDJSONResponse(StreamingResponse):
    """Newline-delimited JSON: one document per line, so a client can read as it arrives."""

    media_type = "application/x-ndjson"


@router.get(
    "/authors/export",
    name="export_authors",
    operation_id="export_authors",
    response_class=NDJSONResponse,
    responses={200: NDJSON_OF_AUTHORS},
)
async def export_authors(sessionmaker: SessionmakerDep) -> NDJSONResponse:
    """Every author as newline-delimited JSON, in id order, however many there are.

    A response that ends without its last chunk (the connection closes early) is incomplete: the
    database failed midway.
    """
    # The body is sent after the request's session has closed, so the stream has its own. It
    # connects and reads the first batch before the 200 goes out: a database that is down is a
    # 503 here, not an empty 200.
    session = sessionmaker()
    try:
        batches = service.author_batches(session)
        first: Sequence[Author] = await anext(batches, [])
    except BaseException:
        await session.close()
        raise
    return NDJSONResponse(_author_lines(session, batches, first))


async def _author_lines(
    session: AsyncSession, batches: AsyncIterator[Sequence[Author]], first: Sequence[Author]
) -> AsyncIterator[str]:
    # A failure past this point cannot change the status any more: it propagates, and the server
    # drops the connection without the final chunk, which the client sees as a cut-off body.
    try:
        batch = first
        while batch:
            yield "".join(AuthorRead.model_validate(a).model_dump_json() + "\n" for a in batch)
            batch = await anext(batches, [])
    finally:
        await session.close()


@router.post(
    "/authors",
    name="create_author",
    operation_id="create_author",
    status_code=status.HTTP_201_CREATED,
    responses={201: AUTHOR_CREATED, **documented(400, 409, 413, 422)},
)
async def create_author(session: SessionDep, data: AuthorCreate) -> AuthorRead:
    return AuthorRead.model_validate(await service.create_author(session, data=data))


@router.get(
    "/authors/{author_id:int}",
    name="get_author",
    operation_id="get_author",
    responses=documented(404, 422),
)
async def get_author(
    request: Request, connection: ReadConnectionDep, author_id: AuthorId
) -> AuthorWithBooks:
    author = await service.read_author(connection, author_id=author_id)
    if author is None:
        raise _no_author(author_id)
    books = await service.read_first_books(connection, author_id=author_id, limit=EMBEDDED_BOOKS)
    more = None
    if len(books) == EMBEDDED_BOOKS:
        query = urlencode({"author_id": author_id, "after": books[-1].id, "limit": EMBEDDED_BOOKS})
        more = f"{request.app.url_path_for('list_books')}?{query}"
    return AuthorWithBooks(
        id=author.id, name=author.name, created_at=author.created_at, books=books, more_books=more
    )


@router.patch(
    "/authors/{author_id:int}",
    name="update_author",
    operation_id="update_author",
    responses=documented(400, 404, 409, 413, 422),
)
async def update_author(session: SessionDep, author_id: AuthorId, data: AuthorUpdate) -> AuthorRead:
    author = await _author_or_404(session, author_id)
    return AuthorRead.model_validate(await service.update_author(session, author=author, data=data))


@router.delete(
    "/authors/{author_id:int}",
    name="delete_author",
    operation_id="delete_author",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(404, 422),
)
async def delete_author(session: SessionDep, author_id: AuthorId) -> Response:
    await service.delete_author(session, author=await _author_or_404(session, author_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/books", name="list_books", operation_id="list_books", responses=documented(422))
async def list_books(
    request: Request,
    connection: ReadConnectionDep,
    limit: Limit = 20,
    after: After = 0,
    author_id: Annotated[Id | None, Query(description="Only this author's books.")] = None,
) -> BookPage:
    books = await service.read_books(connection, after=after, limit=limit, author_id=author_id)
    return BookPage(items=books, next=_next(request, books, limit))


@router.post(
    "/books",
    name="create_book",
    operation_id="create_book",
    status_code=status.HTTP_201_CREATED,
    responses={201: BOOK_CREATED, **documented(400, 409, 413, 422)},
)
async def create_book(session: SessionDep, data: BookCreate) -> BookRead:
    return BookRead.model_validate(await service.create_book(session, data=data))


@router.get(
    "/books/{book_id:int}", name="get_book", operation_id="get_book", responses=documented(404, 422)
)
async def get_book(connection: ReadConnectionDep, book_id: BookId) -> BookWithAuthor:
    book = await service.read_book(connection, book_id=book_id)
    if book is None:
        raise _no_book(book_id)
    return book


@router.patch(
    "/books/{book_id:int}",
    name="update_book",
    operation_id="update_book",
    responses=documented(400, 404, 409, 413, 422),
)
async def update_book(session: SessionDep, book_id: BookId, data: BookUpdate) -> BookRead:
    book = await _book_or_404(session, book_id)
    return BookRead.model_validate(await service.update_book(session, book=book, data=data))


@router.delete(
    "/books/{book_id:int}",
    name="delete_book",
    operation_id="delete_book",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(404, 422),
)
async def delete_book(session: SessionDep, book_id: BookId) -> Response:
    await service.delete_book(session, book=await _book_or_404(session, book_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
