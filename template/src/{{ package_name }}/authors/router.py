"""HTTP endpoints of the sample domain."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit.service import record_event
from ..db import ReadSessionDep, SessionDep, SessionmakerDep
from . import service
from .models import Author, Book
from .schemas import (
    AuthorCreate,
    AuthorRead,
    AuthorUpdate,
    AuthorWithBooks,
    BookCreate,
    BookRead,
    BookUpdate,
    BookWithAuthor,
    Page,
)

router = APIRouter(tags=["authors"])

Limit = Annotated[int, Query(ge=1, le=100, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]


async def _author_or_404(
    session: AsyncSession, author_id: int, *, with_books: bool = False
) -> Author:
    author = await service.get_author(session, author_id=author_id, with_books=with_books)
    if author is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Author {author_id} does not exist.")
    return author


async def _book_or_404(session: AsyncSession, book_id: int) -> Book:
    book = await service.get_book(session, book_id=book_id)
    if book is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Book {book_id} does not exist.")
    return book


@router.get("/authors", name="list_authors")
async def list_authors(
    session: ReadSessionDep, limit: Limit = 20, offset: Offset = 0
) -> Page[AuthorRead]:
    authors = await service.list_authors(session, limit=limit, offset=offset)
    items = [AuthorRead.model_validate(author) for author in authors]
    return Page(items=items, limit=limit, offset=offset)


class NDJSONResponse(StreamingResponse):
    """Newline-delimited JSON: one document per line, so a client can read as it arrives."""

    media_type = "application/x-ndjson"


@router.get("/authors/export", name="export_authors", response_class=NDJSONResponse)
async def export_authors(sessionmaker: SessionmakerDep) -> NDJSONResponse:
    """Every author as newline-delimited JSON, in id order, however many there are."""
    return NDJSONResponse(_author_lines(sessionmaker))


async def _author_lines(sessionmaker: SessionmakerDep) -> AsyncIterator[str]:
    # The body is sent after the request's session has closed, so the stream opens its own.
    async with sessionmaker() as session:
        async for author in service.stream_authors(session):
            yield AuthorRead.model_validate(author).model_dump_json() + "\n"


@router.post("/authors", name="create_author", status_code=status.HTTP_201_CREATED)
async def create_author(
    session: SessionDep,
    sessionmaker: SessionmakerDep,
    background_tasks: BackgroundTasks,
    data: AuthorCreate,
) -> AuthorRead:
    author = await service.create_author(session, data=data)
    # Runs after the response, only if the request's transaction committed; see record_event.
    background_tasks.add_task(
        record_event, sessionmaker, action="author.created", subject=f"authors/{author.id}"
    )
    return AuthorRead.model_validate(author)


@router.get("/authors/{author_id}", name="get_author")
async def get_author(session: ReadSessionDep, author_id: int) -> AuthorWithBooks:
    author = await _author_or_404(session, author_id, with_books=True)
    return AuthorWithBooks.model_validate(author)


@router.patch("/authors/{author_id}", name="update_author")
async def update_author(session: SessionDep, author_id: int, data: AuthorUpdate) -> AuthorRead:
    author = await _author_or_404(session, author_id)
    return AuthorRead.model_validate(await service.update_author(session, author=author, data=data))


@router.delete("/authors/{author_id}", name="delete_author", status_code=status.HTTP_204_NO_CONTENT)
async def delete_author(session: SessionDep, author_id: int) -> Response:
    await service.delete_author(session, author=await _author_or_404(session, author_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/books", name="list_books")
async def list_books(
    session: ReadSessionDep, limit: Limit = 20, offset: Offset = 0
) -> Page[BookWithAuthor]:
    books = await service.list_books(session, limit=limit, offset=offset)
    items = [BookWithAuthor.model_validate(book) for book in books]
    return Page(items=items, limit=limit, offset=offset)


@router.post("/books", name="create_book", status_code=status.HTTP_201_CREATED)
async def create_book(session: SessionDep, data: BookCreate) -> BookRead:
    return BookRead.model_validate(await service.create_book(session, data=data))


@router.get("/books/{book_id}", name="get_book")
async def get_book(session: ReadSessionDep, book_id: int) -> BookWithAuthor:
    return BookWithAuthor.model_validate(await _book_or_404(session, book_id))


@router.patch("/books/{book_id}", name="update_book")
async def update_book(session: SessionDep, book_id: int, data: BookUpdate) -> BookRead:
    book = await _book_or_404(session, book_id)
    return BookRead.model_validate(await service.update_book(session, book=book, data=data))


@router.delete("/books/{book_id}", name="delete_book", status_code=status.HTTP_204_NO_CONTENT)
async def delete_book(session: SessionDep, book_id: int) -> Response:
    await service.delete_book(session, book=await _book_or_404(session, book_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
