"""Each test starts from an empty database, whatever the previous test committed.

The tests in this module run in order and depend on that order on purpose: the first commits rows
through the application, the second proves they are gone.
"""

from fastapi import FastAPI
from httpx import AsyncClient

from .test_authors import create_author


async def test_a_committed_row_stays_within_its_test(app: FastAPI, client: AsyncClient) -> None:
    await create_author(app, client, "Leaked?")

    response = await client.get(app.url_path_for("list_authors"))

    assert [author["name"] for author in response.json()["items"]] == ["Leaked?"]


async def test_the_next_test_does_not_see_it(app: FastAPI, client: AsyncClient) -> None:
    response = await client.get(app.url_path_for("list_authors"))

    assert response.json()["items"] == []


async def test_a_rolled_back_request_leaves_the_test_usable(
    app: FastAPI, client: AsyncClient
) -> None:
    await create_author(app, client, "Kept")
    conflict = await client.post(app.url_path_for("create_author"), json={"name": "Kept"})
    assert conflict.status_code == 409

    await create_author(app, client, "After the conflict")

    response = await client.get(app.url_path_for("list_authors"))
    names = [author["name"] for author in response.json()["items"]]
    assert names == ["Kept", "After the conflict"]
