"""The churn test: a backfill of every provider while the sandbox changes what it lists.

Records sharing one timestamp straddle page boundaries; while each type is paged the
sandbox updates records on pages read and unread (tie members among them), deletes,
voids, restores and creates (``sandbox/churn.py``), all before the listing's last page.
Afterwards the mirror equals the provider object by object, by content and tombstone
flag, not only by id; and a second run finds it still equal.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.services import Services
from ledgerbridge.sync.fidelity import Comparison
from tests.sync.conftest import RunSync
from tests.sync.mirroring import connected

pytestmark = pytest.mark.sandbox(seed=8, size=40, settings={"rate_limits": False})
CHURNED = {
    "xero": ["Contacts", "Invoices"],
    "quickbooks": ["Customer", "Invoice"],
    "lightspeed": ["customers", "sales"],
}


def test_a_backfill_under_churn_mirrors_every_provider_object_by_object(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    page_size = svc.settings.sync_page_size
    for n, (provider, object_types) in enumerate(CHURNED.items()):
        account = connected(lb, sandbox, auth(tenant), provider)
        plan = {
            "provider": provider,
            "account_id": account.account_id,
            "tie": 3 * page_size,
            "changes": 12,
            "page_size": page_size,
            "seed": n,
        }
        started = sandbox.post("/_sandbox/churn", json=plan)
        assert started.status_code == 201, started.text

        run = run_sync(account.connection_id, object_types)
        assert run.status == "succeeded", run.error
        made = [c for c in account.changes_made() if c["provider"] == provider]
        assert all(c["applied"] for c in made), "every change came before the last page"
        assert sum(not c["error"] for c in made) >= len(made) // 2
        total = Comparison()
        for object_type in object_types:
            total.add(account.compare(svc, object_type))
        assert total.mismatches == [], provider
        assert total.compared >= 60  # two types of about 40 records each, some deleted

        again = run_sync(account.connection_id, object_types)
        assert again.status == "succeeded", again.error
        assert (again.created, again.updated, again.deleted) == (0, 0, 0), provider
