"""A host app's view: a typed client generated from the served ``/openapi.json`` drives one
whole flow through the real service (``ledgerbridge up``, DBOS) and the provider sandbox.

Manual connect with a code obtained elsewhere, a sync polled to its end, records paged and
filtered, an invoice pushed and its operation read, a bank statement imported.
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from ledgerbridge.providers import Provider, oauth
from ledgerbridge.sandbox.consent import approve_consent
from tests.conftest import make_settings
from tests.processes import ORG, service
from tests.push.writes import first, writes_for

PACKAGE = "ledgerbridge_client"
# Installed into its own environment by scripts/setup-env (its pins are older than ours).
GENERATOR = (
    Path(__file__).resolve().parents[2] / ".venv-generator" / "bin" / "openapi-python-client"
)
STATEMENT = Path(__file__).parents[1] / "reconcile" / "fixtures" / "generic.csv"


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Callable[[str], ModuleType]]:
    """``generate(origin)``: a client package generated from the origin's document, imported."""

    def generate(origin: str) -> ModuleType:
        document = tmp_path / "openapi.json"
        # The first request builds the document: seconds on a busy machine.
        document.write_bytes(httpx.get(f"{origin}/openapi.json", timeout=120).content)
        options = ["--meta", "none", "--output-path", str(tmp_path / PACKAGE), "--fail-on-warning"]
        subprocess.run(
            [str(GENERATOR), "generate", "--path", str(document), *options],
            check=True,
            capture_output=True,
            # The generator runs ruff on its output when it finds it.
            env={"PATH": f"{GENERATOR.parent}:/usr/bin:/bin"},
        )
        sys.path.insert(0, str(tmp_path))
        return importlib.import_module(PACKAGE)

    yield generate
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _until(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = read()
        if done(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


@pytest.mark.sandbox(seed=21, size=12, settings={"rate_limits": False})
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_generated_client_connects_syncs_lists_pushes_and_imports(
    database: str,
    sandbox_url: str,
    sandbox: httpx.Client,
    tmp_path: Path,
    auth: Any,
    generated: Callable[[str], ModuleType],
) -> None:
    realm = first(sandbox, "quickbooks")
    invoice = writes_for(sandbox, "quickbooks", realm, "client")(1)
    token = auth(ORG, "admin")["Authorization"].removeprefix("Bearer ")
    with service(database, sandbox_url, tmp_path, LEDGERBRIDGE_PROVIDER_CALL_BUDGETS="false") as lb:
        client_package = generated(lb.url)
        api = client_package.AuthenticatedClient(
            base_url=lb.url, token=token, timeout=httpx.Timeout(60), raise_on_unexpected_status=True
        )
        models = _module("models")

        # Manual connect: the host app ran the consent itself and holds a code.
        redirect_uri = "http://127.0.0.1:9/host-app/callback"
        settings = make_settings(database, tmp_path / "host", sandbox_url=sandbox_url)
        url = oauth.authorization_url(
            settings,
            Provider.quickbooks,
            state="host",
            redirect_uri=redirect_uri,
            code_verifier=None,
        )
        code = httpx.URL(approve_consent(url, [realm])).params["code"]
        connect = _module("api.connections.connect_with_code")
        made = connect.sync(
            "quickbooks",
            client=api,
            body=models.ManualConnect(
                authorization_code=code, redirect_uri=redirect_uri, realm_id=realm
            ),
        )
        assert isinstance(made, models.ConnectResult), made
        connection = made.connections[0]
        assert connection.external_account_id == realm
        connection_id = int(connection.id)

        # A sync, polled until it ends.
        trigger = _module("api.sync.trigger_sync")
        accepted = trigger.sync(
            connection_id, client=api, body=models.SyncRequest(object_types=["Invoice", "Customer"])
        )
        assert isinstance(accepted, models.SyncAccepted), accepted
        get_run = _module("api.sync.get_sync_run")
        run = _until(
            lambda: get_run.sync(int(accepted.sync_run_id), client=api),
            lambda r: r.status in (models.SyncStatus.SUCCEEDED, models.SyncStatus.FAILED),
        )
        assert run.status == models.SyncStatus.SUCCEEDED, run

        # Records, two at a time, with filters.
        list_records = _module("api.sync.list_records")
        seen: list[str] = []
        cursor: Any = client_package.types.UNSET
        while True:
            page = list_records.sync(
                connection_id, models.Model.INVOICE, client=api, limit=2, cursor=cursor
            )
            assert isinstance(page, models.PageRecordOut), page
            assert len(page.data) <= 2
            seen += [record.id for record in page.data]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert len(seen) > 2 and len(seen) == len(set(seen))
        later = list_records.sync(
            connection_id,
            models.Model.INVOICE,
            client=api,
            updated_since=run.finished_at,
            include_deleted=True,
        )
        assert isinstance(later, models.PageRecordOut)
        assert len(later.data) <= len(seen)

        # An invoice pushed, its operation read until it lands.
        create = _module("api.push.create_invoice")
        pushed = create.sync(
            connection_id,
            client=api,
            body=models.InvoiceWrite.from_dict(invoice),
            idempotency_key="client-invoice-1",
        )
        assert isinstance(pushed, models.Accepted), pushed
        get_operation = _module("api.push.get_operation")
        operation = _until(
            lambda: get_operation.sync(int(pushed.operation_id), client=api),
            lambda o: o.status in (models.OperationStatus.SYNCED, models.OperationStatus.FAILED),
        )
        assert operation.status == models.OperationStatus.SYNCED, operation
        assert operation.remote_id

        # A bank statement imported as a file.
        statement_file = client_package.types.File(
            payload=io.BytesIO(STATEMENT.read_bytes()), file_name="generic.csv"
        )
        imported = _module("api.statements.import_statement").sync(
            client=api,
            body=models.BodyImportStatement(file=statement_file, preset="generic", currency="EUR"),
        )
        assert isinstance(imported, models.StatementOut), imported
        assert imported.line_count > 0 and imported.format_ == "csv"
