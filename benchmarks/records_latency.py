"""The records API's latency for a host app's crowd while a backfill runs, beside a bare
FastAPI app answering the same JSON.

    .venv/bin/python -m benchmarks.records_latency [--clients 200] [--interval 1.0]
        [--seconds 20] [--size 2000] [--backend sqlite]

A QuickBooks sandbox (``--size`` records per object type, rate limits off) runs as a
process of its own, and so does ``ledgerbridge up`` (API, workers and schedules in one
process) on a fresh database (``--backend``: SQLite by default, or PostgreSQL). One
company is connected through the real OAuth flow and its first sync awaited; from then
on full resyncs of it run back to back (each started as the previous one ends), so a
backfill is under way throughout. A bare FastAPI
app returning the same page of records (``GET /v1/connections/{id}/records/contact
?limit=20``, the JSON ledgerbridge answered, parsed once and returned by an ``async``
route) is served the same way (``uvicorn.run``, uvloop and httptools, its own process).

How the clients behave: an open loop. Each of ``--clients`` clients holds one keep-alive
connection and sends one request every ``--interval`` seconds on a fixed schedule (each
starting at a random point of the first interval): the crowd of a host app's users,
each clicking now and then, offering ``clients / interval`` requests a second whatever
the server does. A client whose answer comes after its next send was due sends at once,
and every latency is measured from when the request was due, not from when it could be
sent, so a server that falls behind shows the whole wait (no coordinated omission). A
closed loop of 200 clients each sending as soon as answered would instead measure only
how many requests the server can finish: its p99 would be about 200 / throughput, which
on two cores no Python server brings under 50 ms.

Each server in turn (the bare app first, then ledgerbridge, both while the backfill
runs) takes a 3 s warm-up, then ``--seconds`` of measurement. Printed side by side:
answered requests a second, errors, p50/p90/p99/max latency, and the serving process's
CPU per request (``/proc``: milliseconds of CPU, unlike wall-clock latency not stretched
by other work on the machine); for ledgerbridge, also the CPU seconds a second of the
worker process ``up`` starts, where the backfill runs. The load average is printed
beside the figures: a busy machine makes every wall-clock figure slower, so compare the
two servers of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from benchmarks.api_load import (
    KeepAlive,
    children_cpu_seconds,
    cpu_seconds,
    ledgerbridge,
    listening,
    load_average,
    percentile,
)
from benchmarks.backfill import database, sandbox
from fastapi import FastAPI
from tests.conftest import JWT_SECRET
from tests.processes import ORG, Service, connect
from tests.support import free_port

from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.settings import Settings

WARM_UP_SECONDS = 3.0
PAGE = "records/contact?limit=20"
UNDER_WAY = {"queued", "syncing", "deferred"}


def bare_app(payload: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/connections/{connection_id}/records/{model}")
    async def list_records(connection_id: int, model: str) -> dict[str, Any]:
        return payload

    return app


def serve_bare(port: int, payload_path: str) -> None:
    """Run in a process of its own: the bare app, served as ``ledgerbridge up`` serves."""
    payload = json.loads(Path(payload_path).read_text())
    uvicorn.run(
        bare_app(payload),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        backlog=2048,
        timeout_keep_alive=65,
    )


@contextmanager
def bare_server(payload: bytes, folder: Path) -> Iterator[tuple[str, int]]:
    payload_path = folder / "page.json"
    payload_path.write_bytes(payload)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.records_latency",
            "--serve-bare",
            str(port),
            "--payload",
            str(payload_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    with listening(process, port) as served:
        yield served


async def open_loop(
    url: str, headers: dict[str, str], clients: int, interval: float, seconds: float
) -> tuple[list[float], Counter[int], float]:
    """Latencies (from when each request was due), statuses (0: no answer) and the
    seconds until the last answer came."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    began = time.monotonic()
    end = began + seconds

    async def client() -> None:
        connection = KeepAlive(url, headers)
        due = began + random.uniform(0, interval)
        try:
            while due < end:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                try:
                    statuses[await asyncio.wait_for(connection.get(), 60)] += 1
                except (OSError, asyncio.IncompleteReadError, TimeoutError):
                    statuses[0] += 1
                latencies.append(time.monotonic() - due)
                due += interval
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, statuses, time.monotonic() - began


