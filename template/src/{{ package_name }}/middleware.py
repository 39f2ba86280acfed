"""What wraps every request: its id (in its log lines, its answer, its error body) and CORS."""

import re

from asgi_correlation_id import CorrelationIdMiddleware
from asgi_correlation_id.context import correlation_id
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from .errors import error_response
from .settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
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
    add_request_id_to_error_bodies(app)


def add_request_id_to_error_bodies(app: FastAPI) -> None:
    """FastAPI's own errors (404, 422) and unexpected ones (500) answer like the service's own."""

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code in {status.HTTP_204_NO_CONTENT, status.HTTP_304_NOT_MODIFIED}:
            return Response(status_code=exc.status_code, headers=exc.headers)
        return error_response(exc.status_code, exc.detail, exc.headers)

    async def on_invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail = jsonable_encoder(exc.errors())
        return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)

    async def on_unexpected_error(_request: Request, _exc: Exception) -> JSONResponse:
        # Answered outside the request id middleware, so the header is set here; uvicorn logs
        # the traceback, under the same id, after this answer is sent.
        request_id = correlation_id.get() or ""
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        detail = "Internal Server Error"
        return error_response(status.HTTP_500_INTERNAL_SERVER_ERROR, detail, headers)

    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(Exception, on_unexpected_error)
