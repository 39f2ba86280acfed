"""Request and response bodies of the sample domain."""

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Isbn = Annotated[str, StringConstraints(pattern=r"^(?:\d[- ]?){9}[\dX]$|^(?:\d[- ]?){12}\d$")]
Id = Annotated[int, Field(ge=1)]
T = TypeVar("T")


class AuthorCreate(BaseModel):
    name: Name


class AuthorUpdate(BaseModel):
    name: Name | None = None


class AuthorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime


class BookCreate(BaseModel):
    title: Title
    isbn: Isbn
    author_id: Id


class BookUpdate(BaseModel):
    title: Title | None = None
    isbn: Isbn | None = None
    author_id: Id | None = None


class BookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    isbn: str
    author_id: int


class AuthorWithBooks(AuthorRead):
    books: list[BookRead]


class BookWithAuthor(BookRead):
    author: AuthorRead


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