def measure(
    name: str, url: str, headers: dict[str, str], pid: int, args: argparse.Namespace
) -> str:
    asyncio.run(open_loop(url, headers, args.clients, args.interval, WARM_UP_SECONDS))
    cpu, workers = cpu_seconds(pid), children_cpu_seconds(pid)
    latencies, statuses, took = asyncio.run(
        open_loop(url, headers, args.clients, args.interval, args.seconds)
    )
    cpu, workers = cpu_seconds(pid) - cpu, children_cpu_seconds(pid) - workers
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    failed = sum(statuses.values()) - ok
    ms = [1000 * x for x in latencies]
    return (
        f"{name:<13} {ok / took:>7.1f} {failed:>7}"
        f" {percentile(ms, 0.5):>7.1f} {percentile(ms, 0.9):>7.1f} {percentile(ms, 0.99):>7.1f}"
        f" {max(ms, default=float('nan')):>8.1f} {1000 * cpu / max(ok, 1):>14.2f}"
        f" {workers / took:>12.2f}   {load_average()}"
    )


class Backfills:
    """Full resyncs of one connection, back to back, in a thread, until stopped."""

    def __init__(self, origin: str, headers: dict[str, str], connection: str) -> None:
        self.origin, self.headers, self.connection = origin, headers, connection
        self.finished = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.origin, headers=self.headers, timeout=60) as client:
            while not self.stop.is_set():
                started = client.post(
                    f"/v1/connections/{self.connection}/syncs", json={"full_resync": True}
                )
                started.raise_for_status()
                run = started.json()["sync_run_id"]
                while not self.stop.wait(0.5):
                    status = client.get(f"/v1/sync-runs/{run}").json()["status"]
                    if status not in UNDER_WAY:
                        self.finished += 1
                        break

    def __enter__(self) -> Backfills:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def first_page(url: str, headers: dict[str, str]) -> bytes:
    """The page, once the first sync has filled it."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        answer = httpx.get(url, headers=headers, timeout=60)
        answer.raise_for_status()
        if len(answer.json()["data"]) == 20:
            return answer.content
        time.sleep(1)
    raise SystemExit("the first sync did not fill a page of contacts within 10 minutes")


def run(args: argparse.Namespace) -> None:
    token = issue_development_token(
        Settings(jwt_secret=JWT_SECRET), org_id=ORG, role=Role.admin, subject="bench"
    )
    headers = {"Authorization": f"Bearer {token}"}
    with (
        sandbox(args.size, 1, "quickbooks") as provider,
        database(args.backend) as url,
        tempfile.TemporaryDirectory() as directory,
        ledgerbridge("up", url, provider, Path(directory), {}) as (origin, pid),
    ):
        realm = next(a["account_id"] for a in httpx.get(f"{provider}/_sandbox/accounts").json())
        service = Service({}, int(origin.rsplit(":", 1)[1]), Path(directory))
        connection = connect(service, headers, "quickbooks", realm)
        records = f"{origin}/v1/connections/{connection}/{PAGE}"
        payload = first_page(records, headers)
        with (
            bare_server(payload, Path(directory)) as (bare, bare_pid),
            Backfills(origin, headers, connection) as backfills,
        ):
            print(
                f"\n{args.clients} clients, each one request every {args.interval:g} s "
                f"({args.clients / args.interval:.0f} requests/s offered), {args.seconds:g} s "
                f"per server; ledgerbridge `up` on {args.backend}, backfilling"
            )
            print(
                "server          req/s  errors  p50 ms  p90 ms  p99 ms   max ms"
                "  CPU ms/request  worker CPU   load average"
            )
            print(measure("bare FastAPI", f"{bare}/v1/connections/1/{PAGE}", {}, bare_pid, args))
            print(measure("ledgerbridge", records, headers, pid, args))
            print(f"# full resyncs finished meanwhile: {backfills.finished}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--payload", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.payload)
        return
    print(f"# load average at start: {load_average()}")
    run(args)
    print(f"# load average at end: {load_average()}")


if __name__ == "__main__":
    main()
