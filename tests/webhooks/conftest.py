"""Webhook tests: ledgerbridge in-process on both databases, a receiver on 127.0.0.1, and
a guard that lets no connection leave the loopback range."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledgerbridge.app import create_app
from ledgerbridge.services import DBOS_SCHEMA, Services
from ledgerbridge.settings import Settings
from ledgerbridge.webhooks import delivery, dispatch
from ledgerbridge.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.conftest import make_settings
from tests.webhooks.receiver import Receiver, receiving

SCHEDULE = "0,1,1,1"  # four attempts, the waits skipped by the tests that drive them


class ForeignConnection(AssertionError):
    pass


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a socket of this process tries to connect to; anything outside the
    loopback range is stopped before a packet is sent (and fails the test)."""
    attempted: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        attempted.append(str(host))
        if isinstance(address, tuple) and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise ForeignConnection(f"a connection to {host} was attempted")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return attempted


Resolver = Callable[[dict[str, list[str]]], None]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    """``resolver({"hooks.example": ["10.0.0.1"]})``: what those names resolve to (a stub
    of the system resolver: address literals and other names resolve as usual)."""
    real = socket.getaddrinfo
    names: dict[str, list[str]] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in names:
            port = int(port or 0)
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port, 0, 0) if ":" in a else (a, port),
                )
                for a in names[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def set_names(mapping: dict[str, list[str]]) -> None:
        names.clear()
        names.update(mapping)

    return set_names


@pytest.fixture
def lb_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        webhook_allow_private_networks=True,
        webhook_retry_schedule=SCHEDULE,
        webhook_timeout_seconds=5,
    )


@pytest.fixture
def svc(lb_settings: Settings) -> Iterator[Services]:
    # DBOS's tables, so deliveries really are enqueued (no worker runs them here: the
    # tests drive each attempt with ``attempt``, exactly the workflow's two steps).
    DBOS.migrate(lb_settings.dbos_system_database_url, schema=DBOS_SCHEMA)
    services = Services.build(lb_settings)
    yield services
    if services._dbos_client is not None:
        services._dbos_client.destroy()
    services.db.dispose()


@pytest.fixture
def lb(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as running:
        yield running


Attempt = Callable[[int | str], float | None]


@pytest.fixture
def attempt(svc: Services) -> Attempt:
    """Run the delivery's next attempt (the workflow's send and record steps)."""

    def run(delivery_id: int | str) -> float | None:
        with svc.db.system(read_only=True) as session:
            found = session.get(WebhookDelivery, int(delivery_id))
            assert found is not None
            replay, number = found.replay, found.attempts
        outcome = delivery.send(svc, int(delivery_id), replay, number)
        return delivery.record(svc, int(delivery_id), replay, number, outcome)

    return run


def pending(svc: Services) -> list[int]:
    with svc.db.system(read_only=True) as session:
        return list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == DeliveryStatus.pending.value)
                .order_by(WebhookDelivery.id)
            )
        )


def dispatch_once(svc: Services) -> int:
    created = dispatch.dispatch_all(svc)
    dispatch.enqueue_waiting(svc)
    return created
