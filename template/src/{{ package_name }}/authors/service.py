"""Queries and changes of the sample domain; the router calls these, tests may too."""

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from .models import Author, Book
from .schemas import AuthorCreate, AuthorUpdate, BookCreate, BookUpdate

# A book always has an author (author_id is NOT NULL), so an inner join: it plans better than
# an outer one.
WITH_AUTHOR = joinedload(Book.author, innerjoin=True)


async def list_authors(session: AsyncSession, *, limit: int, offset: int) -> Sequence[Author]:
    query = select(Author).order_by(Author.id).limit(limit).offset(offset)
    return (await session.scalars(query)).all()


# Rows fetched per round trip while streaming; memory holds about one batch, whatever the total.
EXPORT_BATCH_SIZE = 500


async def stream_authors(session: AsyncSession) -> AsyncIterator[Author]:
    """All authors in id order, read through a server-side cursor EXPORT_BATCH_SIZE at a time."""
    query = select(Author).order_by(Author.id).execution_options(yield_per=EXPORT_BATCH_SIZE)
    async for author in await session.stream_scalars(query):
        yield author


async def get_author(
    session: AsyncSession, *, author_id: int, with_books: bool = False
) -> Author | None:
    options = [selectinload(Author.books)] if with_books else []
    return await session.get(Author, author_id, options=options)


async def create_author(session: AsyncSession, *, data: AuthorCreate) -> Author:
    author = Author(name=data.name)
    session.add(author)
    # Flush now so a duplicate name surfaces here, inside the request, as an IntegrityError.
    await session.flush()
    return author


async def update_author(session: AsyncSession, *, author: Author, data: AuthorUpdate) -> Author:
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(author, field, value)
    await session.flush()
    return author


async def delete_author(session: AsyncSession, *, author: Author) -> None:
    await session.delete(author)
    await session.flush()


async def list_books(session: AsyncSession, *, limit: int, offset: int) -> Sequence[Book]:
    query = select(Book).options(WITH_AUTHOR).order_by(Book.id).limit(limit).offset(offset)
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
