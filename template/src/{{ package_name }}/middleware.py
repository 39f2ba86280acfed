"""What wraps every request: its id (in its log lines, its answer, its error body) and CORS."""

import re

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .errors import REQUEST_ID_HEADER
from .settings import Settings

# An incoming id is kept when it is short and plain (a UUID, a proxy's hex id); anything else could
# forge or break log lines, so it is replaced by a fresh one.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def is_sane_request_id(value: str) -> bool:
    return SANE_REQUEST_ID.fullmatch(value) is not None


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """CORS for the configured origins, inside the request id, so a preflight gets an id too."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[REQUEST_ID_HEADER],
        )
    app.add_middleware(
        CorrelationIdMiddleware, header_name=REQUEST_ID_HEADER, validator=is_sane_request_id
    )
