"""``ledgerbridge demo``: a provider sandbox and the service, connected and synced, in one command.

The demo drives the service only through its public HTTP API, exactly as a host app
would: it connects one sandbox account per provider through the real OAuth flow
(approving the consent page as a browser would), triggers the first syncs, follows them
with progress bars, counts the mirrored records, reconciles one connection's payments
against its invoices and bills, then keeps serving until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledgerbridge import runtime
from ledgerbridge.app import create_app
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.observability.logging import configure_logging
from ledgerbridge.sandbox.app import create_app as create_sandbox_app
from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.sandbox.serve import serving
from ledgerbridge.sandbox.settings import SandboxSettings
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.services import Services
from ledgerbridge.settings import Environment, UnsafeConfiguration, load_settings
from ledgerbridge.unified import Model

PROVIDERS = ("xero", "quickbooks", "lightspeed")
TENANT = "demo"
SANDBOX_SEED = 1
POLL_SECONDS = 0.25
FINISHED = ("succeeded", "failed")


class DemoError(Exception):
    """The demo cannot go on; the message says what to do about it."""


@dataclass
class Connection:
    provider: str
    id: str
    account_name: str
    sync_run_id: str = ""
    object_types: int = 0
    done_types: int = 0
    fetched: int = 0
    status: str = "queued"
    error: str | None = None


def run(*, host: str, port: int, sandbox_port: int, size: int, data_dir: Path) -> None:
    """Start everything, connect, sync, print the summary, and serve until Ctrl-C."""
    console = Console()
    # Ctrl-C and SIGTERM stop the demo cleanly: every server and worker shuts down in order.
    # (SIGINT is set too because a shell starts background jobs with it ignored.)
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.default_int_handler)
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            svc, origin, sandbox_origin = _start(
                stack, console, host, port, sandbox_port, size, data_dir
            )
            token = issue_development_token(svc.settings, org_id=TENANT, role=Role.admin)
            with httpx.Client(
                base_url=origin, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as api:
                connections = [
                    _connect(api, sandbox_origin, provider, console) for provider in PROVIDERS
                ]
                # Only now, with fresh tokens for this sandbox: a sync left over from an
                # earlier demo, or one due on schedule, would fail with the stale ones.
                _launch_workers(stack, svc, console)
                _sync(api, connections, console)
                counts = {c.provider: _count_records(api, c.id) for c in connections}
                reconciled = _reconcile(api, connections[0], console)
            _print_summary(
                console, origin, token, connections, counts, reconciled, time.monotonic() - started
            )
            _wait_for_ctrl_c()
    except KeyboardInterrupt:
        console.print("\nstopped")
    except DemoError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None


def _start(
    stack: ExitStack,
    console: Console,
    host: str,
    port: int,
    sandbox_port: int,
    size: int,
    data_dir: Path,
) -> tuple[Services, str, str]:
    """Serve the API, then a freshly seeded sandbox; returns the services and both origins."""
    configure_logging("WARNING")
    shown = _browsable(host)
    origin, sandbox_origin = f"http://{shown}:{port}", f"http://{shown}:{sandbox_port}"
    try:
        settings = load_settings(
            env=Environment.development,
            database_url=None,  # always the embedded SQLite of the demo's own data dir
            data_dir=data_dir,
            sandbox_url=sandbox_origin,
            public_url=origin,  # where the providers send the browser back
            log_level="WARNING",
        )
    except UnsafeConfiguration as exc:
        raise DemoError(str(exc)) from None
    with console.status("preparing the database"):
        upgrade(settings.resolved_database_url)
    svc = Services.build(settings)
    stack.callback(lambda: asyncio.run(svc.close()))
    _serve(stack, create_app(svc=svc), host, port, "--port")
    with console.status(f"seeding the sandbox ({size} records per object type)"):
        sandbox = create_sandbox_app(SandboxSettings(), seed=SANDBOX_SEED, size=size)
    _serve(stack, sandbox, host, sandbox_port, "--sandbox-port")
    return svc, origin, sandbox_origin


def _launch_workers(stack: ExitStack, svc: Services, console: Console) -> None:
    """The DBOS workers and schedules, stopped before the servers they call."""

    def stop() -> None:
        # A step still running when DBOS stops fails to record its result; DBOS resumes
        # that workflow at the next start, so the error it logs on the way out only alarms.
        logging.getLogger("dbos").setLevel(logging.CRITICAL)
        runtime.shutdown()

    with console.status("starting the workers"):
        runtime.launch(svc)
    stack.callback(stop)


def _serve(stack: ExitStack, app: Any, host: str, port: int, option: str) -> None:
    try:
        stack.enter_context(serving(app, host, port))
    except OSError as exc:
        raise DemoError(
            f"cannot listen on {host}:{port} ({exc.strerror}): pass {option} with a free port"
        ) from None


def _browsable(host: str) -> str:
    """The address to show and to call: a wildcard interface is reached over loopback."""
    return "127.0.0.1" if host == "0.0.0.0" else host  # noqa: S104


def _connect(api: httpx.Client, sandbox_origin: str, provider: str, console: Console) -> Connection:
    """The real OAuth flow: authorize, approve the consent page, follow the callback."""
    accounts = httpx.get(f"{sandbox_origin}/_sandbox/accounts").json()
    account = next((a for a in accounts if a["provider"] == provider), None)
    if account is None:
        raise DemoError(
            f"the sandbox seeded no {provider} account: unset LEDGERBRIDGE_SANDBOX_* settings"
        )
    started = _call(api, "POST", f"/v1/connections/{provider}/authorize", json={})
    # The browser: opens the start link (which sets the cookie binding the flow to it),
    # approves the consent page, and follows the provider back to the callback.
    with httpx.Client(timeout=60) as browser:
        opened = browser.get(started["authorize_url"])
        if opened.status_code != 302:
            raise DemoError(f"opening the {provider} connect link failed: {opened.text}")
        callback = approve_consent(opened.headers["location"], [account["account_id"]])
        answer = browser.get(callback)
    if answer.status_code != 200:
        raise DemoError(f"connecting {provider} failed ({answer.status_code}): {answer.text}")
    connected = answer.json()["connections"][0]
    console.print(f"connected {provider}: {connected['external_account_name']}")
    return Connection(provider, connected["id"], connected["external_account_name"])


def _sync(api: httpx.Client, connections: list[Connection], console: Console) -> None:
    """Trigger every connection's first sync and follow them until each one has finished."""
    for connection in connections:
        accepted = _call(api, "POST", f"/v1/connections/{connection.id}/syncs", json={})
        connection.sync_run_id = accepted["sync_run_id"]
        run = _call(api, "GET", f"/v1/sync-runs/{connection.sync_run_id}")
        connection.object_types = len(run["object_types"])
    columns = (
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("object types"),
        TextColumn("{task.fields[fetched]:>7,} records fetched"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        tasks = {
            c.provider: progress.add_task(c.provider, total=c.object_types, fetched=0)
            for c in connections
        }
        while any(c.status not in FINISHED for c in connections):
            for connection in connections:
                if connection.status not in FINISHED:
                    _follow(api, connection)
                progress.update(
                    tasks[connection.provider],
                    completed=connection.done_types,
                    fetched=connection.fetched,
                )
            time.sleep(POLL_SECONDS)
    for connection in connections:
        if connection.error:
            console.print(
                f"[yellow]{connection.provider} sync failed: {connection.error}\n"
                f"  details per object type: GET /v1/connections/{connection.id}/sync-status; "
                f"retry with POST /v1/connections/{connection.id}/syncs[/yellow]",
                highlight=False,
            )


def _follow(api: httpx.Client, connection: Connection) -> None:
    run = _call(api, "GET", f"/v1/sync-runs/{connection.sync_run_id}")
    status = _call(api, "GET", f"/v1/connections/{connection.id}/sync-status")
    ours = [s for s in status["object_types"] if s["sync_run_id"] == connection.sync_run_id]
    connection.done_types = sum(s["status"] in FINISHED for s in ours)
    connection.fetched = sum(s["counts"]["fetched"] for s in ours)
    connection.status, connection.error = run["status"], run["error"]
    if connection.status in FINISHED:
        connection.done_types = connection.object_types


def _count_records(api: httpx.Client, connection_id: str) -> dict[str, int]:
    """Records per unified model, counted through the records API."""
    counts: dict[str, int] = {}
    for model in Model:
        cursor: str | None = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = _call(
                api, "GET", f"/v1/connections/{connection_id}/records/{model}", params=params
            )
            counts[model] = counts.get(model, 0) + len(page["data"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    return counts


def _reconcile(api: httpx.Client, connection: Connection, console: Console) -> dict[str, Any]:
    """Reconcile the connection's payments against its invoices and bills; the finished run."""
    source = {"type": "records", "connection_id": connection.id}
    job = _call(
        api,
        "POST",
        "/v1/reconciliation/jobs",
        json={
            "name": f"{connection.provider} payments vs invoices and bills",
            "left": {**source, "kinds": ["payments"]},
            "right": {**source, "kinds": ["invoices", "bills"]},
        },
    )
    run_id = _call(api, "POST", f"/v1/reconciliation/jobs/{job['id']}/runs")["run_id"]
    with console.status(f"reconciling {connection.provider} payments against invoices and bills"):
        while True:
            run: dict[str, Any] = _call(api, "GET", f"/v1/reconciliation/runs/{run_id}")
            if run["status"] in FINISHED:
                return run
            time.sleep(POLL_SECONDS)


def _call(api: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    answer = api.request(method, path, **kwargs)
    if answer.is_error:
        raise DemoError(f"{method} {path} answered {answer.status_code}: {answer.text}")
    return answer.json()


def _print_summary(
    console: Console,
    origin: str,
    token: str,
    connections: list[Connection],
    counts: dict[str, dict[str, int]],
    reconciled: dict[str, Any],
    seconds: float,
) -> None:
    table = Table("records", *(c.provider for c in connections), title="Mirrored records")
    models = [m for m in next(iter(counts.values())) if any(n[m] for n in counts.values())]
    for model in models:
        table.add_row(model, *(_amount(counts[c.provider][model]) for c in connections))
    table.add_row(
        "total", *(f"{sum(counts[c.provider].values()):,}" for c in connections), style="bold"
    )
    console.print(table)
    invoices = f"{origin}/v1/connections/{connections[0].id}/records/invoice?limit=2"
    lines = [
        f"[bold]ledgerbridge demo is ready in {seconds:.1f} s[/bold]",
        f"  API docs:     {origin}/docs",
        f"  OpenAPI:      {origin}/openapi.json",
        "  connections:  "
        + ", ".join(f"{c.provider} {c.id} ({c.account_name})" for c in connections),
        f"  try it (an admin token for the tenant {TENANT!r}, valid 12 hours):",
        f"    export TOKEN={token}",
        f"    curl -s -H \"Authorization: Bearer $TOKEN\" '{invoices}'",
        f"  reconciled {connections[0].provider} payments against invoices and bills: "
        + _reconciliation_summary(reconciled),
        f'    curl -s -H "Authorization: Bearer $TOKEN" '
        f"'{origin}/v1/reconciliation/runs/{reconciled['id']}/matches?limit=2'",
        "Ctrl-C to stop",
    ]
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)


def _reconciliation_summary(run: dict[str, Any]) -> str:
    if run["status"] != "succeeded":
        return f"failed: {run['error']}"
    counts = run["counts"]
    return (
        f"{counts['auto_matched']} matched, {counts['suggested']} to review, "
        f"{counts['discrepancies']} discrepancies, "
        f"{counts['unmatched_left']} payments and {counts['unmatched_right']} documents unmatched"
    )


def _amount(records: int) -> str:
    return f"{records:,}" if records else "-"


def _wait_for_ctrl_c() -> None:
    while True:
        time.sleep(3600)
