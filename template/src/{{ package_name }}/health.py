"""Health probes: /health/live (the process answers) and /health/ready (the database does too)."""

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from .db import SessionmakerDep
from .errors import Error, error_response

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])


class Status(BaseModel):
    status: Literal["ok"]


NOT_READY = {
    "model": Error,
    "description": "The database did not answer within DATABASE__READY_TIMEOUT.",
}


@router.get("/live", name="liveness", operation_id="liveness")
async def live() -> Status:
    # Never touches the database: restarting the service would not end an outage.
    return Status(status="ok")


@router.get(
    "/ready",
    name="readiness",
    operation_id="readiness",
    responses={200: {"model": Status}, 503: NOT_READY},
)
async def ready(request: Request, sessionmaker: SessionmakerDep) -> JSONResponse:
    timeout: float = request.app.state.settings.database.ready_timeout
    try:
        async with asyncio.timeout(timeout), sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        # Probes come every few seconds: an outage is logged when it starts and when it ends.
        if getattr(request.app.state, "ready", True):
            reason = f"{type(exc).__name__}: {exc}".removesuffix(": ")
            logger.warning("Not ready: the database did not answer (%s)", reason)
        request.app.state.ready = False
        detail = "The database is not reachable."
        return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, detail)
    if not getattr(request.app.state, "ready", True):
        logger.info("Ready again: the database answers")
    request.app.state.ready = True
    return JSONResponse({"status": "ok"})
