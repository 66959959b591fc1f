"""Provider URLs are logged without their query strings (which may carry account ids,
searches or tokens): httpx logs each request at INFO, through our JSON logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ledgerbridge.observability.logging import configure_logging, redact_text
from tests.support import serve_in_thread


async def _answer(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = saved, level


@pytest.mark.usefixtures("restore_logging")
def test_httpx_request_lines_carry_no_query(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")  # JSON lines on (the captured) stderr
    provider = Starlette(routes=[Route("/api/Invoices", _answer)])
    with serve_in_thread(provider) as origin:
        capsys.readouterr()
        url = f"{origin}/api/Invoices?where=Contact.Name%3D%22Ann%22&realmId=9130&token=abc#frag"
        assert httpx.get(url).status_code == 200
        with httpx.Client() as client:
            client.get(f"{origin}/api/Invoices", params={"code": "secret-code"})
    err = capsys.readouterr().err.splitlines()
    lines = [json.loads(line) for line in err if line.startswith("{")]
    requests = [line for line in lines if line.get("logger") == "httpx"]
    assert len(requests) == 2, err
    for line in requests:
        assert f"GET {origin}/api/Invoices " in line["event"], line
        for leaked in ("?", "where", "Ann", "9130", "abc", "secret-code", "frag"):
            assert leaked not in line["event"], line


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl"
API_KEY = "lb_a1B2c3D4_e5F6g7H8i9J0k1L2m3N4"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"token {JWT} sent", "token [REDACTED] sent"),
        (f'{{"id_token":"{JWT}"}}', '{"id_token":"[REDACTED]"}'),
        (f"(/{JWT})", "(/[REDACTED])"),
        (f"key {API_KEY}, then", "key [REDACTED], then"),
        (f"é{API_KEY}", "é" + API_KEY),  # é is a word character: no boundary, not a key
        (f"x{JWT}", f"x{JWT}"),  # inside a longer word: not a token of its own
        (f"_{API_KEY}", f"_{API_KEY}"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer [REDACTED]"),
    ],
)
def test_secrets_in_free_text_are_redacted_where_they_start_a_word(text: str, kept: str) -> None:
    assert redact_text(text) == kept
