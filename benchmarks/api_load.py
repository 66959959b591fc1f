"""The records API under a crowd of clients: throughput, errors and /health from 50 to 400.

    .venv/bin/python -m benchmarks.api_load [--clients 50,100,200,400,200,100,50]
        [--seconds 15] [--warmup 30] [--modes up-sqlite,api-postgresql]

For each mode, a sandbox serves in-process and ledgerbridge runs as its own process:
``ledgerbridge up`` on a fresh SQLite file, or ``ledgerbridge api`` on a fresh PostgreSQL
database. One QuickBooks company is connected through the real OAuth flow. Then, for each
client count, that many concurrent clients list the connection's records
(``GET /v1/connections/{id}/records/contact?limit=20``) as fast as they are answered,
while one prober asks ``/health`` every 50 ms. Each client is one keep-alive connection
spoken to directly (``KeepAlive``): a general HTTP client costs milliseconds of CPU per
request at hundreds of connections, which on a small machine the service would lose.
Printed per step: requests answered per second, 5xx other than deliberate 503 sheds, 503
sheds, request p50/p99, /health p99, the CPU (cores) the serving process, the worker
process ``up`` starts beside it and the load generator used, and the machine's load
average: on a machine shared with other work, compare steps of one run, not runs. The
steps go up and back down, and the last line gives each client count's mean over its
steps: a drift of the machine's speed during the run then weighs on every count alike.
``--warmup`` seconds of load at the first count come before any measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from benchmarks.backfill import database
from tests.conftest import JWT_SECRET, SECRET_KEY, TOKEN_KEY
from tests.processes import ORG, Service, connect
from tests.support import free_port, wait_for_port

from ledgerbridge.db.migrate import upgrade
from ledgerbridge.sandbox.app import create_app as sandbox_app
from ledgerbridge.sandbox.serve import serving
from ledgerbridge.sandbox.settings import SandboxSettings
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.settings import Settings


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class KeepAlive:
    """One HTTP/1.1 keep-alive connection, asking GETs one after another: a client far
    cheaper than a general one (httpx spends milliseconds of CPU per request at hundreds
    of connections), so that on a small machine the figures measure the service rather
    than the load generator competing with it for the CPU."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port or 80
        lines = [f"GET {parsed.raw_path.decode()} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self) -> int:
        """The status of one answer (its body read and dropped)."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        try:
            writer.write(self.request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
            fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
            await reader.readexactly(int(fields.get(b"content-length", b"0")))
            if fields.get(b"connection", b"").lower() == b"close":
                self.close()
            return status
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def load(
    url: str, headers: dict[str, str], clients: int, seconds: float, server_pid: int
) -> dict[str, float]:
    """``clients`` concurrent loops on ``url`` for ``seconds``, and a /health prober."""
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    health: list[float] = []
    origin = str(httpx.URL(url).copy_with(path="/", query=None)).rstrip("/")
    deadline = time.monotonic() + seconds

    async def client() -> None:
        connection = KeepAlive(url, headers)
        try:
            while time.monotonic() < deadline:
                began = time.monotonic()
                try:
                    statuses[await asyncio.wait_for(connection.get(), 120)] += 1
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    statuses[0] += 1
                    errors[type(exc).__name__] += 1
                latencies.append(time.monotonic() - began)
        finally:
            connection.close()

    def prober() -> None:  # a thread and connection of its own: not behind the clients
        with httpx.Client(timeout=120) as own:
            while time.monotonic() < deadline:
                began = time.monotonic()
                answer = own.get(f"{origin}/health")
                health.append(time.monotonic() - began)
                assert answer.status_code == 200
                time.sleep(0.05)

    started = time.monotonic()
    client_cpu = time.process_time()
    server_cpu, worker_cpu = cpu_seconds(server_pid), children_cpu_seconds(server_pid)
    probing = threading.Thread(target=prober)
    probing.start()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - started
    client_cpu = time.process_time() - client_cpu
    server_cpu = cpu_seconds(server_pid) - server_cpu
    worker_cpu = children_cpu_seconds(server_pid) - worker_cpu
    probing.join()
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    if errors:
        print(f"no answer: {dict(errors)}")
    return {
        "clients": clients,
        "rps": ok / elapsed,
        "5xx": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
        "failed": statuses[0],
        "503": statuses[503],
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "health_p99_ms": percentile(health, 0.99) * 1000,
        "server_cpu": server_cpu / elapsed,
        "client_cpu": client_cpu / elapsed,
        "worker_cpu": worker_cpu / elapsed,
    }


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> set[int]:
    """The processes ``pid`` started that still run (Linux): ``up``'s worker, say."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def children_cpu_seconds(pid: int) -> float:
    """CPU time so far of the processes ``pid`` started that still run (Linux)."""
    return sum(cpu_seconds(child) for child in children(pid))


def load_average() -> str:
    """The machine's load average (1, 5, 15 minutes): figures taken on a busy one are slower."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def ledgerbridge(
    command: str, database_url: str, sandbox_url: str, folder: Path, extra: dict[str, str]
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    env.update(
        LEDGERBRIDGE_ENV="development",
        LEDGERBRIDGE_DATABASE_URL=database_url,
        LEDGERBRIDGE_SECRET_KEY=SECRET_KEY,
        LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS=TOKEN_KEY,
        LEDGERBRIDGE_DATA_DIR=str(folder / "data"),
        LEDGERBRIDGE_SANDBOX_URL=sandbox_url,
        LEDGERBRIDGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        LEDGERBRIDGE_JWT_SECRET=JWT_SECRET,
        LEDGERBRIDGE_LOG_LEVEL="WARNING",
        **extra,
    )
    log_path = Path(tempfile.gettempdir()) / f"ledgerbridge-api-load-{command}.log"
    print(f"service log: {log_path}")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ledgerbridge", command, "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        with listening(process, port) as served:
            yield served


@contextmanager
def listening(process: subprocess.Popen[bytes], port: int) -> Iterator[tuple[str, int]]:
    """The origin and pid of ``process`` once it listens on ``port``; stopped at the end."""
    try:
        wait_for_port(port, timeout=120)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


def run_mode(
    mode: str, steps: list[int], seconds: float, warmup: float, extra: dict[str, str]
) -> None:
    command, backend = mode.split("-")
    with (
        serving(sandbox_app(SandboxSettings(rate_limits=False), seed=1, size=200)) as sandbox,
        database(backend) as url,
        tempfile.TemporaryDirectory() as directory,
    ):
        upgrade(url)
        with ledgerbridge(command, url, sandbox, Path(directory), extra) as (origin, pid):
            token = issue_development_token(
                Settings(jwt_secret=JWT_SECRET), org_id=ORG, role=Role.admin, subject="bench"
            )
            headers = {"Authorization": f"Bearer {token}"}
            realm = next(
                a["account_id"]
                for a in httpx.get(f"{sandbox}/_sandbox/accounts").json()
                if a["provider"] == "quickbooks"
            )
            service = Service({}, int(origin.rsplit(":", 1)[1]), Path(directory))
            connection = connect(service, headers, "quickbooks", realm)
            url_records = f"{origin}/v1/connections/{connection}/records/contact?limit=20"
            print(f"\n{mode}")
            print(
                "clients   req/s    5xx    503  no answer   p50 ms   p99 ms   /health p99 ms"
                "   server CPU   worker CPU   client CPU   load average"
            )
            # Not measured: the first seconds under load run faster on a shared host than
            # the rest, and would otherwise count for the first step only.
            asyncio.run(load(url_records, headers, steps[0], warmup, pid))
            rates: dict[int, list[float]] = {}
            for clients in steps:
                row = asyncio.run(load(url_records, headers, clients, seconds, pid))
                rates.setdefault(clients, []).append(row["rps"])
                print(
                    f"{row['clients']:>7} {row['rps']:>7.1f} {row['5xx']:>6} {row['503']:>6}"
                    f" {row['failed']:>10}"
                    f" {row['p50_ms']:>8.0f} {row['p99_ms']:>8.0f} {row['health_p99_ms']:>16.1f}"
                    f" {row['server_cpu']:>12.2f} {row['worker_cpu']:>12.2f}"
                    f" {row['client_cpu']:>12.2f}   {load_average()}"
                )
                time.sleep(2)
            print(plateau_summary(rates))


def plateau_summary(rates: dict[int, list[float]]) -> str:
    """Each client count's mean rate, and the largest count's as a share of the best."""
    means = {clients: sum(found) / len(found) for clients, found in rates.items()}
    most, best = max(means), max(means.values())
    shown = ", ".join(f"{clients}: {rate:.1f}" for clients, rate in sorted(means.items()))
    share = 100 * means[most] / best
    return f"mean req/s by clients: {shown}; {most} clients at {share:.0f} % of the plateau"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Up and back down: a machine whose speed drifts during the run (a shared host's
    # does) would otherwise read as a fall at the last, largest step.
    parser.add_argument("--clients", default="50,100,200,400,200,100,50")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds of load first")
    parser.add_argument("--modes", default="up-sqlite,api-postgresql")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="NAME=VALUE for the service, e.g. API_CONCURRENCY=4",
    )
    args = parser.parse_args()
    steps = [int(n) for n in args.clients.split(",")]
    extra = dict(f"LEDGERBRIDGE_{item}".split("=", 1) for item in args.set)
    for mode in args.modes.split(","):
        run_mode(mode, steps, args.seconds, args.warmup, extra)


if __name__ == "__main__":
    main()
