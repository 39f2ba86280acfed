"""The health probes an orchestrator polls."""

from fastapi import FastAPI
from httpx import AsyncClient


async def test_liveness_answers_ok(app: FastAPI, client: AsyncClient) -> None:
    response = await client.get(app.url_path_for("liveness"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_answers_ok_when_the_database_does(
    app: FastAPI, client: AsyncClient
) -> None:
    response = await client.get(app.url_path_for("readiness"))

    assert response.status_code == 200
    # With read replicas, the answer also lists their states (none here).
    assert response.json()["status"] == "ok"
