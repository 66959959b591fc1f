"""Bounded input, before authentication: body size while streaming, and JSON depth.

Before, an unauthenticated 150 MB JSON POST was read whole before its 401 (the process
grew from 160 MB to 600 MB; benchmarks/security_limits.py prints the figures now), and
multipart uploads were spooled to disk without a bound.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

from ledgerbridge.app import UPLOAD_FORM_OVERHEAD
from ledgerbridge.reconcile.statements_api import MAX_BYTES
from ledgerbridge.security.limits import MAX_JSON_DEPTH, nests_deeper
from tests.conftest import TokenFactory

MiB = 1024 * 1024


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent chunked, with no Content-Length to refuse it by."""
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def _too_large(response_json: dict[str, object]) -> bool:
    return response_json["error"] == "payload_too_large" and "trace_id" in response_json


def test_oversized_body_is_refused_before_authentication(client: TestClient) -> None:
    declared = client.post(
        "/v1/api-keys",
        content=b"{" + b" " * (MiB + 1) + b"}",
        headers={"content-type": "application/json"},
    )
    assert declared.status_code == 413  # not 401: refused before anyone is asked who calls
    assert _too_large(declared.json())
    streamed = client.post(
        "/v1/api-keys", content=_chunks(3 * MiB), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert _too_large(streamed.json())
    within = client.post(
        "/v1/api-keys",
        content=b"{" + b" " * (MiB - 10) + b"}",
        headers={"content-type": "application/json"},
    )
    assert within.status_code == 401


def test_multipart_is_bounded_too(client: TestClient) -> None:
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    form = {"content-type": f"multipart/form-data; boundary={boundary}"}

    def upload(size: int) -> Iterator[bytes]:
        yield head
        yield from _chunks(size)

    # Any route but uploads: the JSON cap, multipart or not, while streaming.
    small_route = client.post("/v1/api-keys", content=upload(2 * MiB), headers=form)
    assert small_route.status_code == 413
    assert _too_large(small_route.json())
    # Statement uploads have their own, larger cap: 2 MiB reaches authentication...
    statement = client.post("/v1/statements", content=upload(2 * MiB), headers=form)
    assert statement.status_code == 401
    # ...and a declared size above it is refused at once, unread.
    over = client.post(
        "/v1/statements",
        content=b"x",
        headers={**form, "content-length": str(MAX_BYTES + UPLOAD_FORM_OVERHEAD + 1)},
    )
    assert over.status_code == 413
    assert _too_large(over.json())


def test_json_nesting_depth_is_capped(client: TestClient, auth: TokenFactory, tenant: str) -> None:
    def nested(depth: int) -> bytes:
        return b'{"name": "k", "x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    deep = client.post(
        "/v1/api-keys",
        content=nested(MAX_JSON_DEPTH + 1),
        headers={**auth(tenant), "content-type": "application/json"},
    )
    assert deep.status_code == 422
    assert deep.json()["error"] == "validation_error"
    assert "deeper" in deep.json()["message"]
    very_deep = client.post("/v1/api-keys", content=b"[" * 100_000 + b"]" * 100_000)
    assert very_deep.status_code == 422
    fine = client.post(
        "/v1/api-keys",
        content=nested(MAX_JSON_DEPTH),
        headers={**auth(tenant), "content-type": "application/json"},
    )
    assert fine.status_code == 201


def test_depth_counts_arrays_and_objects_not_strings() -> None:
    assert not nests_deeper(b"{}", 1)
    assert nests_deeper(b"[[]]", 1)
    assert not nests_deeper(b'["[[[[[[", {"a": "]]]]"}]', 2)
    assert nests_deeper(b'{"a": {"b": [1]}}', 2)
    assert not nests_deeper(b"not json [[[[", 2)  # left to the parser, which says so
