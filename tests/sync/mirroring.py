"""Helpers for the fidelity tests: a connected account, the provider's own records, and
the mirror compared with them object by object (``ledgerbridge.sync.fidelity``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledgerbridge.providers import Provider
from ledgerbridge.services import Services
from ledgerbridge.sync.fidelity import Comparison, compare
from ledgerbridge.sync.models import Record as StoredRecord
from ledgerbridge.sync.models import SyncRun
from tests.connections.conftest import accounts, connect
from tests.sync.conftest import RunSync

Record = dict[str, Any]
ID_KEYS = {"xero": None, "quickbooks": "Id", "lightspeed": "id"}


@dataclass(frozen=True)
class Account:
    provider: str
    account_id: str
    connection_id: int
    sandbox: httpx.Client

    def records(self, object_type: str) -> list[Record]:
        """Every record the provider keeps of the type, numbers exact."""
        answer = self.sandbox.get(f"/_sandbox/{self.provider}/{self.account_id}/{object_type}")
        answer.raise_for_status()
        records: list[Record] = json.loads(answer.content, parse_float=Decimal)
        return records

    def id_of(self, object_type: str, record: Record) -> str:
        key = ID_KEYS[self.provider] or f"{object_type[:-1]}ID"
        return str(record[key])

    def patch(self, object_type: str, record_id: str, body: Record) -> Record:
        path = f"/_sandbox/{self.provider}/{self.account_id}/{object_type}/{record_id}"
        answer = self.sandbox.patch(path, json=body)
        assert answer.status_code == 200, answer.text
        changed: Record = answer.json()
        return changed

    def schedule(
        self, object_type: str, action: str, after: int, matching: str, **fields: Any
    ) -> None:
        change = {
            "provider": self.provider,
            "account_id": self.account_id,
            "object_type": object_type,
            "action": action,
            "after_requests": after,
            "matching": matching,
            **fields,
        }
        answer = self.sandbox.post("/_sandbox/changes", json=change)
        assert answer.status_code == 201, answer.text

    def changes_made(self) -> list[Record]:
        made: list[Record] = self.sandbox.get("/_sandbox/changes").json()
        return made

    def compare(self, svc: Services, object_type: str) -> Comparison:
        with svc.db.system() as session:
            return compare(
                session,
                self.connection_id,
                Provider(self.provider),
                object_type,
                self.records(object_type),
            )


def connected(
    lb: TestClient, sandbox: httpx.Client, headers: dict[str, str], provider: str
) -> Account:
    account_id = accounts(sandbox, provider)[0]["account_id"]
    [connection] = connect(lb, headers, provider, [account_id])
    return Account(provider, account_id, int(connection["id"]), sandbox)


def synced(run_sync: RunSync, account: Account, object_types: list[str] | None = None) -> SyncRun:
    """A sync of the account that succeeded."""
    run = run_sync(account.connection_id, object_types)
    assert run.status == "succeeded", run.error
    return run


def synced_equal(
    svc: Services, run_sync: RunSync, account: Account, object_types: list[str]
) -> SyncRun:
    """A sync that succeeded, after which the mirror holds exactly what the provider does."""
    run = synced(run_sync, account, object_types)
    for object_type in object_types:
        assert account.compare(svc, object_type).mismatches == [], object_type
    return run


def stored(svc: Services, connection_id: int, object_type: str) -> dict[str, StoredRecord]:
    """The unified records the mirror holds of a type, by remote id."""
    with svc.db.system() as session:
        rows = session.scalars(
            select(StoredRecord).where(
                StoredRecord.connection_id == connection_id,
                StoredRecord.object_type == object_type,
            )
        ).all()
        for row in rows:
            session.expunge(row)
        return {row.remote_id or "": row for row in rows}
