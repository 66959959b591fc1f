"""The ``ledgerbridge`` command line."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, NoReturn

import structlog
import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from ledgerbridge.children import exec_as_helper
from ledgerbridge.db.engine import Database
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.observability.logging import configure_logging
from ledgerbridge.security import apikeys as apikey_service
from ledgerbridge.security.roles import Role, Scope
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.services import Services
from ledgerbridge.settings import (
    Environment,
    Settings,
    UnsafeConfiguration,
    load_settings,
    new_encryption_key,
)

app = typer.Typer(help="ledgerbridge: an integration hub for Xero, QuickBooks and Lightspeed.")
apikeys = typer.Typer(help="Create, list and revoke API keys.")
keys = typer.Typer(help="Token-encryption keys.")
app.add_typer(apikeys, name="apikeys")
app.add_typer(keys, name="keys")
log = structlog.get_logger(__name__)
out = Console()
SWITCH_INTERVAL_SECONDS = 0.001
WORKER_NICENESS = 5
WORKER_STOP_SECONDS = 60
err = Console(stderr=True)

Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]
Dev = Annotated[
    bool,
    typer.Option(
        "--dev", help="Run as development (LEDGERBRIDGE_ENV=development), e.g. on PostgreSQL."
    ),
]


def _settings(dev: bool = False) -> Settings:
    configure_logging()
    overrides: dict[str, Environment] = {}
    if dev:
        if os.environ.get("LEDGERBRIDGE_ENV", "").strip().lower() == "production":
            _refuse("refusing to start: --dev contradicts LEDGERBRIDGE_ENV=production")
        overrides["env"] = Environment.development
    try:
        settings = load_settings(**overrides)
    except UnsafeConfiguration as exc:
        _refuse(str(exc))
    configure_logging(settings.log_level)
    return settings


def _refuse(message: str) -> NoReturn:
    err.print(f"[red]{message}[/red]", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _start(settings: Settings) -> Services:
    """The services of a process that serves or works, once the database passes its checks."""
    from ledgerbridge.preflight import start_problems

    svc = Services.build(settings)
    problems = start_problems(svc)
    if problems and settings.is_production:
        svc.db.dispose()
        _refuse("refusing to start in production:\n" + "\n".join(f"  - {p}" for p in problems))
    for problem in problems:
        log.warning(problem)
    return svc


def _serve(svc: Services, host: str, port: int) -> None:
    from ledgerbridge.app import create_app

    app = create_app(svc=svc)
    # Whatever start-up made lives as long as the process: kept out of the collector's
    # full passes, which walk every tracked object holding the interpreter lock (a
    # second on a busy machine, while a large import allocates) and so stall the event
    # loop and /health with it.
    gc.collect()
    gc.freeze()
    # Worker threads (routes, imports, durable steps) keep the interpreter lock busy; the
    # event loop, /health included, waits up to this long each time it needs it back
    # (5 ms by default, several times per request).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    # Admission control happens inside the app (overload.py), which queues
    # and sheds in the one error shape; uvicorn's own limit is only a last guard against
    # connections piling up beyond what that queue would ever hold.
    settings = svc.settings
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        backlog=2048,
        limit_concurrency=settings.request_concurrency + settings.api_queue_limit + 64,
        timeout_keep_alive=65,  # longer than a load balancer's idle timeout
    )


@app.command()
def up(host: Host = "127.0.0.1", port: Port = 8000, dev: Dev = False) -> None:
    """API, workers and schedules in one command, on the embedded default."""
    from ledgerbridge import runtime

    settings = _settings(dev)
    if settings.is_sqlite:
        upgrade(settings.resolved_database_url)
    runtime.migrate_durable(settings)  # before the worker has started, work may be queued
    svc = _start(settings)
    with _worker_beside(dev):
        _announce(settings, host, port)
        _serve(svc, host, port)


@contextmanager
def _worker_beside(dev: bool) -> Iterator[None]:
    """``ledgerbridge worker`` in a process of its own, at a lower CPU priority, for as long
    as this one serves. In this process its durable work (a backfill parsing and storing
    thousands of records) would hold the interpreter lock the API's event loop needs, so
    every answer, /health included, would wait for it; and the operating system runs the
    API first when both want the CPU. It dies with this process, however this one ends,
    and this one ends when it does (for whatever restarts ``up`` to start both again)."""
    command = [sys.executable, "-m", "ledgerbridge", "worker", *(["--dev"] if dev else [])]
    worker = subprocess.Popen(command, preexec_fn=partial(exec_as_helper, WORKER_NICENESS))
    stopping = threading.Event()

    def watch() -> None:
        code = worker.wait()
        if not stopping.is_set():
            log.error("the worker process ended: stopping", exit_code=code)
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="worker-watch", daemon=True).start()
    try:
        yield
    finally:
        stopping.set()
        worker.terminate()
        try:
            worker.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _announce(settings: Settings, host: str, port: int) -> None:
    out.print(f"ledgerbridge listening on [bold]http://{host}:{port}[/bold]")
    if settings.docs_enabled:
        out.print(f"  API docs:       http://{host}:{port}/docs")
    out.print(f"  data directory: {settings.data_dir.resolve()}")
    out.print(f"  database:       {_redacted_url(settings.resolved_database_url)}")
    out.print("  get a token:    ledgerbridge dev-token --org my-org --role admin")


@app.command()
def api(host: Host = "127.0.0.1", port: Port = 8000, dev: Dev = False) -> None:
    """Only the HTTP API (run several behind a load balancer in production)."""
    _serve(_start(_settings(dev)), host, port)


@app.command()
def worker(dev: Dev = False) -> None:
    """Only the durable workers and schedules (run several in production)."""
    from ledgerbridge import runtime

    runtime.launch(_start(_settings(dev)))
    out.print("ledgerbridge worker running; Ctrl-C to stop")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    runtime.shutdown()


@app.command()
def sandbox(
    host: Host = "127.0.0.1",
    port: Port = 8900,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 1,
    size: Annotated[int, typer.Option(min=0, help="Records per object type per account.")] = 200,
    providers: Annotated[
        str | None,
        typer.Option(help="Seed only these, comma-separated (e.g. xero,quickbooks); default all."),
    ] = None,
) -> None:
    """Serve the Xero, QuickBooks and Lightspeed emulators for offline development."""
    from ledgerbridge.sandbox.routing import PROVIDERS
    from ledgerbridge.sandbox.serve import run

    chosen = None if providers is None else [p.strip() for p in providers.split(",") if p.strip()]
    unknown = sorted(set(chosen or ()) - set(PROVIDERS))
    if unknown:
        raise typer.BadParameter(
            f"unknown {', '.join(unknown)}; choose from {', '.join(PROVIDERS)}",
            param_hint="--providers",
        )
    configure_logging()
    run(host, port, seed, size, chosen)


@app.command()
def demo(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    sandbox_port: Annotated[int, typer.Option(help="Port of the provider sandbox.")] = 8900,
    size: Annotated[int, typer.Option(min=1, help="Records per object type per account.")] = 200,
    data_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its database and secrets.")
    ] = Path(".ledgerbridge-demo"),
) -> None:
    """A sandbox and the service, one account per provider connected and synced: try the API."""
    from ledgerbridge.demo import run

    run(host=host, port=port, sandbox_port=sandbox_port, size=size, data_dir=data_dir)


@app.command()
def migrate(dev: Dev = False) -> None:
    """Apply the database migrations (ours and the durable-execution runtime's)."""
    from ledgerbridge import runtime

    settings = _settings(dev)
    runtime.migrate(settings)
    out.print(f"database is up to date: {_redacted_url(settings.resolved_database_url)}")


@app.command("dev-token")
def dev_token(
    org: Annotated[str, typer.Option(help="Tenant (the host app's organisation id).")],
    role: Annotated[Role, typer.Option(help="Role of the token.")] = Role.admin,
    sub: Annotated[str, typer.Option(help="User id.")] = "developer",
    hours: Annotated[int, typer.Option(min=1, max=24 * 30)] = 12,
) -> None:
    """Print a JWT signed with the development secret it generated (refused in production)."""
    settings = _settings()
    if hours * 3600 > settings.jwt_max_age:
        _refuse(
            f"--hours {hours} is longer than LEDGERBRIDGE_JWT_MAX_AGE ({settings.jwt_max_age} s): "
            "the API would refuse the token; ask for fewer hours"
        )
    if settings.is_production:
        _refuse("dev-token is refused in production: tokens come from your host app")
    if not settings.generated("jwt_secret"):
        _refuse(
            "dev-token signs only with a development secret it generated itself, and "
            "LEDGERBRIDGE_JWT_SECRET (or LEDGERBRIDGE_JWT_JWKS_URL) is set: tokens come from "
            "your host app"
        )
    typer.echo(issue_development_token(settings, org_id=org, role=role, subject=sub, hours=hours))


@apikeys.command("create")
def apikeys_create(
    org: Annotated[str, typer.Option(help="Tenant the key belongs to.")],
    role: Annotated[Role, typer.Option()] = Role.developer,
    scope: Annotated[list[Scope] | None, typer.Option(help="Repeat to allow several.")] = None,
    name: Annotated[str, typer.Option()] = "cli",
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="The key stops working after this.")
    ] = None,
) -> None:
    """Create an API key and print it once."""
    from datetime import UTC, datetime, timedelta

    settings = _settings()
    db = Database.connect(settings)
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    with db.system() as session:
        created = apikey_service.create(
            session,
            secret_key=_secret_key(settings),
            tenant_id=org,
            name=name,
            role=role,
            scopes=scope or [],
            created_by="cli",
            expires_at=expires_at,
        )
        key_id = created.row.id
    err.print(f"API key {key_id} created; it is shown once, store it now:")
    typer.echo(created.key)


