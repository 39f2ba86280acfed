"""Writing and reading the audit trail."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .models import AuditEvent


async def record_event(
    sessionmaker: async_sessionmaker[AsyncSession], *, action: str, subject: str
) -> None:
    """Store one event in a session and transaction of its own.

    Meant to run as a background task, after the response: by then the request's session is
    closed, and an audit write must not share the fate of the request's transaction anyway.
    """
    async with sessionmaker.begin() as session:
        session.add(AuditEvent(action=action, subject=subject))


async def list_events(session: AsyncSession, *, limit: int) -> Sequence[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    return (await session.scalars(query)).all()
