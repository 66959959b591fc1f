"""Bounded input and a slow JWKS, against a real ``ledgerbridge api`` process (loopback only).

    python -m benchmarks.security_limits [--megabytes 150] [--requests 60] [--jwks-delay 3]

1. RSS of the API process before and after an unauthenticated POST of ``--megabytes`` MB,
   sent with a Content-Length (refused unread) and again chunked without one (refused
   at the cap while streaming).
2. ``/health`` p50/p99 while ``--requests`` anonymous RS256 requests (each with a ``kid``
   never seen) wait on a local JWKS that answers in ``--jwks-delay`` seconds; and how long
   an HS256 caller waited meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import uvicorn
from benchmarks.backfill import BenchmarkFailed, database, free_port
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

JWT_SECRET = "bench-secret-" + "z" * 40
MB = 1_000_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchmarkFailed("no VmRSS in /proc")


@contextmanager
def api_process(database_url: str, data_dir: Path, **env: str) -> Iterator[tuple[int, str]]:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    environ.update(
        LEDGERBRIDGE_DATABASE_URL=database_url,
        LEDGERBRIDGE_DATA_DIR=str(data_dir),
        LEDGERBRIDGE_JWT_SECRET=JWT_SECRET,
        LEDGERBRIDGE_LOG_LEVEL="WARNING",
        **env,
    )
    command = [sys.executable, "-m", "ledgerbridge", "api", "--port", str(port)]
    with (data_dir / "api.log").open("w") as log:
        process = subprocess.Popen(command, env=environ, stdout=log, stderr=subprocess.STDOUT)
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{origin}/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchmarkFailed((data_dir / "api.log").read_text()) from None
                time.sleep(0.2)
        yield process.pid, origin
    finally:
        process.terminate()
        process.wait(timeout=30)


def post_unauthenticated(origin: str, size: int, *, declared: bool) -> str:
    """Send ``size`` bytes of JSON; returns the status line the server answered with."""
    host, port = origin.removeprefix("http://").split(":")
    framing = f"Content-Length: {size}" if declared else "Transfer-Encoding: chunked"
    head = (
        f"POST /v1/api-keys HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    ).encode()
    chunk = b"[" + b" " * (1024 * 1024 - 2) + b"]"
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        sent = 0
        try:
            while sent < size:
                piece = chunk[: size - sent]
                sock.sendall(piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
            if not declared:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: it refused the rest
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        except OSError:
            pass
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    return f"{status or '(no answer)'} after {sent / MB:.0f} MB sent"


def measure_body_limits(megabytes: int) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        database("sqlite") as url,
        api_process(url, Path(directory)) as (pid, origin),
    ):
        time.sleep(1)
        before = rss_mb(pid)
        for declared in (True, False):
            answer = post_unauthenticated(origin, megabytes * MB, declared=declared)
            how = "with Content-Length" if declared else "chunked"
            print(f"  {megabytes} MB unauthenticated POST {how}: {answer}")
        time.sleep(1)
        after = rss_mb(pid)
    print(f"  API process RSS: {before:.0f} MB before, {after:.0f} MB after")


def serve(app: Starlette, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server


async def health_during_flood(origin: str, requests: int, private: rsa.RSAPrivateKey) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "x", "org_id": "org-bench", "role": "viewer", "iat": now}
    claims["exp"] = now + timedelta(minutes=5)
    hs256 = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    timings: list[float] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None)) as client:

        async def anonymous(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return (await client.get(f"{origin}/v1/api-keys", headers=headers)).status_code

        quiet: list[float] = []
        for _ in range(20):
            started = time.perf_counter()
            (await client.get(f"{origin}/health")).raise_for_status()
            quiet.append(time.perf_counter() - started)
        print(f"  /health with nothing else running: p50 {statistics.median(quiet) * 1000:.1f} ms")
        tokens = [  # signed beforehand: the client's own CPU is not what is measured
            jwt.encode(claims, private, algorithm="RS256", headers={"kid": secrets.token_hex(8)})
            for _ in range(requests)
        ]
        flood = [asyncio.create_task(anonymous(token)) for token in tokens]
        await asyncio.sleep(0.2)
        hs_started = time.perf_counter()
        hs_status = (
            await client.get(f"{origin}/v1/api-keys", headers={"Authorization": f"Bearer {hs256}"})
        ).status_code
        hs_wait = time.perf_counter() - hs_started
        while not all(task.done() for task in flood):
            started = time.perf_counter()
            (await client.get(f"{origin}/health")).raise_for_status()
            timings.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
        statuses = [task.result() for task in flood]
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(
        f"  /health during {requests} anonymous RS256 requests: {len(timings)} probes, "
        f"p50 {statistics.median(timings) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    )
    print(f"  an HS256 caller meanwhile: {hs_status} in {hs_wait * 1000:.1f} ms")
    print(f"  the anonymous requests answered: {sorted(set(statuses))}")


def measure_slow_jwks(requests: int, delay: float) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    fetches = 0

    async def jwks(_request: Request) -> JSONResponse:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(delay)
        return JSONResponse({"keys": [{**public, "kid": "real", "use": "sig"}]})

    port = free_port()
    server = serve(Starlette(routes=[Route("/jwks.json", jwks)]), port)
    try:
        with tempfile.TemporaryDirectory() as directory, database("sqlite") as url:
            jwks_url = f"http://127.0.0.1:{port}/jwks.json"
            with api_process(url, Path(directory), LEDGERBRIDGE_JWT_JWKS_URL=jwks_url) as (
                _pid,
                origin,
            ):
                asyncio.run(health_during_flood(origin, requests, private))
    finally:
        server.should_exit = True
    print(f"  JWKS fetches: {fetches} (answering in {delay:g} s each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=int, default=150)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--jwks-delay", type=float, default=3.0)
    args = parser.parse_args()
    print("Request body limits:")
    measure_body_limits(args.megabytes)
    print("A slow JWKS:")
    measure_slow_jwks(args.requests, args.jwks_delay)


if __name__ == "__main__":
    main()
