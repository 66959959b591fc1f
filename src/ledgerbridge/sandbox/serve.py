"""Serving the sandbox: in the foreground (``ledgerbridge sandbox``) or in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from ledgerbridge.sandbox.app import create_app
from ledgerbridge.sandbox.settings import SandboxSettings


def run(host: str, port: int, seed: int, size: int, providers: list[str] | None = None) -> None:
    """Seed a sandbox, print the settings that point ledgerbridge at it, and serve it.

    ``providers`` seeds only those (None: as the settings say, by default all)."""
    settings = SandboxSettings()
    if providers is not None:
        settings.seed_providers = providers
    app = create_app(settings, seed=seed, size=size)
    timings = app.state.sandbox.seed_seconds
    seeded = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    shown_host = f"[{host}]" if ":" in host else host
    origin = f"http://{shown_host}:{port}"
    print(f"# ledgerbridge sandbox: seed {seed}, size {size}; seeded {seeded}")
    print("# Point ledgerbridge at it (it then uses the sandbox's default OAuth client):")
    print(f"LEDGERBRIDGE_SANDBOX_URL={origin}")
    print(f"# OAuth client: {settings.client_id} / {settings.client_secret} (loopback redirects)")
    print(f"# Control API: {origin}/_sandbox/providers, docs at {origin}/_sandbox/docs", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a background thread for the duration; yields its origin.

    ``port=0`` takes a free port. Used by the test suite and the benchmarks.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        server.force_exit = True  # do not wait for idle keep-alive connections
        thread.join(timeout=10)
        sock.close()
