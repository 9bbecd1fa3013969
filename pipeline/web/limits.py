"""ASGI guards in front of the web app: request paths and request body size.

- A path with `//` (or a backslash) is answered with a redirect to the same path with single
  slashes (GET/HEAD) or 404 (other methods), before any page is rendered: `//other.host/login`
  would otherwise end up in links as a protocol-relative URL pointing at another host.
- A request body larger than `max_bytes` (default 1 MiB, COUNTERWATCH_MAX_BODY_BYTES) gets 413.
  A declared Content-Length over the limit is refused before a byte of the body is read; a
  chunked body is counted as it arrives and refused as soon as it passes the limit.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from fastapi import HTTPException

from pipeline.core.errors import ConfigError

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_SLASHES = re.compile(r"/{2,}")

Scope = dict[str, Any]


def max_body_bytes_from_env(default: int = DEFAULT_MAX_BODY_BYTES) -> int:
    raw = os.environ.get("COUNTERWATCH_MAX_BODY_BYTES", "")
    if not raw:
        return default
    try:
        n = int(raw)
    except ValueError:
        raise ConfigError(f"COUNTERWATCH_MAX_BODY_BYTES: expected a number of bytes, got {raw!r}") from None
    if n < 1024:
        raise ConfigError(f"COUNTERWATCH_MAX_BODY_BYTES: at least 1024, got {n}")
    return n


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"request body larger than {limit} bytes")


async def _send_json(send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": data})


class RequestGuard:
    """Pure ASGI middleware (it must see the raw receive channel to stop reading a body)."""

    def __init__(self, app: Any, max_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if "//" in path or "\\" in path:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return None
            clean = _SLASHES.sub("/", path.replace("\\", "/"))
            if scope.get("method") in ("GET", "HEAD"):
                qs = scope.get("query_string", b"")
                loc = clean + ("?" + qs.decode("latin-1") if qs else "")
                return await _send_json(send, 308, {"detail": "path with repeated slashes"},
                                        [(b"location", loc.encode("latin-1", "replace"))])
            return await _send_json(send, 404, {"detail": "not found"})
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.max_bytes
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                if not v.strip().isdigit():
                    return await _send_json(send, 400, {"detail": "bad Content-Length"})
                if int(v) > limit:
                    return await _send_json(send, 413, {"detail": f"request body larger than {limit} bytes"})
        seen = 0
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return msg

        async def watched_send(msg: dict[str, Any]) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:  # raised where no handler turned it into a response
            if started:
                raise
            await _send_json(send, 413, {"detail": exc.detail})
        return None
