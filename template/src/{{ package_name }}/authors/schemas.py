"""Request and response bodies of the sample domain."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ..fields import Id, Storable, Timestamp

# Lengths are the columns' (models.py); tests/test_fields.py keeps the two in step.
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), Storable]
Title = Annotated[str, StringConstraints(min_length=1, max_length=300), Storable]
Isbn = Annotated[
    str, StringConstraints(pattern=r"^(?:\d[- ]?){9}[\dX]$|^(?:\d[- ]?){12}\d$", max_length=17)
]


class Input(BaseModel):
    """A request body: a field it does not know is refused (422), not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def _not_nullable(schema: dict[str, Any]) -> None:
    # The document shows what Patch accepts: each field may be left out, none may be null.
    for field in schema.get("properties", {}).values():
        field.pop("default", None)
        options = [option for option in field.pop("anyOf", []) if option.get("type") != "null"]
        if options:
            field.update(options[0])


class Patch(Input):
    """A partial update: a field left out stays as it is; `null` is refused (422) for every field.

    A PATCH of null would otherwise be a silent no-op, or erase a column that must have a value.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_not_nullable)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: object) -> object:
        # Runs only for fields the client sent: pydantic does not validate a default.
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class AuthorCreate(Input):
    name: Name


class AuthorUpdate(Patch):
    name: Name | None = None


class AuthorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: Timestamp


class BookCreate(Input):
    title: Title
    isbn: Isbn
    author_id: Id


class BookUpdate(Patch):
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
    books: list[BookRead] = Field(description="The author's first books, in id order.")
    more_books: str | None = Field(
        description="Where the rest of the author's books are listed; null if these are all."
    )


class BookWithAuthor(BookRead):
    author: AuthorRead


class AuthorPage(BaseModel):
    items: list[AuthorRead]
    next: str | None = Field(description="The URL of the next page; null on the last page.")


class BookPage(BaseModel):
    items: list[BookWithAuthor]
    next: str | None = Field(description="The URL of the next page; null on the last page.")
