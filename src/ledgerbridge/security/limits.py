"""Bounded input before anything else runs: request body size and JSON nesting depth.

A pure ASGI middleware, so it acts before the app reads a byte and before authentication:

- a ``Content-Length`` above the route's cap is answered ``413`` at once, unread;
- a JSON body (or one without a content type, which FastAPI reads as JSON) is read here up
  to the cap, checked for nesting depth, then handed to the app;
- any other body (multipart uploads) streams through, counted, and the read that crosses
  the cap ends the request with ``413``: nothing is spooled past the cap.

Every refusal is in the one error shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerbridge.errors import ApiError, error_response

MAX_JSON_DEPTH = 64


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than this route's {_size(limit)}")
        self.limit = limit


def _size(limit: int) -> str:
    return f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit} bytes"


def nests_deeper(body: bytes, limit: int) -> bool:
    """Whether the JSON in ``body`` nests arrays and objects more than ``limit`` deep.

    Parsed with the same parser FastAPI uses; a body that does not parse is left to it.
    """
    try:
        root = json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False
    level = [root] if isinstance(root, dict | list) else []
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        routes: Mapping[tuple[str, str], int] | None = None,
        max_json_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes or {})
        self.max_json_depth = max_json_depth

    def limit_for(self, method: str, path: str) -> int:
        return self.routes.get((method, path.rstrip("/") or "/"), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(BodyTooLarge(limit), scope, receive, send)
            return
        if limit <= self.default and _is_json(headers.get("content-type")):
            await self._buffered(limit, scope, receive, send)
        else:
            await self._counted(limit, scope, receive, send)

    async def _buffered(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > limit:
                await _refuse(BodyTooLarge(limit), scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        if nests_deeper(bytes(body), self.max_json_depth):
            response = error_response(
                ApiError(
                    422,
                    "validation_error",
                    f"the JSON body nests deeper than {self.max_json_depth} levels",
                )
            )
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _counted(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)  # inside the app: answered by its error handler
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:
            if started:
                raise
            await _refuse(exc, scope, receive, send)


async def _refuse(exc: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        ApiError(413, "payload_too_large", str(exc.detail), {"limit": exc.limit})
    )
    response.headers["Connection"] = "close"
    await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
