"""Push at the providers' real rate limits: 1,000 invoices over 10 connections.

    .venv/bin/python -m benchmarks.push [--invoices 1000] [--xero 5] [--quickbooks 5]
        [--backend sqlite|postgresql] [--size 20] [--seed 1]

Runs as production does. ``ledgerbridge sandbox`` serves in a process of its own with its
default settings, so every provider's real rate limits are on, seeded with as many accounts
per provider as there are connections to make (``LEDGERBRIDGE_SANDBOX_ACCOUNTS``).
``ledgerbridge up`` (API, DBOS workers and schedules) runs in another, on a fresh database,
with its default call budgets. Each connection is made through the real OAuth flow (consent
page, callback); their scheduled pull syncs are paused (pull shares the call budget; the
bound counts push calls) and, if a first sync already ran, the benchmark waits until no
call has been made for a minute, so every rate window starts empty. The invoices
(Lightspeed takes none) are then submitted round-robin over the connections by 8
concurrent clients, each answered 202, until every one is ``synced``; each provider
account must then hold each of its invoices exactly once.

Prints the total time (first 202 to last ``synced``, from the operations' timestamps)
against the lower bound the providers' limits allow (the formula is printed with it), the
429s received (audit log entries with status 429), p50/p99 of the time from each
operation's 202 to its ``synced``, and the service's CPU seconds (accepting and pushing)
beside the load average, since wall times on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from benchmarks.backfill import BenchmarkFailed, database, free_port, wait_until_serving
from tests.conftest import JWT_SECRET
from tests.processes import ORG, Service, connect, service
from tests.push.writes import landed, writes_for

from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.settings import Settings

CALLS_PER_INVOICE = 1  # a create is one call: Xero PUT Invoices, QuickBooks POST invoice
SUBMITTERS = 8
TAG = "bench"


@dataclass(frozen=True)
class Window:
    """A rolling-window limit: ``calls`` per ``seconds``."""

    name: str
    calls: int
    seconds: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--xero", type=int, default=5, help="Xero connections")
    parser.add_argument("--quickbooks", type=int, default=5, help="QuickBooks connections")
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--size", type=int, default=20, help="sandbox records per account")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    wanted = {"xero": args.xero, "quickbooks": args.quickbooks}
    if sum(wanted.values()) < 1 or args.invoices < 1:
        sys.exit("push benchmark: give at least one connection and one invoice")
    try:
        benchmark(args.invoices, wanted, args.backend, args.size, args.seed)
    except BenchmarkFailed as failure:
        sys.exit(f"push benchmark failed: {failure}")


def benchmark(invoices: int, wanted: dict[str, int], backend: str, size: int, seed: int) -> None:
    providers = [p for p, n in wanted.items() if n]
    with (
        sandbox(providers, max(wanted.values()), size, seed) as origin,
        httpx.Client(base_url=origin, timeout=60) as provider_side,
        database(backend) as url,
        tempfile.TemporaryDirectory() as directory,
        service(url, origin, Path(directory)) as lb,
    ):
        limits = provider_side.get("/_sandbox/settings").json()
        listed = provider_side.get("/_sandbox/accounts").json()
        connections = []  # (provider, account, connection id)
        for provider in providers:
            accounts = [a["account_id"] for a in listed if a["provider"] == provider]
            for account in accounts[: wanted[provider]]:
                connections.append((provider, account, connect(lb, headers(), provider, account)))
        print(f"# {backend}: {len(connections)} connections made through the OAuth flow")
        quiet(lb, [c for _, _, c in connections])
        jobs = [
            (connections[n % len(connections)], n)
            for n in range(invoices)  # round-robin: every connection starts at once
        ]
        makers = {(p, a): writes_for(provider_side, p, a, TAG) for p, a, _ in connections}
        per_connection = {c: sum(1 for job in jobs if job[0] == c) for c in connections}

        cpu_before = cpu_seconds(lb)
        started = time.monotonic()
        with ThreadPoolExecutor(SUBMITTERS) as pool:
            accepted = list(
                pool.map(lambda job: submit(lb, job[0][2], makers[job[0][:2]](job[1])), jobs)
            )
        print(
            f"# submitted {invoices} invoices in {time.monotonic() - started:.1f} s "
            f"(202 round trip p50 {pct(accepted, 50) * 1000:.0f} ms, "
            f"p99 {pct(accepted, 99) * 1000:.0f} ms, {SUBMITTERS} clients)",
            flush=True,
        )
        operations = wait_until_done(lb, invoices, started)
        cpu = cpu_seconds(lb) - cpu_before
        calls = audit_log(lb)
        for connection in connections:
            keys = landed(provider_side, connection[0], TAG, connection[1])
            if len(keys) != len(set(keys)) or len(keys) != per_connection[connection]:
                raise BenchmarkFailed(f"{connection[:2]} holds {len(keys)} of the invoices")
    report(operations, calls, per_connection, limits)
    print(
        f"service CPU         {cpu:.1f} s ({cpu / invoices * 1000:.0f} ms an invoice: 202 and push)"
    )
    print("load average        " + " ".join(f"{load:.2f}" for load in os.getloadavg()))


# --- the processes ------------------------------------------------------------------------


@contextmanager
def sandbox(providers: list[str], accounts: int, size: int, seed: int) -> Iterator[str]:
    """``ledgerbridge sandbox`` with its default settings (real rate limits), in a process
    of its own, with ``accounts`` accounts per provider."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    env["LEDGERBRIDGE_SANDBOX_ACCOUNTS"] = str(accounts)
    command = [sys.executable, "-m", "ledgerbridge", "sandbox", "--providers", ",".join(providers)]
    command += ["--size", str(size), "--seed", str(seed), "--port", str(port)]
    origin = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        try:
            wait_until_serving(process, origin, log)
            print(f"# sandbox: {', '.join(providers)}, {accounts} accounts each", flush=True)
            yield origin
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def headers(role: Role = Role.admin) -> dict[str, str]:
    settings = Settings(jwt_secret=JWT_SECRET)
    token = issue_development_token(settings, org_id=ORG, role=role, subject="benchmark")
    return {"Authorization": f"Bearer {token}"}


