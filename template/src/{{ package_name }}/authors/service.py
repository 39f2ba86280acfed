"""Queries and changes of the sample domain; the router calls these, tests may too."""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sqlalchemy import Integer, Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ..audit.service import record_event
from .models import Author, Book
from .schemas import (
    AuthorCreate,
    AuthorRead,
    AuthorUpdate,
    BookCreate,
    BookRead,
    BookUpdate,
    BookWithAuthor,
)

# The reads behind the GET handlers that answer most requests run on a connection
# (db.ReadConnectionDep), not a session, with statements built once, here: SQLAlchemy then finds
# their compiled SQL without building a cache key per request, and their rows go straight into the
# response models. A session would add nothing such a read needs (no object is changed, nothing is
# loaded later) and costs more CPU than the query itself: see ReadConnectionDep.
AUTHOR_COLUMNS = select(Author.id, Author.name, Author.created_at)
LIMIT = bindparam("limit", type_=Integer)
AUTHOR = AUTHOR_COLUMNS.where(Author.id == bindparam("author_id"))
# Pages are keyset pages: "the rows after id N", an index range scan however deep the page, where
# OFFSET would read and skip every earlier row, and rows inserted meanwhile would shift the pages.
AUTHORS_PAGE = AUTHOR_COLUMNS.where(Author.id > bindparam("after")).order_by(Author.id).limit(LIMIT)
FIRST_BOOKS = (
    select(Book.id, Book.title, Book.isbn, Book.author_id)
    .where(Book.author_id == bindparam("author_id"))
    .order_by(Book.id)
    .limit(LIMIT)
)
# A book always has an author (author_id is NOT NULL), so an inner join: it plans better than
# an outer one.
BOOK_COLUMNS = select(
    Book.id, Book.title, Book.isbn, Book.author_id, Author.name, Author.created_at
).join_from(Book, Author)
BOOK = BOOK_COLUMNS.where(Book.id == bindparam("book_id"))
BOOKS_PAGE = BOOK_COLUMNS.where(Book.id > bindparam("after")).order_by(Book.id).limit(LIMIT)
AUTHORS_BOOKS_PAGE = BOOKS_PAGE.where(Book.author_id == bindparam("author_id"))


def book_with_author(row: Row[int, str, str, int, str, datetime]) -> BookWithAuthor:
    author = AuthorRead(id=row.author_id, name=row.name, created_at=row.created_at)
    return BookWithAuthor(
        id=row.id, title=row.title, isbn=row.isbn, author_id=row.author_id, author=author
    )


async def read_author(connection: AsyncConnection, *, author_id: int) -> AuthorRead | None:
    row = (await connection.execute(AUTHOR, {"author_id": author_id})).first()
    return None if row is None else AuthorRead.model_validate(row)


async def read_authors(connection: AsyncConnection, *, after: int, limit: int) -> list[AuthorRead]:
    rows = await connection.execute(AUTHORS_PAGE, {"after": after, "limit": limit})
    return [AuthorRead.model_validate(row) for row in rows]


async def read_first_books(
    connection: AsyncConnection, *, author_id: int, limit: int
) -> list[BookRead]:
    rows = await connection.execute(FIRST_BOOKS, {"author_id": author_id, "limit": limit})
    return [BookRead.model_validate(row) for row in rows]


async def read_book(connection: AsyncConnection, *, book_id: int) -> BookWithAuthor | None:
    row = (await connection.execute(BOOK, {"book_id": book_id})).first()
    return None if row is None else book_with_author(row)


async def read_books(
    connection: AsyncConnection, *, after: int, limit: int, author_id: int | None = None
) -> list[BookWithAuthor]:
    if author_id is None:
        rows = await connection.execute(BOOKS_PAGE, {"after": after, "limit": limit})
    else:
        page = {"after": after, "limit": limit, "author_id": author_id}
        rows = await connection.execute(AUTHORS_BOOKS_PAGE, page)
    return [book_with_author(row) for row in rows]


# Rows fetched per round trip while streaming; memory holds about one batch, whatever the total.
EXPORT_BATCH_SIZE = 500


async def author_batches(session: AsyncSession) -> AsyncIterator[Sequence[Author]]:
    """All authors in id order, read through a server-side cursor EXPORT_BATCH_SIZE at a time."""
    query = select(Author).order_by(Author.id).execution_options(yield_per=EXPORT_BATCH_SIZE)
    result = await session.stream_scalars(query)
    async for batch in result.partitions():
        yield batch


# The rows a write changes are ORM objects, loaded in the writing session.
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


async def get_book(session: AsyncSession, *, book_id: int) -> Book | None:
    return await session.get(Book, book_id)


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
