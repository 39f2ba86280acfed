"""One logging setup for the service, uvicorn and Alembic: readable lines or JSON, per settings."""

import logging
import sys

from asgi_correlation_id import CorrelationIdFilter
from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from .settings import Settings

# The handler this module installs, found again by name so that configuring twice replaces it.
HANDLER_NAME = "service"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(correlation_id)s] %(message)s"
JSON_FIELDS = ["levelname", "name", "correlation_id", "message"]
JSON_NAMES = {"levelname": "level", "name": "logger", "correlation_id": "request_id"}
# uvicorn gives its own loggers handlers of their own; without them their lines reach the root's.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class TraceIdFilter(logging.Filter):
    """Adds `trace_id` to a record written inside a traced request: from a line to its trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = trace.format_trace_id(context.trace_id)
        return True


def formatter(settings: Settings) -> logging.Formatter:
    if settings.log_format == "json":
        return JsonFormatter(
            JSON_FIELDS,
            rename_fields=JSON_NAMES,
            timestamp="time",  # ISO 8601 in UTC
            # uvicorn adds a copy of each message with terminal colours.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings) -> None:
    """Send every logger's lines through one handler, each with the request id it was written in.

    Called by create_app (in each uvicorn worker, after uvicorn set up its own logging) and by the
    migrations' env.py. Other handlers (a test runner's) are left in place.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(HANDLER_NAME)
        # A line written outside any request (startup, a migration) shows "-" for the request id.
        handler.addFilter(CorrelationIdFilter(default_value="-"))
        handler.addFilter(TraceIdFilter())
        root.addHandler(handler)
    handler.setFormatter(formatter(settings))
    handler.setLevel(settings.log_level)
    # Warnings always reach the root logger's other handlers (a test run's), whatever LOG_LEVEL.
    root.setLevel(min(logging.getLevelName(settings.log_level), logging.WARNING))
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
