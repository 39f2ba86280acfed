"""A ceiling on request bodies: a larger one is refused with 413 before anyone parses it."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Far above any valid body of this API (the longest is a few kilobytes), far below what would
# hurt: without a limit a client could make the service buffer and parse any amount of JSON.
MAX_BODY_BYTES = 64 * 1024
TOO_LARGE = f"The request body is larger than {MAX_BODY_BYTES} bytes."


class BodySizeLimit:
    """ASGI middleware counting body bytes as they arrive, with or without a Content-Length."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # Raised while the handler reads the body: FastAPI answers it as JSON, like any
                # HTTPException, and the rest of the body is never read.
                raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, limited_receive, send)
