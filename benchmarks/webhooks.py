"""Outgoing webhooks through the real service: events to a receiver on 127.0.0.1.

    .venv/bin/python -m benchmarks.webhooks [--events 2000] [--backend sqlite|postgresql|both]

``ledgerbridge up`` (API, DBOS workers, the dispatcher schedule) runs on a fresh database
with loopback receivers allowed. One endpoint is registered; then ``--events`` events are
written in batches of 200 (one transaction each, as a sync page writes them) and the
receiver, answering 200 at once, verifies every signature with ``standardwebhooks``.

Prints, per backend: the time from the first event written to the last delivery received,
deliveries per second, p50/p99 of each event's creation to its arrival, and how many
arrived twice (0 expected: nothing was killed).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
from benchmarks.backfill import BenchmarkFailed, database
from standardwebhooks.webhooks import Webhook
from tests.conftest import JWT_SECRET
from tests.processes import ORG, service
from tests.webhooks.receiver import receiving

from ledgerbridge.db.engine import Database
from ledgerbridge.events.service import append
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.settings import Settings

BATCH = 200
SETTINGS = {
    "LEDGERBRIDGE_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "LEDGERBRIDGE_WEBHOOK_DISPATCH_SECONDS": "1",
}


def measure(backend: str, events: int) -> None:
    token = issue_development_token(Settings(jwt_secret=JWT_SECRET), org_id=ORG, role=Role.admin)
    headers = {"Authorization": f"Bearer {token}"}
    with (
        database(backend) as url,
        tempfile.TemporaryDirectory() as directory,
        receiving() as receiver,
        service(url, "http://127.0.0.1:9", Path(directory), **SETTINGS) as lb,
    ):
        made = httpx.post(
            f"{lb.url}/v1/webhook-endpoints",
            json={"url": f"{receiver.url}/hooks", "event_types": ["record.updated"]},
            headers=headers,
        )
        if made.status_code != 201:
            raise BenchmarkFailed(made.text)
        secret = made.json()["secret"]
        db = Database.connect(Settings(database_url=url, env="development"))
        written: dict[str, datetime] = {}
        start = time.monotonic()
        for first in range(0, events, BATCH):
            with db.tenant(ORG) as session:
                rows = [
                    append(session, ORG, "record.updated", f"record:{n}", record_id=str(n))
                    for n in range(first, min(first + BATCH, events))
                ]
                session.flush()
                written.update({str(e.id): e.created_at for e in rows})
        db.dispose()
        arrived: dict[str, float] = {}
        deadline = time.monotonic() + 600
        while len({r.headers["webhook-id"] for r in receiver.received}) < events:
            if time.monotonic() > deadline:
                raise BenchmarkFailed(f"only {len(receiver.received)} of {events} arrived")
            time.sleep(0.2)
        elapsed = time.monotonic() - start
        latencies = []
        for request in receiver.received:
            payload = Webhook(secret).verify(request.body, request.headers)
            arrived.setdefault(payload["id"], request.at)
        for event_id, at in arrived.items():
            latencies.append((at - written[event_id]).total_seconds())
        twice = sum(
            1 for n in Counter(r.headers["webhook-id"] for r in receiver.received).values() if n > 1
        )
    latencies.sort()
    print(
        f"{backend:>10}: {events} deliveries in {elapsed:.1f} s ({events / elapsed:.0f}/s); "
        f"event to arrival p50 {statistics.median(latencies):.2f} s, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.2f} s; arrived twice: {twice}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        measure(backend, args.events)


if __name__ == "__main__":
    main()
