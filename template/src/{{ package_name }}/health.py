"""Health probes: /health/live (the process answers) and /health/ready (the database does too)."""

import asyncio
import logging

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import text

from .db import SessionmakerDep

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])

NOT_READY = {"description": "The database did not answer within DATABASE__READY_TIMEOUT."}


@router.get("/live", name="liveness")
async def live() -> dict[str, str]:
    # Never touches the database: restarting the service would not end an outage.
    return {"status": "ok"}


@router.get("/ready", name="readiness", responses={503: NOT_READY})
async def ready(request: Request, sessionmaker: SessionmakerDep) -> JSONResponse:
    timeout: float = request.app.state.settings.database.ready_timeout
    try:
        async with asyncio.timeout(timeout), sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        logger.warning("Not ready: the database did not answer", exc_info=True)
        detail = "The database is not reachable."
        return JSONResponse({"detail": detail}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return JSONResponse({"status": "ok"})
