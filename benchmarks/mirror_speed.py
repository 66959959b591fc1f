"""Mirror speed: ledgerbridge end to end beside a bare paging loop and dlt, in one run.

    bash scripts/setup-bench    # once: dlt in .venv-bench (skipped below when missing)
    .venv/bin/python -m benchmarks.mirror_speed [--sizes 20000] [--backends postgresql,sqlite]
        [--seed 1] [--profile]

One ``ledgerbridge sandbox --providers xero --size N`` process (rate limits off) serves
``N`` invoices per organisation. Against it, one after the other:

- **bare loop**: httpx paging ``GET /Invoices`` (1,000 a page) and parsing each answer:
  what the provider side can serve;
- **dlt**: dlt's ``rest_api`` source into a fresh PostgreSQL database with ``merge`` on
  ``InvoiceID`` (``benchmarks/dlt_xero.py`` in ``.venv-bench``): what a user would pick;
- **ledgerbridge**: ``ledgerbridge up`` on a fresh database (our call budgets off), the
  Xero OAuth flow through the consent page, ``POST /v1/connections/{id}/syncs`` for
  ``Invoices``, polling ``GET /v1/sync-runs/{id}`` until it has finished: the time from
  the POST to the finished run, the ``up`` process's CPU seconds over that time and its
  peak resident memory (``VmHWM``). The process's idle CPU rate, measured for a few
  seconds before the sync once it has settled, under the same polling, is subtracted for
  the sync's own CPU.
  Then the same sync again, nothing changed at the provider: its provider calls (from
  the audit log), the objects re-read in the overlap, wall and CPU seconds; it must
  write nothing.

Prints records/s for each side by side, ledgerbridge's share of the bare loop and its
multiple of dlt. ``--profile`` also runs the engine's steps in-process under cProfile
(``benchmarks/backfill.py``'s measuring path) and prints where the time goes.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import io
import json
import pstats
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
from benchmarks.api_load import children, children_cpu_seconds, cpu_seconds
from benchmarks.backfill import (
    BenchmarkFailed,
    database,
    machine_load,
    postgres_available,
    sandbox,
)
from tests.conftest import JWT_SECRET
from tests.processes import connect, service

from ledgerbridge.sandbox.consent import approve_consent

REPO = Path(__file__).resolve().parents[1]
DLT_PYTHON = REPO / ".venv-bench" / "bin" / "python"
CLIENT = ("sandbox-client-id", "sandbox-client-secret")
REDIRECT = "http://127.0.0.1:9/callback"  # never called: the code is read off the redirect
ORG = "bench-mirror"
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Rate:
    path: str
    records: int
    seconds: float
    cpu_seconds: float | None = None
    peak_rss_mb: float | None = None
    idle_cpu_per_second: float | None = None  # the process's CPU with nothing to sync

    @property
    def sync_cpu_seconds(self) -> float | None:
        """CPU seconds above the process's idle rate over the same time: the sync's own."""
        if self.cpu_seconds is None or self.idle_cpu_per_second is None:
            return None
        return self.cpu_seconds - self.idle_cpu_per_second * self.seconds

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000", help="invoices, comma-separated")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile the engine in-process")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",")]
    if "postgresql" in backends and not postgres_available():
        sys.exit("PostgreSQL is not reachable on 127.0.0.1:5432")
    print(f"# {machine_load()} at the start", flush=True)
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            with sandbox(size, args.seed) as origin:
                rates, incrementals = run_all(origin, size, backends)
                print_table(size, rates)
                print_incrementals(size, incrementals)
                if args.profile:
                    profile(origin)
    except BenchmarkFailed as failure:
        sys.exit(f"mirror benchmark failed: {failure}")
    print(f"# {machine_load()} at the end")


def run_all(origin: str, size: int, backends: list[str]) -> tuple[list[Rate], list[Incremental]]:
    tenant = organisation(origin)
    token = access_token(origin, tenant)
    rates = [bare_loop(origin, token, tenant)]
    print(f"  {rates[-1].path}: {rates[-1].per_second:,.0f} records/s", flush=True)
    dlt_rate = dlt_run(origin, token, tenant)
    if dlt_rate is not None:
        rates.append(dlt_rate)
        print(f"  {dlt_rate.path}: {dlt_rate.per_second:,.0f} records/s", flush=True)
    incrementals = []
    for backend in backends:
        rate, incremental = ledgerbridge_up(origin, tenant, backend)
        if rate.records != size:
            raise BenchmarkFailed(f"{backend}: mirrored {rate.records} of {size} invoices")
        if incremental.written:
            raise BenchmarkFailed(f"{backend}: a sync with nothing changed wrote {incremental}")
        rates.append(rate)
        incrementals.append(incremental)
        print(f"  {rate.path}: {rate.per_second:,.0f} records/s", flush=True)
    return rates, incrementals


# --- the provider side -----------------------------------------------------------------------


def organisation(origin: str) -> str:
    accounts = httpx.get(f"{origin}/_sandbox/accounts").json()
    return str(next(a["account_id"] for a in accounts if a["provider"] == "xero"))


def access_token(origin: str, tenant: str) -> str:
    """The sandbox's own OAuth client through Xero's consent page (PKCE, as Xero wants)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": CLIENT[0],
        "redirect_uri": REDIRECT,
        "scope": "offline_access accounting.transactions",
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
    }
    authorize = f"{origin}/xero/identity/connect/authorize?{urlencode(query)}"
    code = parse_qs(urlsplit(approve_consent(authorize, [tenant])).query)["code"][0]
    answer = httpx.post(
        f"{origin}/xero/identity/connect/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=CLIENT,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def bare_loop(origin: str, token: str, tenant: str) -> Rate:
    """What the provider side serves: page after page, each parsed, nothing stored."""
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant}
    records, page = 0, 1
    started = time.perf_counter()
    with httpx.Client(base_url=f"{origin}/xero/api.xro/2.0", headers=headers) as http:
        while True:
            answer = http.get(
                "/Invoices",
                params={"page": page, "pageSize": 1000, "order": "UpdatedDateUTC ASC"},
                timeout=60,
            )
            answer.raise_for_status()
            invoices = answer.json()["Invoices"]
            records += len(invoices)
            if len(invoices) < 1000:
                break
            page += 1
    return Rate("bare HTTP loop", records, time.perf_counter() - started)


