"""Response bodies of the audit trail."""

from pydantic import BaseModel, ConfigDict

from ..fields import Timestamp


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    subject: str
    at: Timestamp
