"""Importing a large OFX statement while the service keeps answering.

    .venv/bin/python -m benchmarks.statement_import [--mib 50] [--backends sqlite,postgresql]

For each backend (a fresh SQLite file; a fresh PostgreSQL database on 127.0.0.1:5432,
skipped when unreachable) a real ``ledgerbridge up`` process runs on a fresh database. An
SGML OFX bank statement of ``--mib`` MiB (about 140 bytes a transaction) is generated,
then uploaded to ``POST /v1/statements`` while another client asks ``GET /health`` every
20 ms from its own thread. Prints the import time (request sent to 201 answered), the
lines stored, the CPU seconds the import took (``/proc``: unlike the wall time, not
stretched by other work on the machine) in the API process (receiving the upload, and
answering /health meanwhile: its rate while idle is printed too) and in the importer
processes it starts (parsing and storing), and ``/health`` latency (p50, p99, max) over
5 s before the import and during it.
The machine's load average is printed too: figures taken on a busy machine are slower.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from benchmarks.api_load import children_cpu_seconds, cpu_seconds, load_average
from benchmarks.backfill import BenchmarkFailed, database, postgres_available
from tests.conftest import JWT_SECRET
from tests.processes import service

from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.settings import Settings

HEALTH_EVERY = 0.02
HEADER = (
    b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
    b"CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n<OFX>\n"
    b"<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
    b"<DTSERVER>20240105120000<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>\n"
    b"<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n"
    b"<STMTRS><CURDEF>EUR<BANKACCTFROM><BANKID>1<ACCTID>2<ACCTTYPE>CHECKING</BANKACCTFROM>\n"
    b"<BANKTRANLIST><DTSTART>20240101<DTEND>20241231\n"
)
FOOTER = (
    b"</BANKTRANLIST><LEDGERBAL><BALAMT>0<DTASOF>20241231</LEDGERBAL>\n"
    b"</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=50.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"# load average at start: {load_average()}")
    statement = ofx_statement(int(args.mib * 2**20))
    lines = statement.count(b"<STMTTRN>")
    print(f"# statement: {len(statement) / 2**20:.1f} MiB, {lines} transactions")
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("# postgresql: skipped (nothing listens on 127.0.0.1:5432)")
            continue
        try:
            benchmark(backend, statement, lines)
        except BenchmarkFailed as failure:
            sys.exit(f"statement import benchmark failed: {failure}")
    print(f"# load average at end: {load_average()}")


def ofx_statement(size: int) -> bytes:
    parts = [HEADER]
    total, n = len(HEADER) + len(FOOTER), 0
    while True:
        part = (
            b"<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>2024%02d%02d\n<TRNAMT>%d.%02d\n"
            b"<FITID>T%09d\n<NAME>CUSTOMER %d\n<MEMO>Payment INV-%07d\n</STMTTRN>\n"
            % (1 + n % 12, 1 + n % 28, n % 99_991, n % 100, n, n % 997, n)
        )
        if total + len(part) > size:  # at most ``size``: 50 MiB is the upload limit
            break
        parts.append(part)
        total += len(part)
        n += 1
    parts.append(FOOTER)
    return b"".join(parts)


def benchmark(backend: str, statement: bytes, lines: int) -> None:
    token = issue_development_token(
        Settings(jwt_secret=JWT_SECRET), org_id="org-bench", role=Role.admin, subject="bench"
    )
    headers = {"Authorization": f"Bearer {token}"}
    with (
        database(backend) as url,
        tempfile.TemporaryDirectory() as directory,
        service(url, "http://127.0.0.1:9", Path(directory)) as lb,
    ):
        # Warm up: DBOS starts its threads, and FastAPI prepares each route on its first
        # request (seconds on a busy machine), so that neither is counted below.
        small = httpx.post(
            f"{lb.url}/v1/statements",
            files={"file": ("small.ofx", ofx_statement(4096))},
            headers=headers,
            timeout=600,
        )
        if small.status_code != 201:
            raise BenchmarkFailed(f"{small.status_code}: {small.text[:500]}")
        _health_while(lb.url, lambda: time.sleep(3))
        assert lb.process is not None
        pid = lb.process.pid
        idle_cpu, idle_began = cpu_seconds(pid), time.monotonic()
        before = _health_while(lb.url, lambda: time.sleep(5))
        idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.monotonic() - idle_began)
        cpu, importers_cpu = cpu_seconds(pid), children_cpu_seconds(pid)
        answers: list[httpx.Response] = []

        def upload() -> None:
            answers.append(
                httpx.post(
                    f"{lb.url}/v1/statements",
                    files={"file": ("big.ofx", statement)},
                    headers=headers,
                    timeout=3600,
                )
            )

        began = time.monotonic()
        during = _health_while(lb.url, upload)
        took = time.monotonic() - began
        cpu = cpu_seconds(pid) - cpu
        importers_cpu = children_cpu_seconds(pid) - importers_cpu
        answer = answers[0]
        if answer.status_code != 201:
            raise BenchmarkFailed(f"{answer.status_code}: {answer.text[:500]}")
        stored = answer.json()["line_count"]
        if stored != lines:
            raise BenchmarkFailed(f"{stored} lines stored, {lines} in the file")
    print(
        f"{backend}: {len(statement) / 2**20:.1f} MiB OFX, {stored} lines imported in "
        f"{took:.1f} s; CPU seconds: {cpu:.1f} in the API process ({idle_rate:.2f}/s when "
        f"idle), {importers_cpu:.1f} in importer processes; /health before: "
        f"{_summary(before)}; during: {_summary(during)}"
    )


def _health_while(origin: str, work: Callable[[], None]) -> list[float]:
    """/health latencies (seconds) measured every 20 ms while ``work()`` runs."""
    done = threading.Event()
    latencies: list[float] = []

    def probe() -> None:
        with httpx.Client(base_url=origin, timeout=60) as client:
            while not done.is_set():
                sent = time.monotonic()
                answer = client.get("/health")
                latencies.append(time.monotonic() - sent)
                if answer.status_code != 200:
                    raise BenchmarkFailed(f"/health answered {answer.status_code}")
                time.sleep(HEALTH_EVERY)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        work()
    finally:
        done.set()
        prober.join(timeout=120)
    return latencies


def _summary(latencies: list[float]) -> str:
    if len(latencies) < 2:
        return "too few answers"
    ms = sorted(1000 * x for x in latencies)
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98]
    return (
        f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms (n={len(ms)})"
    )


if __name__ == "__main__":
    main()
