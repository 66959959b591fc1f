"""Pull-sync backfill: how fast, how costly and how big a first sync of Xero invoices is.

    .venv/bin/python benchmarks/backfill.py [--sizes 25000,50000,100000]
        [--backends sqlite,postgresql] [--seed 1]

For each size, ``ledgerbridge sandbox --providers xero --size N`` runs as a process of its
own with rate limits off (Xero seeds ``N`` invoices per organisation), so its CPU and
memory are not counted. For each backend (a fresh SQLite file; a fresh PostgreSQL
database on 127.0.0.1:5432, skipped when unreachable) the database is migrated, then a
measuring process connects one Xero organisation through the real OAuth flow and
backfills its ``Invoices`` in-process with the engine steps the DBOS workflow runs (see
``tests/sync/conftest.py::run_sync``), so the figures are the engine's. Our own call
budgets are off too: at Xero's 60 calls a minute they would only add waiting.

Each sync is measured twice, each time in a fresh process against a fresh database: once
plainly (wall time, records/s, CPU seconds per 10,000 records from ``getrusage``, and
RSS growth: peak RSS minus RSS before the sync), once under ``tracemalloc`` (the peak of
Python allocations during the sync), whose own overhead would distort the timings.

The table is printed as each row is measured and again at the end, with a legend, the
machine's load average at the start and the end (figures taken on a busy machine are
slower), and a verdict per backend on whether peak memory stays flat from the smallest
size to the largest.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import httpx
import psycopg
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.connections.models import Connection
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings, load_settings, new_encryption_key
from ledgerbridge.sync import engine, service
from ledgerbridge.sync.models import SyncRun

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
OBJECT_TYPE = "Invoices"
MB = 1024 * 1024


@dataclass(frozen=True)
class Figures:
    records: int
    seconds: float
    cpu_seconds: float
    rss_growth_mb: float
    heap_peak_mb: float | None  # measured only under tracemalloc


class BenchmarkFailed(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25000,50000,100000", help="invoices, comma-separated")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--measure", nargs=3, metavar=("ORIGIN", "DATABASE_URL", "TRACE"), help=argparse.SUPPRESS
    )  # in the measuring process
    args = parser.parse_args()
    if args.measure:
        origin, url, trace = args.measure
        print(json.dumps(asdict(measure(origin, url, trace == "trace"))))
        return
    # Stopped from outside: unwind, so the sandbox is stopped and the databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("backfill benchmark: terminated"))
    sizes = [int(size) for size in args.sizes.split(",")]
    backends = [backend.strip() for backend in args.backends.split(",")]
    print(f"# {machine_load()} at the start", flush=True)
    try:
        rows = benchmark(sizes, backends, args.seed)
    except BenchmarkFailed as failure:
        sys.exit(f"backfill benchmark failed: {failure}")
    print(f"\n# {machine_load()} at the end")
    print(LEGEND)
    print(HEADER)
    for backend, figures in sorted(rows, key=lambda row: row[0]):
        print(table_row(backend, figures))
    print()
    for line in verdicts(rows):
        print(line)


def benchmark(sizes: list[int], backends: list[str], seed: int) -> list[tuple[str, Figures]]:
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL is not reachable on 127.0.0.1:5432: skipping it", flush=True)
        backends = [backend for backend in backends if backend != "postgresql"]
    rows = []
    print(HEADER, flush=True)
    for size in sizes:
        with sandbox(size, seed) as origin:
            for backend in backends:
                plain = measure_in_process(origin, backend, trace=False)
                traced = measure_in_process(origin, backend, trace=True)
                if plain.records != size or traced.records != size:
                    raise BenchmarkFailed(
                        f"{backend}: synced {plain.records} and {traced.records} invoices "
                        f"of the {size} seeded"
                    )
                figures = Figures(**{**asdict(plain), "heap_peak_mb": traced.heap_peak_mb})
                rows.append((backend, figures))
                print(table_row(backend, figures), flush=True)
    return rows


# --- the sandbox and the databases --------------------------------------------------------


@contextmanager
def sandbox(size: int, seed: int, provider: str = "xero") -> Iterator[str]:
    """``ledgerbridge sandbox`` seeded with one provider only, in a process of its own."""
    port = free_port()
    env = {**os.environ, "LEDGERBRIDGE_SANDBOX_RATE_LIMITS": "false"}
    command = [sys.executable, "-m", "ledgerbridge", "sandbox", "--providers", provider]
    command += ["--size", str(size), "--seed", str(seed), "--port", str(port)]
    origin = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        try:
            started = time.perf_counter()
            wait_until_serving(process, origin, log)
            seconds = time.perf_counter() - started
            print(f"# sandbox: {provider}, size {size:,}, ready in {seconds:.0f} s", flush=True)
            yield origin
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_serving(process: subprocess.Popen[str], origin: str, log: IO[str]) -> None:
    deadline = time.monotonic() + 900  # seeding 100,000 invoices takes about half a minute
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise BenchmarkFailed(f"the sandbox exited with {process.returncode}:\n{log.read()}")
        try:
            httpx.get(f"{origin}/_sandbox/accounts", timeout=5).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise BenchmarkFailed("the sandbox did not start serving within 15 minutes")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, migrated database; PostgreSQL's is owned by a non-superuser role, as in
    production, so row-level security applies."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{Path(directory) / 'ledgerbridge.db'}"
            upgrade(url)
            yield url
        return
    if backend != "postgresql":
        raise BenchmarkFailed(f"unknown backend {backend!r}: choose sqlite or postgresql")
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


def measure_in_process(origin: str, backend: str, *, trace: bool) -> Figures:
    """One sync in a fresh process, so its peak RSS is the sync's alone."""
    with database(backend) as url:
        command = [sys.executable, __file__, "--measure", origin, url]
        command.append("trace" if trace else "plain")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkFailed(f"{backend}: the measuring process failed:\n{done.stderr}")
    return Figures(**json.loads(done.stdout.splitlines()[-1]))


