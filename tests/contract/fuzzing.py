"""Schemathesis over every operation, as three identities, with ids that exist.

Used by ``tests/foundation/test_schemathesis.py`` (a small budget) and ``scripts/fuzz`` (the
deep run). Each case is sent as the owner (JWT), a developer (API key) and a viewer of another
tenant; checks: no 5xx, declared status codes, content types and schemas, and no success that
the caller's role forbids (nor any of the owner's data shown to the other tenant).
"""

from __future__ import annotations

import io
import ipaddress
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.security.roles import Role
from tests.push.writes import writes_for

# Opaque values (pagination cursors) cannot be described by a schema: a schema-valid string
# that this API never issued is rightly a 400, which this one check would call a failure.
EXCLUDED = [positive_data_acceptance]
CREDENTIAL_HEADERS = ("authorization", "x-api-key")
STATEMENT = Path(__file__).parents[1] / "reconcile" / "fixtures" / "generic.csv"


@dataclass(frozen=True)
class Identity:
    name: str
    headers: dict[str, str]
    role: Role
    other_tenant: bool = False


@dataclass
class Report:
    cases: Counter[str] = field(default_factory=Counter)  # by identity
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)  # (identity, "2xx")
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  # (check, identity)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)
    operations: int = 0

    def lines(self) -> list[str]:
        out = [f"operations: {self.operations}"]
        for who, n in sorted(self.cases.items()):
            classes = sorted((c, k) for (w, c), k in self.answers.items() if w == who)
            out.append(f"cases as {who}: {n} ({', '.join(f'{c}: {k}' for c, k in classes)})")
        out += [
            f"failures {check} as {who}: {n}" for (check, who), n in sorted(self.failures.items())
        ]
        out += [f"  e.g. {check} as {who}: {text}" for (check, who), text in self.examples.items()]
        return out


def required_roles(app: FastAPI) -> dict[str, Role]:
    """operationId → the least role the route admits (absent: no credentials needed)."""
    found: dict[str, Role] = {}

    def walk(dependant: Any, name: str) -> None:
        for dependency in dependant.dependencies:
            call = dependency.call
            if getattr(call, "__qualname__", "") == "requires.<locals>.check":
                cells = zip(call.__code__.co_freevars, call.__closure__, strict=True)
                found[name] = dict((n, c.cell_contents) for n, c in cells)["role"]
            walk(dependency, name)

    routes: list[Any] = list(app.routes)
    while routes:
        route = routes.pop()
        if isinstance(route, APIRoute):
            walk(route.dependant, route.name)
        elif hasattr(route, "original_router"):  # an included router
            routes += route.original_router.routes
    return found


def seed(client: TestClient, owner: dict[str, str], sandbox_url: str | None) -> dict[str, str]:
    """Make things the owner's tenant holds; their ids, by path parameter name."""
    ids: dict[str, str] = {}
    created = client.post("/v1/api-keys", json={"name": "fuzz", "role": "viewer"}, headers=owner)
    ids["key_id"] = created.json()["id"]
    statement = client.post(
        "/v1/statements",
        files={"file": ("generic.csv", io.BytesIO(STATEMENT.read_bytes()), "text/csv")},
        data={"preset": "generic", "currency": "EUR"},
        headers=owner,
    )
    assert statement.status_code in (200, 201), statement.text
    ids["statement_id"] = statement.json()["id"]
    if sandbox_url:
        started = client.post("/v1/connections/xero/authorize", json={}, headers=owner).json()
        callback = httpx.URL(approve_consent(started["authorize_url"], None))
        made = client.get(callback.path, params=dict(callback.params))
        assert made.status_code == 200, made.text
        connection = made.json()["connections"][0]
        ids["connection_id"] = connection["id"]
        with httpx.Client(base_url=sandbox_url, timeout=30) as sandbox:
            body = writes_for(sandbox, "xero", connection["external_account_id"], "fuzz")(1)
        pushed = client.post(
            f"/v1/connections/{connection['id']}/invoices", json=body, headers=owner
        )
        assert pushed.status_code == 202, pushed.text
        ids["operation_id"] = pushed.json()["operation_id"]
        if pushed.json().get("record_id"):
            ids["record_id"] = pushed.json()["record_id"]
    return ids


