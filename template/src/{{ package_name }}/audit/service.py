"""Writing and reading the audit trail."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditEvent


def record_event(session: AsyncSession, *, action: str, subject: str) -> None:
    """Add one event to the transaction of the change it records.

    Both commit together or neither does: an event can never describe a change that was rolled
    back, nor go missing for one that was committed. A background task after the response (the
    obvious alternative) needs a second connection when the pool may have none left or the
    database may be restarting, and its failure is seen by no one: the client already has its 201.
    The cost is one more INSERT inside the request's transaction.
    """
    session.add(AuditEvent(action=action, subject=subject))


async def list_events(session: AsyncSession, *, limit: int) -> Sequence[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    return (await session.scalars(query)).all()
