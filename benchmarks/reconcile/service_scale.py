"""The reconciliation service end to end at scale: imports, a run, results, on each backend.

    python -m benchmarks.reconcile.service_scale [--items 100000] [--backends sqlite,postgresql]

The generated payments and invoices (``generate.py``) are written out as two CSV
statements, imported through ``POST /v1/statements``, reconciled by a job whose run
executes exactly what the DBOS workflow executes (``runs.execute``: read both sides,
match, store every item, match and discrepancy in one transaction), then read back
through the API (the run's counts and totals, and the CSV export of its matches).
Prints the time of each step and the process's peak memory. Invoices travel without
their due dates (a statement has none), so the figures are the service's, not the
engine's accuracy: see ``accuracy.py`` for that.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.reconcile.generate import generate, job_config
from fastapi.testclient import TestClient
from tests.support import postgres_available, postgres_database

from ledgerbridge import runtime
from ledgerbridge.app import create_app
from ledgerbridge.reconcile import runs
from ledgerbridge.reconcile.matching import Item
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.services import Services
from ledgerbridge.settings import load_settings, new_encryption_key

MAPPING = {
    "id_column": "id",
    "date_column": "date",
    "amount_column": "amount",
    "currency_column": "currency",
    "reference_column": "reference",
    "counterparty_column": "counterparty",
    "description_columns": ["text"],
}


def as_csv(items: list[Item]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "date", "amount", "currency", "reference", "counterparty", "text"])
    for item in items:
        writer.writerow(
            [
                item.id,
                item.date.isoformat(),
                item.amount,
                item.currency,
                item.reference or "",
                item.counterparty or "",
                item.text,
            ]
        )
    return out.getvalue().encode()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    """User and system time of this process (the database server's is not counted)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'ledgerbridge.db'}"
        return
    if not postgres_available():
        raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres_database() as url:
        yield url


def measure(backend: str, left: bytes, right: bytes, config: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp)) as url:
        settings = load_settings(
            env="development",
            database_url=url,
            data_dir=Path(tmp) / "data",
            jwt_secret="bench-" + "x" * 40,
            secret_key="k" * 48,
            token_encryption_keys=new_encryption_key(),
            log_level="warning",
        )
        runtime.migrate(settings)
        svc = Services.build(settings)
        token = issue_development_token(settings, org_id="bench", role=Role.admin, subject="b")
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(svc=svc)) as client:
            cpu_before = cpu_seconds()
            total_started = time.perf_counter()
            started = time.perf_counter()
            ids = []
            for name, content in (("payments.csv", left), ("invoices.csv", right)):
                answer = client.post(
                    "/v1/statements",
                    files={"file": (name, content)},
                    data={"mapping": json.dumps(MAPPING)},
                    headers=headers,
                )
                assert answer.status_code == 201, answer.text
                ids.append(answer.json()["id"])
            imported = time.perf_counter() - started
            job = client.post(
                "/v1/reconciliation/jobs",
                json={
                    "name": "scale",
                    "left": {"type": "statement", "statement_id": ids[0]},
                    "right": {"type": "statement", "statement_id": ids[1]},
                    "config": config,
                },
                headers=headers,
            ).json()
            run_id = client.post(
                f"/v1/reconciliation/jobs/{job['id']}/runs", headers=headers
            ).json()["run_id"]
            started = time.perf_counter()
            runs.execute(svc, int(run_id))
            ran = time.perf_counter() - started
            started = time.perf_counter()
            run = client.get(f"/v1/reconciliation/runs/{run_id}", headers=headers).json()
            summary = time.perf_counter() - started
            started = time.perf_counter()
            export = client.get(
                f"/v1/reconciliation/runs/{run_id}/matches",
                params={"format": "csv"},
                headers=headers,
            )
            exported = time.perf_counter() - started
            total = time.perf_counter() - total_started
            cpu = cpu_seconds() - cpu_before
        svc.db.dispose()
        counts = run["counts"]
        print(f"{backend}:")
        print(f"  import both statements:   {imported:7.1f} s")
        print(
            f"  run (read, match, store): {ran:7.1f} s  ({run['candidate_pairs']} candidate pairs)"
        )
        print(f"  run summary (GET):        {summary:7.2f} s")
        print(
            f"  matches CSV export:       {exported:7.1f} s  "
            f"({len(export.content) / 2**20:.0f} MiB)"
        )
        print(
            f"  results: {counts['auto_matched']} auto-matched, {counts['suggested']} suggested, "
            f"{counts['discrepancies']} discrepancies, unmatched "
            f"{counts['unmatched_left']} + {counts['unmatched_right']}"
        )
        print(f"  end to end:               {total:7.1f} s elapsed, {cpu:.1f} s of CPU here")
        print(f"  peak memory so far:       {peak_rss_mib():7.0f} MiB resident", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    data = generate(args.items, args.seed)
    left, right = data.left[: args.items], data.right[: args.items]
    print(f"{len(left)} payments vs {len(right)} invoices, through the API")
    config = job_config().model_dump(mode="json")
    for backend in args.backends.split(","):
        measure(backend, as_csv(left), as_csv(right), config)


if __name__ == "__main__":
    main()
