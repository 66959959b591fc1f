"""Organisation-mapping lookups at 100,000 mappings: database time per lookup by external id.

    python benchmarks/mapping_lookup.py [--count 100000] [--lookups 2000]

Runs on a fresh SQLite file and, when reachable, a fresh PostgreSQL database on
127.0.0.1:5432 (dropped afterwards). Prints mean, p50 and p99 per lookup.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import insert, select, text

from ledgerbridge.connections.models import Connection, OrganisationMapping
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.settings import load_settings, new_encryption_key

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TENANTS = 10


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'bench.db'}"


@contextmanager
def postgres_url() -> Iterator[str]:
    name = f"lb_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def run(url: str, count: int, lookups: int) -> None:
    upgrade(url)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            env="development",
            database_url=url,
            data_dir=data_dir,
            jwt_secret="benchmark-" + "x" * 40,
            secret_key="k" * 48,
            token_encryption_keys=new_encryption_key(),
        )
        db = Database.connect(settings)
    now = utcnow()
    with db.system() as session:
        for tenant in range(TENANTS):
            connection = Connection(
                tenant_id=f"t{tenant}",
                provider="xero",
                external_account_id=f"acct-{tenant}",
                external_account_name="Books",
                connected_by="bench",
            )
            session.add(connection)
            session.flush()
            session.execute(
                insert(OrganisationMapping),
                [
                    {
                        "tenant_id": f"t{tenant}",
                        "external_org_id": f"org-{i}",
                        "connection_id": connection.id,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(count // TENANTS)
                ],
            )
    timings = []
    rng = random.Random(1)
    with db.tenant("t3") as session:
        for _ in range(lookups):
            wanted = f"org-{rng.randrange(count // TENANTS)}"
            started = time.perf_counter()
            row = session.scalars(
                select(OrganisationMapping).where(OrganisationMapping.external_org_id == wanted)
            ).one()
            timings.append(time.perf_counter() - started)
            assert row.tenant_id == "t3"
    timings.sort()
    ms = [t * 1000 for t in timings]
    print(
        f"{db.engine.dialect.name:>10}: {count:,} mappings, {lookups:,} lookups: "
        f"mean {statistics.fmean(ms):.3f} ms, p50 {ms[len(ms) // 2]:.3f} ms, "
        f"p99 {ms[int(len(ms) * 0.99)]:.3f} ms (ORM round trip included)"
    )
    print(f"{'':>10}  database time of one lookup: {database_time(db)}")
    db.dispose()


def database_time(db: Database) -> str:
    """What the database itself spends, without driver or ORM overhead."""
    query = (
        "SELECT * FROM organisation_mappings WHERE tenant_id = 't3' AND external_org_id = 'org-42'"
    )
    with db.system() as session:
        if db.engine.dialect.name == "postgresql":
            plan = session.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}")).scalar_one()
            return f"{plan[0]['Execution Time']:.3f} ms (EXPLAIN ANALYZE, unique index)"
        raw = session.connection().connection.dbapi_connection
        assert raw is not None
        started = time.perf_counter()
        for _ in range(1000):
            raw.execute(query).fetchall()
        return f"{(time.perf_counter() - started):.3f} ms (sqlite3, no ORM)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    with sqlite_url() as url:
        run(url, args.count, args.lookups)
    try:
        with postgres_url() as url:
            run(url, args.count, args.lookups)
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL skipped: {exc}")


if __name__ == "__main__":
    main()