def quiet(lb: Service, connection_ids: list[str]) -> None:
    """Pause the connections' scheduled pull syncs (pull shares the call budget, and the
    bound counts push calls only), then wait until no provider call has been made for a
    minute, so every rolling window starts empty."""
    for connection_id in connection_ids:
        paused = httpx.patch(
            f"{lb.url}/v1/connections/{connection_id}/sync-schedule",
            json={"sync_paused": True},
            headers=headers(),
            timeout=60,
        )
        if paused.status_code != 200:
            raise BenchmarkFailed(f"pausing syncs: {paused.status_code} {paused.text}")
    while calls := audit_log(lb):
        since = (datetime.now(UTC) - utc(calls[-1]["created_at"])).total_seconds()
        if since > 61:
            break
        print(f"# {len(calls)} provider calls from a first pull sync: waiting a minute", flush=True)
        time.sleep(61 - since)


# --- submitting and waiting ---------------------------------------------------------------


def submit(lb: Service, connection_id: str, body: dict[str, Any]) -> float:
    """Seconds from sending the request to its 202."""
    started = time.perf_counter()
    answer = httpx.post(
        f"{lb.url}/v1/connections/{connection_id}/invoices",
        json=body,
        headers=headers(Role.developer),
        timeout=60,
    )
    if answer.status_code != 202:
        raise BenchmarkFailed(f"submit: {answer.status_code} {answer.text}")
    return time.perf_counter() - started


