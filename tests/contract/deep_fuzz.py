"""The deep fuzzing run (``scripts/fuzz``): every operation, many examples, three identities,
SQLite and/or PostgreSQL, ids that exist (a connection made through the provider sandbox).

    scripts/fuzz [--examples 100] [--database sqlite|postgresql|both]

Prints each failure as it is found, then operations, cases and failures per check and
identity for each database; exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.observability.logging import configure_logging
from ledgerbridge.sandbox.app import create_app as create_sandbox
from ledgerbridge.sandbox.serve import serving
from ledgerbridge.sandbox.settings import SandboxSettings
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.conftest import JWT_SECRET, make_settings
from tests.contract.fuzzing import Identity, Report, developer_key, fuzz, seed
from tests.push.conftest import NoEnqueue
from tests.support import postgres_database


@contextmanager
def _database(kind: str, data: Path) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{data / 'fuzz.db'}"
        upgrade(url)
        yield url
        return
    with postgres_database() as url:
        upgrade(url)
        yield url


def _jwt(org: str, role: Role) -> dict[str, str]:
    token = issue_development_token(
        Settings(jwt_secret=JWT_SECRET), org_id=org, role=role, subject="fuzz"
    )
    return {"Authorization": f"Bearer {token}"}


def run(kind: str, examples: int) -> Report:
    report = Report()
    with tempfile.TemporaryDirectory() as tmp, _database(kind, Path(tmp)) as url:
        sandbox = create_sandbox(SandboxSettings(rate_limits=False), seed=5, size=10)
        with serving(sandbox) as sandbox_url:
            svc = Services.build(make_settings(url, Path(tmp), sandbox_url=sandbox_url))
            # Accepted syncs and pushes are recorded, not run: this is about the HTTP answers.
            svc._dbos_client = NoEnqueue()  # type: ignore[assignment]
            app = create_app(svc=svc)
            owner = _jwt("org-fuzz", Role.owner)
            with TestClient(app) as client:
                ids = seed(client, owner, sandbox_url)
                developer = developer_key(client, owner)
            identities = [
                Identity("owner JWT", owner, Role.owner),
                Identity("developer API key", developer, Role.developer),
                Identity(
                    "other tenant's viewer", _jwt("org-other", Role.viewer), Role.viewer, True
                ),
            ]
            fuzz(app, identities, ids, examples, report, on_failure=lambda line: print(line))
    return report


def main() -> None:
    configure_logging("WARNING")  # one line per request would bury the report
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="per operation")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    failed = False
    for kind in kinds:
        started = time.monotonic()
        report = run(kind, args.examples)
        print(
            f"== {kind}: {args.examples} examples per operation, {time.monotonic() - started:.0f}s"
        )
        print("\n".join(report.lines()))
        failed = failed or bool(report.failures)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
