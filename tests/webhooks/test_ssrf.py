"""The SSRF guard: receivers on loopback, private, link-local (cloud metadata), multicast
or unspecified addresses are refused at registration and at every attempt, before any
connection is opened; a redirect is never followed.

No packet leaves the loopback range: names resolve through a stub (``resolver``), and the
``connections`` guard records every connect and stops any to a non-loopback address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.services import Services
from ledgerbridge.webhooks import delivery, ssrf
from tests.conftest import make_settings
from tests.webhooks.conftest import Attempt, Resolver
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_endpoints import create

REFUSED = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.1",
    "192.168.0.1",
    "192.168.99.5",
    "169.254.169.254",
    "169.254.0.1",
    "::1",
    "fe80::1",
    "fc00::1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "0.0.0.0",  # noqa: S104 - refused, never bound
    "::",
    "224.0.0.1",
    "ff02::1",
    "100.64.0.1",
    "240.0.0.1",
]
# Refused even with LEDGERBRIDGE_WEBHOOK_ALLOW_PRIVATE_NETWORKS.
NEVER = [
    "169.254.169.254",
    "169.254.0.1",
    "fe80::1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "0.0.0.0",  # noqa: S104 - refused, never bound
    "::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
]


def literal(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.fixture
def strict(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Services]]:
    """The service as in production: private networks not allowed."""
    settings = make_settings(database_url, tmp_path / "strict")
    assert settings.webhook_allow_private_networks is False
    svc = Services.build(settings)
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        yield client, svc
    svc.db.dispose()


@pytest.mark.parametrize("address", REFUSED)
def test_each_forbidden_address_is_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert ssrf.refusal(ip, allow_private=False) is not None
    allowed = ssrf.refusal(ip, allow_private=True) is None
    assert allowed == (address not in NEVER)


def test_public_addresses_pass_and_production_wants_https() -> None:
    assert ssrf.refusal(ipaddress.ip_address("93.184.216.34"), allow_private=False) is None
    assert ssrf.refusal(ipaddress.ip_address("2606:4700::1111"), allow_private=False) is None
    with pytest.raises(ssrf.UnsafeUrl, match="https"):
        ssrf.parse("http://hooks.example.com/x", production=True)
    assert ssrf.parse("https://hooks.example.com/x", production=True).hostname
    with pytest.raises(ssrf.UnsafeUrl, match="credentials"):
        ssrf.parse("https://a:b@hooks.example.com/x", production=True)


@pytest.mark.parametrize("address", REFUSED)
def test_registration_refuses_the_address_and_names_resolving_to_it(
    strict: tuple[TestClient, Services],
    auth: Any,
    tenant: str,
    resolver: Resolver,
    connections: list[str],
    address: str,
) -> None:
    client, _ = strict
    resolver({"hooks.example.com": [address], "mixed.example.com": ["93.184.216.34", address]})
    for url in (
        f"http://{literal(address)}:8080/hook",
        "http://hooks.example.com/hook",
        "https://mixed.example.com/hook",  # one bad address among good ones is enough
    ):
        answer = client.post("/v1/webhook-endpoints", json={"url": url}, headers=auth(tenant))
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["error"] == "unsafe_url"
        assert address not in answer.json()["message"]  # never says where a name points
    assert connections == []  # refused before any connection was opened


def test_allowing_private_networks_never_allows_link_local(
    lb: TestClient, auth: Any, tenant: str, resolver: Resolver, connections: list[str]
) -> None:
    resolver({"metadata.internal": ["169.254.169.254"], "v6.internal": ["fe80::1"]})
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.internal/",
        "http://[fe80::1]/",
        "http://v6.internal/",
    ):
        answer = lb.post("/v1/webhook-endpoints", json={"url": url}, headers=auth(tenant))
        assert answer.status_code == 422, (url, answer.text)
    assert connections == []


def test_a_name_that_changes_to_a_forbidden_address_is_refused_at_delivery(
    lb: TestClient,
    svc: Services,
    auth: Any,
    tenant: str,
    receiver: Receiver,
    resolver: Resolver,
    connections: list[str],
    attempt: Attempt,
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    resolver({"hooks.example.com": ["127.0.0.1"]})
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"http://hooks.example.com:{port}/h")
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    assert attempt(sent["id"]) is None  # delivered to the address the name had then
    assert receiver.received[-1].headers["host"] == f"hooks.example.com:{port}"
    for rebound in ("169.254.169.254", "fe80::1"):
        resolver({"hooks.example.com": [rebound]})
        before = list(connections)
        again = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
        assert attempt(again["id"]) is not None  # refused: retried later
        assert connections == before  # refused before any connection was opened
        log = lb.get(f"/v1/webhook-deliveries/{again['id']}", headers=admin).json()
        [tried] = log["attempts"]
        assert tried["status_code"] is None and "refused before connecting" in tried["error"]
        assert "link-local" in tried["error"]
    assert len(receiver.received) == 1


def test_loopback_receivers_are_refused_at_delivery_without_the_allowance(
    lb: TestClient,
    svc: Services,
    strict: tuple[TestClient, Services],
    auth: Any,
    tenant: str,
    receiver: Receiver,
    connections: list[str],
    attempt: Attempt,
) -> None:
    """An endpoint registered while private networks were allowed is refused once they
    are not: the check runs again at every attempt."""
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    _, strict_svc = strict
    before = list(connections)
    outcome = delivery.send(strict_svc, int(sent["id"]), 0, 0)
    assert outcome["status_code"] is None and "loopback" in outcome["error"]
    assert connections == before and receiver.received == []


def test_a_redirect_is_never_followed(
    lb: TestClient,
    svc: Services,
    auth: Any,
    tenant: str,
    receiver: Receiver,
    connections: list[str],
    attempt: Attempt,
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    targets = [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]:1/",
        "http://192.168.1.1/",
    ]
    for target in targets:
        receiver.answer(302, Location=target)
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    waits = [attempt(sent["id"]) for _ in targets]
    assert waits[-1] is None  # the schedule ran out: failed, nothing followed
    log = lb.get(f"/v1/webhook-deliveries/{sent['id']}", headers=admin).json()
    assert [a["status_code"] for a in log["attempts"]] == [302] * 4
    assert log["status"] == "failed"
    assert len(receiver.received) == 4
    assert set(connections) == {"127.0.0.1"}  # only the receiver was ever contacted
