"""A webhook receiver on 127.0.0.1 for tests: records every request it gets and answers
what the test tells it to (200 by default)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import serve_in_thread


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    # Answers to give, in order (status, headers, body); then 200.
    answers: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, status: int, body: str = "", **headers: str) -> None:
        with self.lock:
            self.answers.append((status, headers, body))

    def next_answer(self) -> tuple[int, dict[str, str], str]:
        with self.lock:
            return self.answers.pop(0) if self.answers else (200, {}, "ok")


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        receiver.received.append(Received(request.url.path, dict(request.headers), body))
        status, headers, text = receiver.next_answer()
        return Response(text, status_code=status, headers=headers)

    app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    with serve_in_thread(app) as origin:
        receiver.url = origin
        yield receiver
