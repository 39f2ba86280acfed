"""An audit trail, written in the same transaction as the change each event records."""
