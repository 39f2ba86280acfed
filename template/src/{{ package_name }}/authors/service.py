"""Queries and changes of the sample domain; the router calls these, tests may too."""

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from ..audit.service import record_event
from .models import Author, Book
from .schemas import AuthorCreate, AuthorUpdate, BookCreate, BookUpdate

# A book always has an author (author_id is NOT NULL), so an inner join: it plans better than
# an outer one.
WITH_AUTHOR = joinedload(Book.author, innerjoin=True)


# Pages are keyset pages: "the rows after id N", an index range scan however deep the page, where
# OFFSET would read and skip every earlier row, and rows inserted meanwhile would shift the pages.
async def list_authors(session: AsyncSession, *, after: int, limit: int) -> Sequence[Author]:
    query = select(Author).where(Author.id > after).order_by(Author.id).limit(limit)
    return (await session.scalars(query)).all()


# Rows fetched per round trip while streaming; memory holds about one batch, whatever the total.
EXPORT_BATCH_SIZE = 500


async def author_batches(session: AsyncSession) -> AsyncIterator[Sequence[Author]]:
    """All authors in id order, read through a server-side cursor EXPORT_BATCH_SIZE at a time."""
    query = select(Author).order_by(Author.id).execution_options(yield_per=EXPORT_BATCH_SIZE)
    result = await session.stream_scalars(query)
    async for batch in result.partitions():
        yield batch


async def get_author(session: AsyncSession, *, author_id: int) -> Author | None:
    return await session.get(Author, author_id)


async def create_author(session: AsyncSession, *, data: AuthorCreate) -> Author:
    author = Author(name=data.name)
    session.add(author)
    # Flush now so a duplicate name surfaces here, inside the request, as an IntegrityError.
    await session.flush()
    record_event(session, action="author.created", subject=f"authors/{author.id}")
    return author


async def update_author(session: AsyncSession, *, author: Author, data: AuthorUpdate) -> Author:
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(author, field, value)
    await session.flush()
    return author


async def delete_author(session: AsyncSession, *, author: Author) -> None:
    await session.delete(author)
    await session.flush()


async def list_books(
    session: AsyncSession, *, after: int, limit: int, author_id: int | None = None
) -> Sequence[Book]:
    query = select(Book).options(WITH_AUTHOR).where(Book.id > after)
    if author_id is not None:
        query = query.where(Book.author_id == author_id)
    return (await session.scalars(query.order_by(Book.id).limit(limit))).all()


async def first_books(session: AsyncSession, *, author_id: int, limit: int) -> Sequence[Book]:
    query = select(Book).where(Book.author_id == author_id).order_by(Book.id).limit(limit)
    return (await session.scalars(query)).all()


async def get_book(session: AsyncSession, *, book_id: int) -> Book | None:
    return await session.get(Book, book_id, options=[WITH_AUTHOR])


async def create_book(session: AsyncSession, *, data: BookCreate) -> Book:
    book = Book(**data.model_dump())
    session.add(book)
    await session.flush()
    return book


async def update_book(session: AsyncSession, *, book: Book, data: BookUpdate) -> Book:
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(book, field, value)
    await session.flush()
    return book


async def delete_book(session: AsyncSession, *, book: Book) -> None:
    await session.delete(book)
    await session.flush()
