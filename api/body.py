"""Request bodies are bounded before they are parsed.

:class:`BodyLimitMiddleware` limits every request body to ``CAVIAR_MAX_BODY_BYTES``: a larger
``Content-Length`` is refused before a byte is read, and a body without one (chunked) as soon
as the bytes read pass the limit, with 413 naming ``body``; nothing is parsed. The limit is
judged at the body's first read, after routing, so that a route that reads its own raw body
(a CSV upload, a checkpoint) can declare ``max_body_size=OWN_LIMIT`` and read it with
:func:`read_limited` under its own setting (``CAVIAR_MAX_UPLOAD_BYTES``,
``CAVIAR_MAX_CHECKPOINT_BYTES``).
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import TooLarge

OWN_LIMIT = 1 << 62
"""``max_body_size`` of a route that bounds its body itself with ``read_limited``."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int | None = None
        read = 0

        async def limited() -> Message:
            nonlocal limit, read
            if limit is None:
                own = getattr(scope.get("route"), "max_body_size", None)
                limit = OWN_LIMIT if own == OWN_LIMIT else self.limit
                declared = _content_length(scope)
                if declared is not None and declared > limit:
                    raise _too_large(f"the body is {declared} bytes; the limit is {limit}")
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise _too_large(f"the body is over the limit of {limit} bytes")
            return message

        await self.app(scope, limited, send)


def _too_large(detail: str) -> HTTPException:
    """An HTTPException, so that FastAPI passes it on from its body reading (any other error
    there becomes a 400); ``api.errors_http`` answers it as ``{detail, field: body}``."""
    return HTTPException(413, f"{detail} (CAVIAR_MAX_BODY_BYTES)")


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def read_limited(request: Request, limit: int, what: str) -> bytes:
    """The whole body, or ``TooLarge`` (413 naming ``body``) as soon as its declared length or
    the bytes read so far pass ``limit``; ``what`` names the body in the message."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"{what} is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"{what} is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
