"""Lightspeed rotates its refresh token: the one we send is dead once it answers. A process
killed (SIGKILL) after that answer and before it committed the new pair has lost the
connection's consent; that must show, not stay silent: the next refresh is refused and the
connection is marked ``needs_reauth`` with the reason, with a ``connection.needs_reauth``
event."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.connections.tokens import HOLD_AFTER_REFRESH, NeedsReauth, access_token
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.connections.conftest import accounts, connect
from tests.connections.tokens_support import job_settings, refresh_once_command

LEASE_SECONDS = 2  # the killed process's refresh lease: how long others wait for it
MARK = "refresh answered, not yet committed"


def _wait_for_mark(worker: subprocess.Popen[str], seconds: float) -> None:
    assert worker.stderr is not None
    deadline = time.monotonic() + seconds
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([worker.stderr], [], [], 0.2)
        if ready:
            line = worker.stderr.readline()
            if not line:
                break
            seen += line
            if MARK in line:
                return
    raise AssertionError(f"the refresh never answered: {seen}")


@pytest.mark.sandbox(settings={"rate_limits": False})
def test_a_refresh_answer_lost_to_sigkill_marks_the_connection_needs_reauth(
    lb: TestClient, sandbox: httpx.Client, lb_settings: Settings, auth: Any, tenant: str
) -> None:
    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "lightspeed", [store])
    connection_id = int(connection["id"])
    svc = Services.build(lb_settings)
    before = access_token(svc.db, svc.vault, lb_settings, connection_id)
    sandbox.delete("/_sandbox/ledger")

    job = {
        "settings": job_settings(lb_settings, token_refresh_lease_seconds=LEASE_SECONDS),
        "connection_id": connection_id,
        "rejected": before.token,
    }
    worker = subprocess.Popen(
        refresh_once_command(job),
        env={**os.environ, HOLD_AFTER_REFRESH: "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_mark(worker, 60)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    refreshes = [e for e in sandbox.get("/_sandbox/ledger").json()["entries"]]
    assert [e["status"] for e in refreshes if e["grant_type"] == "refresh_token"] == [200]

    # The provider has rotated; we still hold the refresh token it revoked. Once the dead
    # process's lease has run out, the next caller refreshes with it and is refused.
    time.sleep(LEASE_SECONDS + 0.5)
    with pytest.raises(NeedsReauth):
        access_token(svc.db, svc.vault, lb_settings, connection_id, rejected=before.token)
    shown = lb.get(f"/v1/connections/{connection_id}", headers=auth(tenant)).json()
    assert shown["status"] == "needs_reauth"
    assert "refused" in (shown["status_reason"] or "")
    events = lb.get("/v1/events", params={"type": "connection.needs_reauth"}, headers=auth(tenant))
    assert events.status_code == 200, events.text
    [needs_reauth] = [
        e for e in events.json()["data"] if e["data"].get("connection_id") == str(connection_id)
    ]
    assert needs_reauth["data"]["reason"] == shown["status_reason"]
    # Asking again does not call the provider again: the connection needs its user.
    sandbox.delete("/_sandbox/ledger")
    with pytest.raises(NeedsReauth):
        access_token(svc.db, svc.vault, lb_settings, connection_id)
    assert sandbox.get("/_sandbox/ledger").json()["entries"] == []