def dlt_run(origin: str, token: str, tenant: str) -> Rate | None:
    if not DLT_PYTHON.exists():
        print("  dlt: not installed (bash scripts/setup-bench): skipped", flush=True)
        return None
    with database("postgresql") as url:
        # dlt insists on a password; the server trusts loopback and ignores it.
        user = url.split("://", 1)[1].split("@", 1)[0]
        plain = url.replace(f"postgresql+psycopg://{user}@", f"postgresql://{user}:trust@")
        command = [str(DLT_PYTHON), str(REPO / "benchmarks" / "dlt_xero.py")]
        done = subprocess.run(
            [*command, origin, token, tenant, plain], capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        raise BenchmarkFailed(f"dlt failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.splitlines()[-1])
    return Rate("dlt rest_api -> PostgreSQL (merge)", figures["records"], figures["seconds"])


# --- ledgerbridge end to end -------------------------------------------------------------------


def ledgerbridge_up(origin: str, tenant: str, backend: str) -> tuple[Rate, Incremental]:
    headers = {"Authorization": f"Bearer {admin_token()}"}
    with (
        tempfile.TemporaryDirectory() as directory,
        database(backend) as url,
        service(url, origin, Path(directory), LEDGERBRIDGE_PROVIDER_CALL_BUDGETS="false") as lb,
    ):
        assert lb.process is not None
        pid = lb.process.pid
        # Before connecting: with a connection to sync, the scheduler could start its
        # backfill first and leave the timed sync nothing to do.
        idle = idle_cpu_per_second(lb.url, pid, headers)
        connection_id = connect(lb, headers, "xero", tenant)
        run, seconds, cpu = timed_sync(lb.url, pid, connection_id, headers)
        peak = peak_rss_mb(pid)
        calls_before = provider_calls(lb.url, connection_id, headers)
        again, again_seconds, again_cpu = timed_sync(lb.url, pid, connection_id, headers)
        calls = provider_calls(lb.url, connection_id, headers) - calls_before
    for finished in (run, again):
        if finished["status"] != "succeeded":
            raise BenchmarkFailed(f"{backend}: the sync run ended {finished}")
    counts, again_counts = (
        cast(dict[str, int], run["counts"]),
        cast(dict[str, int], again["counts"]),
    )
    rate = Rate(f"ledgerbridge up ({backend})", counts["created"], seconds, cpu, peak, idle)
    written = sum(again_counts[k] for k in ("created", "updated", "deleted"))
    incremental = Incremental(
        backend, again_counts["fetched"], written, calls, again_seconds, again_cpu, idle
    )
    return rate, incremental


@dataclass(frozen=True)
class Incremental:
    """A second sync of the same account with nothing changed at the provider."""

    backend: str
    fetched: int  # re-read in the overlap before the high-water mark
    written: int  # created + updated + deleted: must be 0
    provider_calls: int
    seconds: float
    cpu_seconds: float
    idle_cpu_per_second: float


IDLE_SECONDS = 3.0
# Seconds after ``up`` answers before it is idle: its worker process is still starting
# (imports, DBOS launch) and burns half a core, which would count as idle.
SETTLE_SECONDS = 3.0


def idle_cpu_per_second(url: str, pid: int, headers: dict[str, str]) -> float:
    """The ``up`` process's CPU per second with no sync running, once settled, while it
    answers the same polling a sync run gets (its DBOS queue pollers, scheduler and
    heartbeat work all the time): subtracted from a run's CPU, what is left is the sync's
    own."""
    polled_for(url, headers, SETTLE_SECONDS)
    before, started = up_cpu_seconds(pid), time.perf_counter()
    polled_for(url, headers, IDLE_SECONDS)
    return (up_cpu_seconds(pid) - before) / (time.perf_counter() - started)


def polled_for(url: str, headers: dict[str, str], seconds: float) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        httpx.get(f"{url}/v1/sync-runs/1", headers=headers, timeout=30)  # none yet: a 404
        time.sleep(POLL_SECONDS)


def timed_sync(
    url: str, pid: int, connection_id: str, headers: dict[str, str]
) -> tuple[dict[str, object], float, float]:
    """A sync of ``Invoices`` from the POST to its finished run: the run, wall seconds
    and the ``up`` process's CPU seconds over that time."""
    cpu_before = up_cpu_seconds(pid)
    started = time.perf_counter()
    accepted = httpx.post(
        f"{url}/v1/connections/{connection_id}/syncs",
        json={"object_types": ["Invoices"]},
        headers=headers,
    )
    if accepted.status_code != 202:
        raise BenchmarkFailed(f"POST /syncs: {accepted.status_code} {accepted.text}")
    run = poll(url, accepted.json()["sync_run_id"], headers)
    return run, time.perf_counter() - started, up_cpu_seconds(pid) - cpu_before


def provider_calls(url: str, connection_id: str, headers: dict[str, str]) -> int:
    """The connection's provider calls so far, from the audit log."""
    calls, cursor = 0, None
    while True:
        params: dict[str, str | int] = {"connection_id": connection_id, "limit": 100}
        page = httpx.get(
            f"{url}/v1/audit-log",
            params=params | ({"cursor": cursor} if cursor else {}),
            headers=headers,
            timeout=30,
        ).json()
        calls += len(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return calls


def admin_token() -> str:
    claims = {"sub": "bench", "org_id": ORG, "role": "admin", "exp": int(time.time()) + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def poll(url: str, run_id: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        run: dict[str, object] = httpx.get(
            f"{url}/v1/sync-runs/{run_id}", headers=headers, timeout=30
        ).json()
        if run["status"] in ("succeeded", "failed"):
            return run
        time.sleep(POLL_SECONDS)
    raise BenchmarkFailed(f"sync run {run_id} did not finish in 30 minutes")


def up_cpu_seconds(pid: int) -> float:
    """CPU time of ``up`` and of the worker process it starts, where syncs run."""
    return cpu_seconds(pid) + children_cpu_seconds(pid)


def peak_rss_mb(pid: int) -> float:
    """Peak RSS of ``up`` and of the worker process it starts, added."""
    total = 0
    for process in (pid, *children(pid)):
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


# --- the table and the profile ------------------------------------------------------------------


def print_table(size: int, rates: list[Rate]) -> None:
    bare = rates[0].per_second
    dlt = next((r.per_second for r in rates if r.path.startswith("dlt")), None)
    print(f"\n# {size:,} Xero invoices, sandbox rate limits and call budgets off")
    print(
        f"{'path':<40} {'records':>8} {'wall s':>8} {'records/s':>10} {'of bare':>8} "
        f"{'x dlt':>6} {'CPU s/10k':>10} {'sync CPU s/10k':>15} {'peak RSS MB':>12}"
    )
    for r in rates:
        times = f"{r.per_second / dlt:.1f}" if dlt else "-"
        print(
            f"{r.path:<40} {r.records:>8,} {r.seconds:>8.1f} {r.per_second:>10,.0f} "
            f"{r.per_second / bare:>8.0%} {times:>6} {per_10k(r.cpu_seconds, r.records):>10} "
            f"{per_10k(r.sync_cpu_seconds, r.records):>15} "
            f"{f'{r.peak_rss_mb:.0f}' if r.peak_rss_mb is not None else '-':>12}"
        )
    print(
        "\nCPU s/10k and peak RSS: the `ledgerbridge up` process alone (API, workers, DBOS), "
        "not the database server's nor the sandbox's. sync CPU s/10k: the same less what the "
        f"process spends idle over as long ({IDLE_SECONDS:.0f} s of idle measured before the "
        "sync, once settled, under the same polling): the write path's own.\n",
        flush=True,
    )


def print_incrementals(size: int, incrementals: list[Incremental]) -> None:
    """The second sync, nothing changed: what it costs to learn that."""
    if not incrementals:
        return
    print(f"# incremental sync of the {size:,} invoices again, nothing changed at the provider")
    print(
        f"{'backend':<12} {'provider calls':>15} {'re-read':>8} {'written':>8} {'wall s':>8} "
        f"{'CPU s':>7} {'sync CPU s':>11}"
    )
    for i in incrementals:
        own = i.cpu_seconds - i.idle_cpu_per_second * i.seconds
        print(
            f"{i.backend:<12} {i.provider_calls:>15} {i.fetched:>8} {i.written:>8} "
            f"{i.seconds:>8.2f} {i.cpu_seconds:>7.2f} {own:>11.2f}"
        )
    print(
        "\nre-read: objects listed again in the overlap before the high-water mark; written: "
        "records created, updated or deleted (0, or the benchmark fails).\n",
        flush=True,
    )


def per_10k(seconds: float | None, records: int) -> str:
    return f"{seconds / records * 10_000:.2f}" if seconds is not None and records else "-"


def profile(origin: str) -> None:
    """The engine's steps in-process (PostgreSQL) under cProfile: the top of the list."""
    from benchmarks.backfill import measure

    with database("postgresql") as url:
        profiler = cProfile.Profile()
        profiler.enable()
        figures = measure(origin, url, trace=False)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(40)
    print(f"# profile of one in-process backfill of {figures.records:,} invoices (PostgreSQL)")
    print(out.getvalue())


if __name__ == "__main__":
    main()
