"""What the drift audit costs: provider calls per 10,000 objects audited, per provider.

    .venv/bin/python -m benchmarks.drift_audit [--size 2000] [--drift 10]
        [--page-size 1000] [--backends sqlite] [--seed 1]

The sandbox is seeded with ``--size`` records per object type and served in-process over
real HTTP with rate limits off. For each backend and provider, one account is connected
through its OAuth flow and backfilled (every object type), then ``--drift`` records of one
type are changed without their change stamp moving (stamped 2020-01-01, long before the
cursor), which incremental sync cannot see. Then one drift audit of every object type runs
(``trigger: audit``, the DBOS workflow's steps in-process), and the sandbox's ledger counts
the provider calls it made. Pages of 1,000 are what production asks each provider for.

Printed per backend and provider: objects checked, drifted and repaired, provider calls,
calls per 10,000 objects, what a weekly audit of 10,000 objects costs per day as a share of
the account's daily budget (Xero: 5,000 a day; QuickBooks: 500 a minute; Lightspeed: 350
per five minutes), and seconds. Exits 1 when the audit repairs other than the drift made.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
from benchmarks.churn import connect, database, postgres_available, run_sync, settings_for
from sqlalchemy import select

from ledgerbridge.connections.models import Connection
from ledgerbridge.providers import Provider
from ledgerbridge.sandbox.app import create_app as create_sandbox
from ledgerbridge.sandbox.serve import serving
from ledgerbridge.sandbox.settings import SandboxSettings
from ledgerbridge.services import Services
from ledgerbridge.sync import drift, engine, service
from ledgerbridge.sync.catalog import object_types
from ledgerbridge.sync.models import SyncState

OLD_MS = 1_577_836_800_000  # 2020-01-01
# provider -> (the type drifted, the field changed, the stamp that hides the change)
DRIFTED = {
    "xero": ("Contacts", "EmailAddress", OLD_MS),
    "quickbooks": ("Customer", "CompanyName", OLD_MS),
    "lightspeed": ("customers", "note", 1),
}
ID_KEYS = {"xero": "ContactID", "quickbooks": "Id", "lightspeed": "id"}
CALLS_PER_DAY = {"xero": 5_000, "quickbooks": 500 * 60 * 24, "lightspeed": 350 * 12 * 24}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000, help="records per object type")
    parser.add_argument("--drift", type=int, default=10, help="records drifted silently")
    parser.add_argument("--page-size", type=int, default=1000, help="1000: the providers' own")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",")]
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL is not reachable on 127.0.0.1:5432: skipping it", flush=True)
        backends.remove("postgresql")
    started = time.perf_counter()
    app = create_sandbox(
        SandboxSettings(rate_limits=False, seed_providers=list(DRIFTED)),
        seed=args.seed,
        size=args.size,
    )
    seeded = time.perf_counter() - started
    print(f"# sandbox: size {args.size:,} per object type, seeded in {seeded:.0f} s")
    print(f"# page size {args.page_size}, {args.drift} records drifted per provider")
    print(
        "backend     provider    types  checked  drifted  repaired  calls  "
        "calls/10k  daily budget (weekly audit of 10k)  seconds"
    )
    failed = False
    with serving(app) as origin, httpx.Client(base_url=origin, timeout=120) as sandbox:
        for backend in backends:
            sandbox.post("/_sandbox/reset", timeout=900).raise_for_status()
            with database(backend) as url, tempfile.TemporaryDirectory() as data_dir:
                settings = settings_for(origin, url, Path(data_dir), args.page_size)
                svc = Services.build(settings.model_copy(update={"log_level": "WARNING"}))
                try:
                    for provider in DRIFTED:
                        failed |= audit_one(svc, sandbox, backend, provider, args)
                finally:
                    svc.db.dispose()
    sys.exit(1 if failed else 0)


def audit_one(
    svc: Services, sandbox: httpx.Client, backend: str, provider: str, args: argparse.Namespace
) -> bool:
    """Connect, backfill, drift, audit; True when the audit repaired other than the drift."""
    account = next(
        a["account_id"]
        for a in sandbox.get("/_sandbox/accounts").json()
        if a["provider"] == provider
    )
    connection_id = connect(svc, provider, account)
    types = list(object_types(Provider(provider)))
    errors = run_sync(svc, connection_id, types)
    if errors:
        print(f"    backfill: {errors}")
        return True
    object_type, field, stamp = DRIFTED[provider]
    records = sandbox.get(f"/_sandbox/{provider}/{account}/{object_type}").json()
    live = [r for r in records if not (r.get("deleted_at") or r.get("Active") is False)]
    for record in live[: args.drift]:
        path = f"/_sandbox/{provider}/{account}/{object_type}/{record[ID_KEYS[provider]]}"
        sandbox.patch(path, json={field: "drifted", "_stamp": stamp}).raise_for_status()
    sandbox.delete("/_sandbox/ledger").raise_for_status()
    started = time.perf_counter()
    errors = audit(svc, connection_id, types)
    seconds = time.perf_counter() - started
    calls = sandbox.get("/_sandbox/ledger", params={"provider": provider}).json()["count"]
    with svc.db.system() as session:
        states = session.scalars(
            select(SyncState).where(SyncState.connection_id == connection_id)
        ).all()
        checked = sum(s.audit_checked for s in states)
        drifted = sum(s.audit_drifted for s in states)
        repaired = sum(s.audit_repaired for s in states)
    per_10k = calls * 10_000 / max(checked, 1)
    daily = per_10k / 7 / CALLS_PER_DAY[provider]
    print(
        f"{backend:<11} {provider:<11} {len(types):>5}  {checked:>7,}  {drifted:>7}  "
        f"{repaired:>8}  {calls:>5}  {per_10k:>9.1f}  {daily:>34.4%}  {seconds:>7.1f}",
        flush=True,
    )
    for problem in list(errors.values())[:5]:
        print(f"    {problem}")
    return bool(errors) or repaired != min(args.drift, len(live))


def audit(svc: Services, connection_id: int, types: list[str]) -> dict[str, str]:
    """An audit run of ``types``, as the scheduler queues it, executed in-process."""
    with svc.db.system() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        run, _ = service.request_sync(
            session,
            connection,
            wanted=types,
            full_resync=True,
            trigger=drift.AUDIT_TRIGGER,
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


if __name__ == "__main__":
    main()
