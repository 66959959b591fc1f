"""Mirror fidelity under churn: backfill every provider while the sandbox changes what it lists.

    .venv/bin/python benchmarks/churn.py [--size 2000] [--changes 200] [--page-size 100]
        [--latency-ms 0] [--backends sqlite,postgresql] [--seed 1]

The sandbox is seeded with ``--size`` records per object type and served in-process over
real HTTP with rate limits off. For each backend (a fresh SQLite file; a fresh PostgreSQL
database on 127.0.0.1:5432, skipped when unreachable) one Xero organisation, one
QuickBooks company and one Lightspeed store are connected through their OAuth flows;
then, per provider, ``POST /_sandbox/churn`` gives three pages' worth of records per type
one shared timestamp and schedules ``--changes`` changes per type (updates of records on
pages read and unread, tie members among them; deletions, voids, restores, creations),
made while the listing is paged (``sandbox/churn.py``); ``--latency-ms`` slows every
provider call down, as a real listing is slow. The run is the DBOS workflow's steps
in-process (``tests/sync/conftest.py::run_sync``). Afterwards every churned type's mirror
is compared with the provider's records object by object (``sync/fidelity.py``: content,
tombstone flag, nothing missing, nothing live that is gone).

Printed per backend and provider: objects compared, mismatches (the first few named),
changes made and refused by the provider's rules, provider calls and seconds. Exits 1 on
any mismatch.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
from fastapi.testclient import TestClient
from tests.connections.conftest import open_start_link

from ledgerbridge.app import create_app
from ledgerbridge.connections.models import Connection
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.providers import Provider
from ledgerbridge.sandbox.app import create_app as create_sandbox
from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.sandbox.serve import serving
from ledgerbridge.sandbox.settings import SandboxSettings
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings, load_settings, new_encryption_key
from ledgerbridge.sync import engine, service
from ledgerbridge.sync.fidelity import Comparison, compare

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CHURNED = {
    "xero": ["Contacts", "Invoices"],
    "quickbooks": ["Customer", "Invoice"],
    "lightspeed": ["customers", "sales"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000, help="records per object type")
    parser.add_argument("--changes", type=int, default=200, help="changes per churned type")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every provider call")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",")]
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL is not reachable on 127.0.0.1:5432: skipping it", flush=True)
        backends.remove("postgresql")
    settings = SandboxSettings(rate_limits=False, seed_providers=list(CHURNED))
    started = time.perf_counter()
    app = create_sandbox(settings, seed=args.seed, size=args.size)
    print(f"# sandbox: size {args.size:,}, seeded in {time.perf_counter() - started:.0f} s")
    print(
        f"# page size {args.page_size}, {args.changes} changes per type, "
        f"latency {args.latency_ms} ms a call"
    )
    print("backend     provider    compared  mismatches  changes  refused  calls  seconds")
    failed = False
    with serving(app) as origin, httpx.Client(base_url=origin, timeout=60) as sandbox:
        for backend in backends:
            sandbox.post("/_sandbox/reset", timeout=900).raise_for_status()
            with database(backend) as url, tempfile.TemporaryDirectory() as data_dir:
                svc = Services.build(settings_for(origin, url, Path(data_dir), args.page_size))
                try:
                    for n, provider in enumerate(CHURNED):
                        failed |= churn_one(svc, sandbox, backend, provider, args, n)
                finally:
                    svc.db.dispose()
    sys.exit(1 if failed else 0)


def churn_one(
    svc: Services,
    sandbox: httpx.Client,
    backend: str,
    provider: str,
    args: argparse.Namespace,
    n: int,
) -> bool:
    """Connect, churn, backfill, compare; True when the mirror differs."""
    account = next(
        a["account_id"]
        for a in sandbox.get("/_sandbox/accounts").json()
        if a["provider"] == provider
    )
    connection_id = connect(svc, provider, account)
    sandbox.post(
        "/_sandbox/churn",
        json={
            "provider": provider,
            "account_id": account,
            "tie": 3 * args.page_size,
            "changes": args.changes,
            "page_size": args.page_size,
            "seed": args.seed * 10 + n,
        },
    ).raise_for_status()
    if args.latency_ms:
        fault = {"provider": provider, "kind": "latency", "latency_ms": args.latency_ms}
        sandbox.post("/_sandbox/faults", json=fault).raise_for_status()
    sandbox.delete("/_sandbox/ledger").raise_for_status()
    started = time.perf_counter()
    errors = run_sync(svc, connection_id, CHURNED[provider])
    seconds = time.perf_counter() - started
    calls = sandbox.get("/_sandbox/ledger", params={"provider": provider}).json()["count"]
    sandbox.delete("/_sandbox/faults").raise_for_status()
    made = [c for c in sandbox.get("/_sandbox/changes").json() if c["provider"] == provider]
    total = Comparison()
    records = {  # numbers exact, as the mirror keeps them
        t: json.loads(
            sandbox.get(f"/_sandbox/{provider}/{account}/{t}").content, parse_float=Decimal
        )
        for t in CHURNED[provider]
    }
    with svc.db.system() as session:
        for object_type, listed in records.items():
            total.add(compare(session, connection_id, Provider(provider), object_type, listed))
    applied = sum(c["applied"] for c in made)
    refused = sum(bool(c["error"]) for c in made)
    print(
        f"{backend:<11} {provider:<11} {total.compared:>8,}  {len(total.mismatches):>10}  "
        f"{applied:>7}  {refused:>7}  {calls:>5}  {seconds:>7.1f}",
        flush=True,
    )
    for problem in [*errors.values(), *total.mismatches][:5]:
        print(f"    {problem}")
    return bool(total.mismatches or errors)


def settings_for(origin: str, url: str, data_dir: Path, page_size: int) -> Settings:
    return load_settings(
        env="development",
        database_url=url,
        data_dir=data_dir,
        token_encryption_keys=new_encryption_key(),
        jwt_secret="benchmark-" + "x" * 40,
        secret_key="k" * 48,
        sandbox_url=origin,
        provider_call_budgets=False,
        sync_page_size=page_size,
    )


def connect(svc: Services, provider: str, account: str) -> int:
    """The browser flow: authorize → the sandbox's consent page → Allow → our callback."""
    token = issue_development_token(svc.settings, org_id="bench", role=Role.admin, subject="bench")
    headers = {"Authorization": f"Bearer {token}"}
    client = TestClient(create_app(svc=svc), raise_server_exceptions=True)
    started = client.post(f"/v1/connections/{provider}/authorize", json={}, headers=headers)
    started.raise_for_status()
    consent = open_start_link(client, started.json())  # the cookie stays in the client
    callback = httpx.URL(approve_consent(consent, [account]))
    answer = client.get(callback.path, params=dict(callback.params))
    answer.raise_for_status()
    return int(answer.json()["connections"][0]["id"])


def run_sync(svc: Services, connection_id: int, object_types: list[str]) -> dict[str, str]:
    """The DBOS workflow's steps, in-process: start, pull, tombstones, finish."""
    with svc.db.system() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        run, _ = service.request_sync(
            session,
            connection,
            wanted=object_types,
            full_resync=False,
            trigger="api",
            requested_by="benchmark",
        )
        run_id = run.id
    plan = engine.start_run(svc, run_id)
    errors = {}
    for object_type in plan.object_types:
        if error := engine.pull_object_type(svc, plan, object_type):
            errors[object_type] = error
    if error := engine.pull_tombstones(svc, plan):
        errors["deletions"] = error
    engine.finish_run(svc, run_id, errors)
    return errors


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, migrated database (PostgreSQL's owned by a non-superuser role)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{Path(directory) / 'ledgerbridge.db'}"
            upgrade(url)
            yield url
        return
    name = f"lb_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS")
        admin.execute(f"CREATE DATABASE {name} OWNER {name}")
    try:
        url = f"postgresql+psycopg://{name}@127.0.0.1:5432/{name}"
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {name}")


if __name__ == "__main__":
    main()
