"""The authors endpoints, including their error answers."""

from fastapi import FastAPI
from httpx import AsyncClient


async def create_author(app: FastAPI, client: AsyncClient, name: str) -> int:
    response = await client.post(app.url_path_for("create_author"), json={"name": name})
    assert response.status_code == 201, response.text
    author_id: int = response.json()["id"]
    return author_id


async def test_create_author_returns_the_stored_row(app: FastAPI, client: AsyncClient) -> None:
    response = await client.post(app.url_path_for("create_author"), json={"name": "  Ursula  "})

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Ursula"
    assert body["id"] >= 1
    assert body["created_at"]


async def test_duplicate_author_name_is_a_conflict(app: FastAPI, client: AsyncClient) -> None:
    await create_author(app, client, "Ursula")

    response = await client.post(app.url_path_for("create_author"), json={"name": "Ursula"})

    assert response.status_code == 409
    assert response.json()["detail"] == "An author with this name already exists."


async def test_blank_author_name_is_rejected(app: FastAPI, client: AsyncClient) -> None:
    response = await client.post(app.url_path_for("create_author"), json={"name": "   "})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


async def test_missing_author_is_not_found(app: FastAPI, client: AsyncClient) -> None:
    response = await client.get(app.url_path_for("get_author", author_id=999_999))

    assert response.status_code == 404
    assert response.json()["detail"] == "Author 999999 does not exist."


async def test_get_author_includes_their_books(app: FastAPI, client: AsyncClient) -> None:
    author_id = await create_author(app, client, "Octavia")
    for isbn in ("9780446675505", "9780446603775"):
        book = {"title": f"Book {isbn}", "isbn": isbn, "author_id": author_id}
        assert (await client.post(app.url_path_for("create_book"), json=book)).status_code == 201

    response = await client.get(app.url_path_for("get_author", author_id=author_id))

    assert response.status_code == 200
    assert [book["isbn"] for book in response.json()["books"]] == ["9780446675505", "9780446603775"]


async def test_list_authors_pages_in_id_order(app: FastAPI, client: AsyncClient) -> None:
    ids = [await create_author(app, client, f"Author {n}") for n in range(5)]

    response = await client.get(app.url_path_for("list_authors"), params={"limit": 2, "offset": 1})

    assert response.status_code == 200
    page = response.json()
    assert [author["id"] for author in page["items"]] == ids[1:3]
    assert (page["limit"], page["offset"]) == (2, 1)


async def test_page_size_over_the_limit_is_rejected(app: FastAPI, client: AsyncClient) -> None:
    response = await client.get(app.url_path_for("list_authors"), params={"limit": 1000})

    assert response.status_code == 422


async def test_update_author_changes_the_name(app: FastAPI, client: AsyncClient) -> None:
    author_id = await create_author(app, client, "Iain")
    url = app.url_path_for("update_author", author_id=author_id)

    response = await client.patch(url, json={"name": "Iain M."})

    assert response.status_code == 200
    assert response.json()["name"] == "Iain M."
    fetched = await client.get(app.url_path_for("get_author", author_id=author_id))
    assert fetched.json()["name"] == "Iain M."


async def test_renaming_to_a_taken_name_is_a_conflict(app: FastAPI, client: AsyncClient) -> None:
    await create_author(app, client, "Frank")
    author_id = await create_author(app, client, "Brian")
    url = app.url_path_for("update_author", author_id=author_id)

    response = await client.patch(url, json={"name": "Frank"})

    assert response.status_code == 409
    fetched = await client.get(app.url_path_for("get_author", author_id=author_id))
    assert fetched.json()["name"] == "Brian"


async def test_updating_a_missing_author_is_not_found(app: FastAPI, client: AsyncClient) -> None:
    url = app.url_path_for("update_author", author_id=424_242)

    response = await client.patch(url, json={"name": "Nobody"})

    assert response.status_code == 404


async def test_delete_author_removes_them_and_their_books(
    app: FastAPI, client: AsyncClient
) -> None:
    author_id = await create_author(app, client, "Gene")
    book = {"title": "Shadow", "isbn": "9780312890179", "author_id": author_id}
    book_id = (await client.post(app.url_path_for("create_book"), json=book)).json()["id"]

    response = await client.delete(app.url_path_for("delete_author", author_id=author_id))

    assert response.status_code == 204
    author_url = app.url_path_for("get_author", author_id=author_id)
    assert (await client.get(author_url)).status_code == 404
    assert (await client.get(app.url_path_for("get_book", book_id=book_id))).status_code == 404


async def test_deleting_a_missing_author_is_not_found(app: FastAPI, client: AsyncClient) -> None:
    response = await client.delete(app.url_path_for("delete_author", author_id=424_242))

    assert response.status_code == 404
