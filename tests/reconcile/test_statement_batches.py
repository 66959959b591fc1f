"""Large statements are stored a batch per transaction, yet an import stays all or
nothing: a bad line found after several batches were stored leaves no statement and no
line behind; the same file imported twice at once gives one statement; and another
tenant's write lands while a large import is under way."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.reconcile.test_service import get, upload
from tests.support import serve_in_thread

from ledgerbridge.app import create_app
from ledgerbridge.reconcile import statements_api
from ledgerbridge.reconcile.models import Statement, StatementEntry
from ledgerbridge.services import Services

HEADER = (
    b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nCHARSET:1252\n\n<OFX><BANKMSGSRSV1><STMTTRNRS>"
    b"<STMTRS><CURDEF>EUR<BANKTRANLIST>\n"
)
FOOTER = b"</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"


def ofx(lines: int, bad_at: int | None = None) -> bytes:
    parts = [HEADER]
    for n in range(lines):
        amount = b"12,34x" if n == bad_at else b"%d.%02d" % (n % 997, n % 100)
        parts.append(
            b"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>2024%02d%02d<TRNAMT>%s<FITID>T%d"
            b"<NAME>Customer %d</STMTTRN>\n" % (1 + n % 12, 1 + n % 28, amount, n, n % 97)
        )
    parts.append(FOOTER)
    return b"".join(parts)


def _stored(svc: Services, tenant: str) -> tuple[int, int]:
    """Statements (hidden ones included) and lines the tenant has in the database."""
    with svc.db.tenant(tenant, read_only=True) as session:
        statements = session.scalar(select(func.count()).select_from(Statement))
        lines = session.scalar(select(func.count()).select_from(StatementEntry))
    return statements or 0, lines or 0


def test_a_bad_line_after_stored_batches_leaves_nothing(
    rc: TestClient, rc_svc: Services, auth: Any, tenant: str
) -> None:
    headers = auth(tenant, "developer")
    size = statements_api.INSERT_BATCH * 2 + 10
    answer = upload(rc, headers, ofx(size, bad_at=size - 3), "big.ofx")
    assert answer.status_code == 422, answer.text
    assert "TRNAMT '12,34x'" in answer.json()["message"]
    assert _stored(rc_svc, tenant) == (0, 0)
    assert get(rc, headers, "/v1/statements")["data"] == []

    good = upload(rc, headers, ofx(size), "big.ofx")
    assert good.status_code == 201, good.text
    assert good.json()["line_count"] == size
    assert _stored(rc_svc, tenant) == (1, size)


def _post(origin: str, headers: dict[str, str], content: bytes, name: str) -> httpx.Response:
    return httpx.post(
        f"{origin}/v1/statements", files={"file": (name, content)}, headers=headers, timeout=300
    )


def test_the_same_file_imported_twice_at_once_gives_one_statement(
    rc_svc: Services, auth: Any, tenant: str
) -> None:
    headers = auth(tenant, "developer")
    size = statements_api.INSERT_BATCH + 100
    content = ofx(size)
    with serve_in_thread(create_app(svc=rc_svc)) as origin, ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _post(origin, headers, content, "s.ofx"), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert _stored(rc_svc, tenant) == (1, size)


def _hidden(svc: Services, tenant: str) -> bool:
    """Whether the tenant has a statement still being imported (not yet shown)."""
    with svc.db.tenant(tenant, read_only=True) as session:
        return bool(
            session.scalars(select(Statement.id).where(Statement.deleted_at.is_not(None))).first()
        )


def _held_pid() -> int:
    """Run in an importer process: its id, after holding the process a moment."""
    time.sleep(0.2)
    return os.getpid()


def test_another_tenant_writes_while_a_large_import_is_stored(
    rc_svc: Services, auth: Any, tenant: str
) -> None:
    headers, other = auth(tenant, "developer"), auth(tenant + "-other", "developer")
    content = ofx(statements_api.INSERT_BATCH * 12)
    # Every importer process started first, or the small import below may wait for one
    # to start (a second or more on a busy machine) and the race measured would be that
    # start's: rounds of tasks that each hold a process a moment, until all answer.
    importers, seen = statements_api._importers(), set()
    deadline = time.monotonic() + 60
    while len(seen) < statements_api.IMPORTS_AT_ONCE:
        assert time.monotonic() < deadline, "the importer processes did not all start"
        rounds = [importers.submit(_held_pid) for _ in range(statements_api.IMPORTS_AT_ONCE)]
        seen |= {found.result(timeout=60) for found in rounds}
    with serve_in_thread(create_app(svc=rc_svc)) as origin, ThreadPoolExecutor(1) as pool:
        importing = pool.submit(_post, origin, headers, content, "big.ofx")
        deadline = time.monotonic() + 120
        while _stored(rc_svc, tenant)[1] == 0:  # the first batch is stored
            assert time.monotonic() < deadline and not importing.done()
            time.sleep(0.01)
        # Another tenant's import (a write) lands while the large one is still hidden,
        # its later batches not yet stored: no transaction spans the whole import.
        small = _post(origin, other, ofx(3), "small.ofx")
        assert small.status_code == 201, small.text
        still_importing = _hidden(rc_svc, tenant)
        assert importing.result().status_code == 201
    assert still_importing, "the other tenant's write waited for the whole import"
    assert _stored(rc_svc, tenant + "-other") == (1, 3)
