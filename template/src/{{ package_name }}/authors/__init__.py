"""The sample domain: authors and the books they wrote."""

# What the API answers when one of this domain's constraints is violated.
CONSTRAINT_MESSAGES = {
    "uq_authors_name": "An author with this name already exists.",
    "uq_books_isbn": "A book with this ISBN already exists.",
    "fk_books_author_id_authors": "No author has this author_id.",
}
