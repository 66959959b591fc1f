"""Incoming provider webhooks: how fast the endpoint answers, and how soon a change in the
sandbox is in the event feed.

    .venv/bin/python -m benchmarks.provider_webhooks [--notifications 500] [--clients 20]
        [--changes 5] [--backend sqlite|postgresql]

A sandbox serves in-process; ``ledgerbridge up`` runs as its own process on a fresh
database with one QuickBooks company connected and synced. Then:

1. ``--notifications`` signed QuickBooks notifications (each a different invoice) are sent
   by ``--clients`` concurrent senders: printed are the answer time p50/p99/max and how
   many sync runs they became (one is the point).
2. ``--changes`` times, one invoice is changed through the sandbox's control API, which
   sends its webhook: printed is the time from the change to its ``record.updated`` in
   the event feed (the coalescing window, 1 s here, included), p50 and max.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from benchmarks.api_load import percentile
from benchmarks.backfill import database
from tests.conftest import JWT_SECRET
from tests.inbound.conftest import QUICKBOOKS_KEY, signed
from tests.inbound.test_end_to_end import events, lb_service, prepare, until, webhook_runs
from tests.processes import ORG

from ledgerbridge.sandbox.app import create_app as sandbox_app
from ledgerbridge.sandbox.serve import serving
from ledgerbridge.sandbox.settings import SandboxSettings
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.settings import Settings


async def burst(url: str, realm: str, count: int, clients: int) -> list[float]:
    deliveries = [signed("quickbooks", realm, "Invoice", f"bench-{n}") for n in range(count)]
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:

        async def sender(start: int) -> None:
            for body, headers in deliveries[start::clients]:
                began = time.monotonic()
                answer = await http.post(url, content=body, headers=headers)
                latencies.append(time.monotonic() - began)
                assert answer.status_code == 200, answer.text

        await asyncio.gather(*(sender(n) for n in range(clients)))
    return latencies


def run(args: argparse.Namespace) -> None:
    token = issue_development_token(Settings(jwt_secret=JWT_SECRET), org_id=ORG, role=Role.admin)
    headers = {"Authorization": f"Bearer {token}"}
    settings = SandboxSettings(rate_limits=False, seed_providers=["quickbooks"])
    with (
        serving(sandbox_app(settings, seed=5, size=max(100, args.changes))) as origin,
        httpx.Client(base_url=origin, timeout=60) as sandbox,
        database(args.backend) as url,
        tempfile.TemporaryDirectory() as directory,
        lb_service(url, origin, Path(directory), coalesce=1) as lb,
    ):
        realm, _, position = prepare(lb, sandbox, headers, "quickbooks")
        assert QUICKBOOKS_KEY  # the service verifies with the tests' verifier token
        began = time.monotonic()
        latencies = asyncio.run(
            burst(
                f"{lb.url}/v1/provider-webhooks/quickbooks", realm, args.notifications, args.clients
            )
        )
        elapsed = time.monotonic() - began
        runs = until(lambda: webhook_runs(lb, headers, position), what="the burst's run")
        time.sleep(3)
        runs = webhook_runs(lb, headers, position)
        print(f"backend {args.backend}: {args.notifications} notifications, {args.clients} senders")
        print(
            f"  answered in {elapsed:.2f} s ({args.notifications / elapsed:.0f}/s); answer time "
            f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 "
            f"{percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
        )
        print(f"  sync runs they became: {len(runs)}")
        invoices = sandbox.get(f"/_sandbox/quickbooks/{realm}/Invoice").json()[: args.changes]
        delays: list[float] = []
        for n, invoice in enumerate(invoices):
            mark = events(lb, headers)[-1]["id"]
            changed = time.monotonic()
            sandbox.patch(
                f"/_sandbox/quickbooks/{realm}/Invoice/{invoice['Id']}",
                json={"PrivateNote": f"benchmark {n}"},
            ).raise_for_status()

            def arrived(invoice_id: str = invoice["Id"], after: Any = mark) -> bool:
                return any(
                    e["type"] == "record.updated" and e["data"]["remote_id"] == invoice_id
                    for e in events(lb, headers, after)
                )

            until(arrived, what="record.updated")
            delays.append(time.monotonic() - changed)
        print(
            f"  change -> record.updated in the feed (1 s coalescing included): p50 "
            f"{percentile(delays, 0.5):.2f} s, max {max(delays):.2f} s over {len(delays)} changes"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    run(parser.parse_args())


if __name__ == "__main__":
    main()
