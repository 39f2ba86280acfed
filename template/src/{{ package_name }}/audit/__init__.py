"""An audit trail, written by background tasks after the request that caused an event."""