def cpu_seconds(lb: Service) -> float:
    """The ``ledgerbridge up`` process's CPU time so far (user and system)."""
    assert lb.process is not None
    stat = Path(f"/proc/{lb.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def pages(lb: Service, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        query = {**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
        answer = httpx.get(f"{lb.url}{path}", params=query, headers=headers(), timeout=60)
        answer.raise_for_status()
        page = answer.json()
        yield from page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return


def wait_until_done(lb: Service, invoices: int, started: float) -> list[dict[str, Any]]:
    """Every operation once none is pending or running; progress every 5 seconds."""
    while True:
        time.sleep(5)
        open_ = sum(
            1
            for status in ("pending", "running")
            for _ in pages(lb, "/v1/operations", status=status)
        )
        elapsed = time.monotonic() - started
        done = invoices - open_
        print(f"  {elapsed:6.0f} s  {done:>5} of {invoices} done", flush=True)
        if open_ == 0:
            break
        if elapsed > 3600:
            raise BenchmarkFailed(f"{open_} operations still open after an hour")
    operations = list(pages(lb, "/v1/operations"))
    failed = [o for o in operations if o["status"] != "synced"]
    if failed:
        raise BenchmarkFailed(f"{len(failed)} operations did not sync, e.g. {failed[0]}")
    return operations


def audit_log(lb: Service) -> list[dict[str, Any]]:
    return list(pages(lb, "/v1/audit-log"))


# --- the figures --------------------------------------------------------------------------


def account_windows(limits: dict[str, Any], provider: str) -> list[Window]:
    if provider == "xero":
        return [
            Window("Xero, per organisation a minute", limits["xero_tenant_per_minute"], 60),
            Window("Xero, per organisation a day", limits["xero_tenant_per_day"], 86_400),
        ]
    return [
        Window("QuickBooks, per company a second", limits["quickbooks_realm_app_per_second"], 1),
        Window("QuickBooks, per company a minute", limits["quickbooks_realm_per_minute"], 60),
    ]


def earliest_last_call(calls: int, window: Window) -> float:
    """Calls 1..L may go at once, L+1..2L one window later, and so on."""
    return (calls - 1) // window.calls * window.seconds if calls else 0.0


def lower_bound(
    per_connection: dict[tuple[str, str, str], int], limits: dict[str, Any]
) -> tuple[float, str]:
    """The earliest the last call can go, and the limit that sets it."""
    candidates = [(0.0, "none")]
    for (provider, account, _), invoices in per_connection.items():
        for window in account_windows(limits, provider):
            seconds = earliest_last_call(invoices * CALLS_PER_INVOICE, window)
            candidates.append((seconds, f"{window.name} ({window.calls}), {account}"))
    xero = sum(n for (p, _, _), n in per_connection.items() if p == "xero")
    app = Window("Xero, per app a minute", limits["xero_app_per_minute"], 60)
    candidates.append((earliest_last_call(xero * CALLS_PER_INVOICE, app), app.name))
    return max(candidates)


def utc(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds_between(start: str, end: str) -> float:
    return (utc(end) - utc(start)).total_seconds()


def pct(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def report(
    operations: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    per_connection: dict[tuple[str, str, str], int],
    limits: dict[str, Any],
) -> None:
    first = min(o["created_at"] for o in operations)
    last = max(o["finished_at"] for o in operations)
    total = seconds_between(first, last)
    bound, binding = lower_bound(per_connection, limits)
    latencies = [seconds_between(o["created_at"], o["finished_at"]) for o in operations]
    runs = [seconds_between(o["started_at"], o["finished_at"]) for o in operations]
    pushes = [c for c in calls if c["operation_id"]]
    providers = {connection_id: p for p, _, connection_id in per_connection}
    throttled = Counter(
        f"{providers.get(c['connection_id'])}: {c['response_body']}"[:120]
        for c in calls
        if c["status"] == 429
    )
    kinds = "".join(f"\n  {n} x {what}" for what, n in throttled.items())
    accepted = seconds_between(first, max(o["created_at"] for o in operations))
    most = max(per_connection.values())
    print(
        f"""
invoices            {len(operations)} over {len(per_connection)} connections (at most {most} each)
provider calls      {len(pushes)} for the invoices ({len(pushes) / len(operations):.2f} each)
429s received       {throttled.total()}{kinds}
total time          {total:.1f} s (first 202 to last synced; last 202 at {accepted:.1f} s)
lower bound         {bound:.1f} s (set by {binding})
total / bound       {total / bound if bound else float("inf"):.2f}
202 to synced       p50 {pct(latencies, 50):.1f} s, p99 {pct(latencies, 99):.1f} s
started to synced   p50 {pct(runs, 50):.2f} s, p99 {pct(runs, 99):.2f} s (one operation's run)

The lower bound: a connection's N calls ({CALLS_PER_INVOICE} per invoice) under a limit of L
calls in any rolling W seconds can go no faster than L at once, the next L one window later
and so on, so its last call goes floor((N - 1) / L) x W after its first at the earliest.
Connections call in parallel; the bound is the largest over every connection's limits and
the app-wide ones (Xero's per-app minute, over all Xero calls). It ignores the time each
call itself takes, so no run can reach it.""".strip("\n")
    )


if __name__ == "__main__":
    main()