# --- the measuring process ------------------------------------------------------------------


def measure(origin: str, url: str, trace: bool) -> Figures:
    with tempfile.TemporaryDirectory() as data_dir:
        svc = Services.build(service_settings(origin, url, Path(data_dir)))
        try:
            connection_id = connect_xero(svc, origin)
            return sync_invoices(svc, connection_id, trace)
        finally:
            svc.db.dispose()


def service_settings(origin: str, url: str, data_dir: Path) -> Settings:
    return load_settings(
        env="development",
        database_url=url,
        data_dir=data_dir,
        jwt_secret="benchmark-" + "x" * 40,
        secret_key="k" * 48,
        token_encryption_keys=new_encryption_key(),
        sandbox_url=origin,
        provider_call_budgets=False,
    )


def connect_xero(svc: Services, origin: str) -> int:
    """The browser flow: authorize → the sandbox's consent page → Allow → our callback."""
    token = issue_development_token(svc.settings, org_id="bench", role=Role.admin, subject="bench")
    headers = {"Authorization": f"Bearer {token}"}
    organisation = next(
        account["account_id"]
        for account in httpx.get(f"{origin}/_sandbox/accounts").json()
        if account["provider"] == "xero"
    )
    # Not entered as a context manager: the app's lifespan would close the services.
    client = TestClient(create_app(svc=svc), raise_server_exceptions=True)
    started = client.post("/v1/connections/xero/authorize", json={}, headers=headers)
    if started.status_code != 200:
        raise BenchmarkFailed(f"authorize: {started.status_code} {started.text}")
    start = httpx.URL(started.json()["authorize_url"])  # the browser's start link
    opened = client.get(start.path, params=dict(start.params), follow_redirects=False)
    if opened.status_code != 302:
        raise BenchmarkFailed(f"start link: {opened.status_code} {opened.text}")
    callback = httpx.URL(approve_consent(opened.headers["location"], [organisation]))
    answer = client.get(callback.path, params=dict(callback.params))
    if answer.status_code != 200:
        raise BenchmarkFailed(f"OAuth callback: {answer.status_code} {answer.text}")
    return int(answer.json()["connections"][0]["id"])


