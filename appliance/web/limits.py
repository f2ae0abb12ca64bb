"""The request-size limit: a body larger than ``[api] max_body_bytes`` is refused with 413 before it is read.

A pure ASGI middleware, outermost but for Starlette's own error handler, so it sees the
request before any route, form parser or JSON decoder: a declared ``Content-Length`` over
the limit is answered at once without reading a byte of the body; a body sent without one
(chunked) is counted as it streams in and cut off at the limit. Either way the answer is
the app's one error shape, ``{"error", "kind": "PayloadTooLarge"}``, and nothing was done
with the request.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, MutableMapping

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIND = "PayloadTooLarge"


class _TooLarge(Exception):
    """Raised out of ``receive`` when a streamed body passes the limit."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, f"the request body of {declared} bytes is larger than the "
                                     f"{self.max_bytes} bytes this kiosk accepts")
            return
        received = 0
        started = False
        exceeded = False
        too_large = f"the request body is larger than the {self.max_bytes} bytes this kiosk accepts"

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge()
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # The body parser turned our exception into an answer of its own (FastAPI answers
                # 400 for any failure while reading the body): ours replaces it.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send, too_large)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLarge:
            if started:
                return  # answered already (413), or too late for an answer
            await self._refuse(send, too_large)

    async def _refuse(self, send: Send, message: str) -> None:
        body = json.dumps({"error": message, "kind": KIND}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None