def developer_key(client: TestClient, owner: dict[str, str]) -> dict[str, str]:
    created = client.post(
        "/v1/api-keys", json={"name": "fuzz developer", "role": "developer"}, headers=owner
    )
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


def forbidden(
    identity: Identity, needed: Role | None, case: schemathesis.Case, response: Any, real: bool
) -> str | None:
    """Why this answer is a success the caller must not have had (None: it is fine)."""
    if not 200 <= response.status_code < 300 or needed is None:
        return None
    if not identity.role.allows(needed):
        return f"{identity.role.value} got {response.status_code}; the route needs {needed.value}"
    if identity.other_tenant:
        if case.method.upper() != "GET":
            return f"another tenant's viewer changed something ({response.status_code})"
        if real:
            return "another tenant's viewer read the owner's object"
        body = response.json() if "json" in response.headers.get("content-type", "") else {}
        if isinstance(body, dict) and body.get("data"):
            return "another tenant's viewer saw the owner's rows"
    return None


def fuzz(
    app: FastAPI,
    identities: list[Identity],
    ids: dict[str, str],
    examples: int,
    report: Report,
    on_failure: Callable[[str], None] | None = None,
) -> Report:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    roles = required_roles(app)
    # Deletions last, revoking API keys the very last: a generated id may be the developer's
    # own key or the seeded connection, and the other operations should meet them alive.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: (op.method.upper() == "DELETE", op.path.startswith("/v1/api-keys/")),
    )
    report.operations += len(operations)

    with loopback_names_only():
        for operation in operations:
            needed = roles.get(operation.definition.raw.get("operationId", ""))
            _fuzz_one(operation, needed, identities, ids, examples, report, on_failure)
    return report


@contextmanager
def loopback_names_only() -> Iterator[None]:
    """Generated webhook URLs name made-up hosts, which the API resolves: only address
    literals and localhost resolve meanwhile, so no DNS query leaves the machine."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.split("%")[0])
        except ValueError:
            if name != "localhost":
                raise socket.gaierror(socket.EAI_NONAME, "not resolved while fuzzing") from None
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


def _fuzz_one(
    operation: Any,
    needed: Role | None,
    identities: list[Identity],
    ids: dict[str, str],
    examples: int,
    report: Report,
    on_failure: Callable[[str], None] | None,
) -> None:
    @given(case=operation.as_strategy(), use_real=st.booleans())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case, use_real: bool) -> None:
        # The identity's own credentials, not ones generated from the security schemes.
        case.headers = {
            k: v for k, v in (case.headers or {}).items() if k.lower() not in CREDENTIAL_HEADERS
        }
        real = False
        if use_real and case.path_parameters:
            for name in case.path_parameters:
                if name in ids:
                    case.path_parameters[name] = ids[name]
                    real = True
        where = f"{case.method} {case.formatted_path}"
        for identity in identities:
            report.cases[identity.name] += 1
            failures: list[tuple[str, str]] = []
            try:
                response = case.call(headers=identity.headers)
            except Exception as exc:  # the app raised: a 500 as a client would see it
                failures.append((f"server error ({type(exc).__name__}: {str(exc)[:120]})", where))
                response = None
            if response is not None:
                report.answers[(identity.name, f"{response.status_code // 100}xx")] += 1
                try:
                    case.validate_response(
                        response, excluded_checks=EXCLUDED, headers=identity.headers
                    )
                except (FailureGroup, Failure) as exc:
                    for one in exc.exceptions if isinstance(exc, FailureGroup) else [exc]:
                        failures.append((str(getattr(one, "title", type(one).__name__)), where))
                if why := forbidden(identity, needed, case, response, real):
                    failures.append(("forbidden success", f"{where}: {why}"))
            for title, text in failures:
                report.failures[(title, identity.name)] += 1
                report.examples.setdefault((title, identity.name), text)
                if on_failure:
                    on_failure(f"{title} as {identity.name}: {text}")

    check()
