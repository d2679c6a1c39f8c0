"""Raw request bodies (a CSV upload, a checkpoint) read under a size limit."""

from __future__ import annotations

from fastapi import Request

from api.errors import TooLarge


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
