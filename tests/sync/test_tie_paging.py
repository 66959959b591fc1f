"""Paging that cannot skip: a group of records sharing one timestamp spans several pages
of a backfill, and members already read are edited while the run pages through the rest.

The edit takes the member out of the group; with offset paging inside the group, the
others shift up by one and the member that moved onto the page already read was never
read, while the cursor passed the edited record's new time. Each provider's run must
still end with the mirror equal to the provider, object by object.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.services import Services
from tests.sync.conftest import RunSync
from tests.sync.mirroring import connected

pytestmark = pytest.mark.sandbox(seed=4, size=30, settings={"rate_limits": False})

# provider -> (object type, a field to edit, what its list requests contain, the tie stamp)
CASES = {
    "xero": ("Invoices", "Reference", "/Invoices", 1_000_000_000_000),  # UpdatedDateUTC, ms
    "quickbooks": ("Invoice", "PrivateNote", "from invoice", 1_000_000_000_000),  # seconds
    "lightspeed": ("customers", "note", "/customers", 1),  # a version
}
GROUP = 20  # pages of 7 (tests/sync/conftest.py): the group spans three pages


@pytest.mark.parametrize("provider", list(CASES))
def test_a_tie_group_edited_mid_backfill_loses_no_record(
    provider: str,
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    object_type, field, matching, stamp = CASES[provider]
    account = connected(lb, sandbox, auth(tenant), provider)
    records = [r for r in account.records(object_type) if not _gone(provider, r)]
    group = [account.id_of(object_type, r) for r in records[:GROUP]]
    for n, record_id in enumerate(group):  # a bulk edit: one timestamp, first in change order
        account.patch(object_type, record_id, {field: f"bulk {n}", "_stamp": stamp})
    # The first list answer is page 1; the second is the first page read from the group's
    # own timestamp. After it (and after the next) a member already read is edited.
    account.schedule(object_type, "update", 2, matching, record_id=group[1], body={field: "a"})
    account.schedule(object_type, "update", 3, matching, record_id=group[8], body={field: "b"})

    run = run_sync(account.connection_id, [object_type])

    assert run.status == "succeeded", run.error
    made = account.changes_made()
    assert [c["applied"] for c in made] == [True, True] and not any(c["error"] for c in made)
    comparison = account.compare(svc, object_type)
    assert comparison.mismatches == []
    assert comparison.compared == len(account.records(object_type))


def _gone(provider: str, record: dict[str, Any]) -> bool:
    return bool(record.get("Status") in ("DELETED", "VOIDED") or record.get("deleted_at"))