def sync_invoices(svc: Services, connection_id: int, trace: bool) -> Figures:
    """The DBOS workflow's steps, in-process: start, pull, tombstones, finish."""
    with svc.db.system() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        run, _ = service.request_sync(
            session,
            connection,
            wanted=[OBJECT_TYPE],
            full_resync=False,
            trigger="api",
            requested_by="benchmark",
        )
        run_id = run.id
    rss_before = current_rss()
    if trace:
        tracemalloc.start()
    cpu_before = cpu_seconds()
    started = time.perf_counter()

    plan = engine.start_run(svc, run_id)
    errors = {}
    for object_type in plan.object_types:
        if error := engine.pull_object_type(svc, plan, object_type):
            errors[object_type] = error
    if error := engine.pull_tombstones(svc, plan):
        errors["deletions"] = error
    engine.finish_run(svc, run_id, errors)

    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    heap_peak = tracemalloc.get_traced_memory()[1] / MB if trace else None
    tracemalloc.stop()
    if errors:
        raise BenchmarkFailed(f"the sync failed: {errors}")
    with svc.db.system() as session:
        finished = session.get(SyncRun, run_id)
        assert finished is not None
        created = finished.created
    return Figures(created, seconds, cpu, (peak_rss() - rss_before) / MB, heap_peak)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


# --- the table --------------------------------------------------------------------------------


LEGEND = """
records/s     invoices synced per wall-clock second (sandbox round trips included)
CPU s/10k     CPU seconds (user + system) of the syncing process per 10,000 invoices;
              the database server's and the sandbox's CPU are not counted
heap peak MB  peak of Python allocations during the sync (tracemalloc, a second run)
RSS growth MB peak resident memory of the syncing process minus its size before the sync
"""

HEADER = (
    f"{'backend':<10} {'invoices':>9} {'wall s':>8} {'records/s':>10} {'CPU s/10k':>10} "
    f"{'heap peak MB':>13} {'RSS growth MB':>14}"
)
FLAT = 1.25  # memory "flat": the largest size needs at most this much more than the smallest


def table_row(backend: str, f: Figures) -> str:
    heap = f"{f.heap_peak_mb:.1f}" if f.heap_peak_mb is not None else "-"
    return (
        f"{backend:<10} {f.records:>9,} {f.seconds:>8.1f} {f.records / f.seconds:>10,.0f} "
        f"{f.cpu_seconds / f.records * 10_000:>10.2f} {heap:>13} {f.rss_growth_mb:>14.1f}"
    )


def verdicts(rows: list[tuple[str, Figures]]) -> list[str]:
    """Per backend: does peak memory grow with the number of invoices synced?"""
    lines = []
    for backend in sorted({backend for backend, _ in rows}):
        runs = sorted((f for b, f in rows if b == backend), key=lambda f: f.records)
        if len(runs) < 2:
            continue
        small, large = runs[0], runs[-1]
        heap = (large.heap_peak_mb or 0) / (small.heap_peak_mb or 1)
        rss = max(large.rss_growth_mb, 1) / max(small.rss_growth_mb, 1)
        flat = heap <= FLAT and rss <= FLAT
        lines.append(
            f"{backend}: invoices x{large.records / small.records:.1f} "
            f"({small.records:,} -> {large.records:,}); heap peak x{heap:.2f} "
            f"({small.heap_peak_mb:.1f} -> {large.heap_peak_mb:.1f} MB), RSS growth x{rss:.2f} "
            f"({small.rss_growth_mb:.1f} -> {large.rss_growth_mb:.1f} MB): memory "
            + ("is flat" if flat else f"GROWS (more than x{FLAT})")
        )
    return lines


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


if __name__ == "__main__":
    main()
