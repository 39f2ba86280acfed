"""HTTP endpoints of the audit trail."""

from typing import Annotated

from fastapi import APIRouter, Query

from ..db import ReadSessionDep
from ..errors import SERVER_ERRORS, documented
from . import service
from .schemas import AuditEventRead

router = APIRouter(tags=["audit"], responses=SERVER_ERRORS)


@router.get(
    "/audit/events",
    name="list_audit_events",
    operation_id="list_audit_events",
    responses=documented(422),
)
async def list_audit_events(
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Most recent events to return.")] = 20,
) -> list[AuditEventRead]:
    events = await service.list_events(session, limit=limit)
    return [AuditEventRead.model_validate(event) for event in events]