@apikeys.command("list")
def apikeys_list(
    org: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    include_revoked: bool = False,
) -> None:
    """List API keys (never their secrets)."""
    settings = _settings()
    db = Database.connect(settings)
    with db.system() as session:
        rows = apikey_service.list_keys(session, include_revoked=include_revoked)
        table = Table(
            "id", "tenant", "name", "prefix", "role", "scopes", "last used", "expires", "revoked"
        )
        for row in rows:
            if org and row.tenant_id != org:
                continue
            table.add_row(
                str(row.id),
                row.tenant_id,
                row.name,
                row.prefix,
                row.role,
                ",".join(row.scopes) or "*",
                str(row.last_used_at or "-"),
                str(row.expires_at or "-"),
                str(row.revoked_at or "-"),
            )
    (out if out.is_terminal else Console(width=200)).print(table)  # piped: never truncated


@apikeys.command("revoke")
def apikeys_revoke(key_id: int) -> None:
    """Revoke an API key."""
    db = Database.connect(_settings())
    with db.system() as session:
        if apikey_service.revoke(session, key_id) is None:
            err.print(f"[red]no API key {key_id}[/red]")
            raise typer.Exit(1)
    out.print(f"API key {key_id} revoked")


@keys.command("generate")
def keys_generate() -> None:
    """Print a new base64 AES-256 key for LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS."""
    typer.echo(new_encryption_key())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored token under the first key of LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS.

    Safe while the service runs, and resumable: run it again after an interruption.
    """
    from rich.progress import Progress

    from ledgerbridge.connections import rotation
    from ledgerbridge.security.vault import Vault, VaultError
    from ledgerbridge.webhooks import keys as webhook_keys

    settings = _settings()
    vault = Vault.from_keys([k.get_secret_value() for k in settings.token_encryption_keys])
    db = Database.connect(settings)
    total = rotation.pending(db, vault) + webhook_keys.pending(db, vault)
    try:
        with Progress(console=err) as progress:
            task = progress.add_task(f"re-encrypting under key {vault.active_id}", total=total)
            done = rotation.rotate(db, vault, lambda n: progress.advance(task, n))
            done += webhook_keys.rotate(db, vault, lambda n: progress.advance(task, n))
    except VaultError as exc:
        err.print(
            f"[red]{exc}: keep every key still in use in LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS "
            "(new key first) and run it again[/red]"
        )
        raise typer.Exit(1) from None
    out.print(f"{done} rows re-encrypted; every secret is now under key {vault.active_id}")
    left = rotation.pending(db, vault) + webhook_keys.pending(db, vault)
    if left:
        err.print(f"[yellow]{left} rows changed meanwhile: run it again[/yellow]")
        raise typer.Exit(1)


def _secret_key(settings: Settings) -> str:
    assert settings.secret_key is not None
    return settings.secret_key.get_secret_value()


def _redacted_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
