"""A page's lookups of existing rows search the unique index with the whole key.

While a first backfill grows the tables, PostgreSQL's column statistics say they are
nearly empty; a lookup that then searched the index by (connection, object type) alone
and filtered the ids would read every row already synced, for every page.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import InstrumentedAttribute, Session

from ledgerbridge.mirror import store
from ledgerbridge.providers import Provider
from ledgerbridge.services import Services
from ledgerbridge.sync import engine
from ledgerbridge.sync.models import RawObject, Record
from tests.connections.conftest import accounts, connect

pytestmark = pytest.mark.sandbox(seed=3, size=20, settings={"rate_limits": False})

ROWS = 20_000
PAGE = 1_000
PAYLOAD = '{"Reference":"%s"}' % ("x" * 1000)  # about an invoice's size


def plan_of_lookup(session: Session, query: Any) -> str:
    compiled = query.compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
    if compiled.positional:
        params: Any = tuple(compiled.params[name] for name in compiled.positiontup)
        explain = "EXPLAIN QUERY PLAN "
    else:
        params, explain = compiled.params, "EXPLAIN "
    rows = session.connection().exec_driver_sql(explain + str(compiled), params)
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(
    "key", [RawObject.external_id, Record.remote_id, None], ids=["raw", "record", "page"]
)
def test_lookups_search_the_unique_index_by_the_whole_key(
    key: InstrumentedAttribute[str] | None,
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    auth: Any,
    tenant: str,
) -> None:
    account = accounts(sandbox, "xero")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "xero", [account])
    plan = engine.Plan(0, tenant, int(connection["id"]), Provider.xero, account, [], False)
    ids = [f"bulk-{n}" for n in range(ROWS)]
    rows = [
        {
            "tenant_id": tenant,
            "connection_id": plan.connection_id,
            "object_type": "Invoices",
            "external_id": external_id,
            "payload": PAYLOAD,
            "content_hash": "0" * 64,
        }
        for external_id in ids
    ]
    with svc.db.system() as session:
        session.execute(insert(RawObject), rows)
        if key is not RawObject.external_id:
            shared = {k: rows[0][k] for k in ("tenant_id", "connection_id", "object_type")}
            records = [
                {**shared, "remote_id": i, "model": "invoices", "data": PAYLOAD} for i in ids
            ]
            session.execute(insert(Record), records)
        wanted = ids[ROWS // 2 :][:PAGE]
        if key is None:  # the page's one read of what the mirror holds (both tables)
            query = store.held_query(session, plan, "Invoices", wanted)
            found = [row for row in session.execute(query) if row.content_hash and row.id]
        else:
            query = store.by_key(session, plan, "Invoices", key, wanted)
            found = list(session.scalars(query).all())
        chosen = plan_of_lookup(session, query)

    assert len(found) == PAGE
    for column in ["external_id", "remote_id"] if key is None else [key.key]:
        if svc.db.is_sqlite:
            assert f"{column}=?" in chosen, chosen
        else:
            lines = chosen.splitlines()
            assert any("Index Cond" in line and column in line for line in lines), chosen
            assert not any("Filter" in line and column in line for line in lines), chosen
