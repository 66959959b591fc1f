"""The served OpenAPI document is the committed ``docs/openapi.json``, and the differ is honest.

A change to the API fails here until ``scripts/update-openapi`` rewrites the copy in the same
change; the failure names each difference, breaking ones first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from fastapi import APIRouter, Query
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ledgerbridge.app import create_app
from ledgerbridge.connections import api as connections
from ledgerbridge.connections.schemas import ConnectionOut
from ledgerbridge.events import api as events
from ledgerbridge.pagination import Page
from ledgerbridge.push import api as push
from tests.conftest import make_settings
from tests.contract.diff import Change, breaking, diff, other_differences
from tests.contract.snapshot import SNAPSHOT, committed, document, render


def _report(changes: list[Change], old: dict[str, Any], new: dict[str, Any]) -> str:
    lines = [str(c) for c in sorted(changes, key=lambda c: not c.breaking)]
    if not lines:
        lines = [f"changed (descriptions, examples…): {p}" for p in other_differences(old, new)]
    return "\n".join(
        [
            f"the API differs from {SNAPSHOT.name}:",
            *lines,
            "run scripts/update-openapi in this change (a BREAKING line needs a new API version "
            "or a migration path for host apps)",
        ]
    )


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    return document()


def test_the_served_document_is_the_committed_copy(served: dict[str, Any]) -> None:
    old, new = committed(), served
    if render(new) != SNAPSHOT.read_text(encoding="utf-8"):
        pytest.fail(_report(diff(old, new), old, new), pytrace=False)


def test_operation_ids_read_as_method_names_and_are_unique(served: dict[str, Any]) -> None:
    ops = [
        op
        for item in served["paths"].values()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    bad = [i for i in ids if not re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", i)]
    assert not bad, f"operationIds that do not read as a verb_noun method: {bad}"
    assert all(op.get("tags") for op in ops)


def test_every_error_status_is_declared_in_the_error_shape(served: dict[str, Any]) -> None:
    doc = served
    for path, item in doc["paths"].items():
        for method, op in item.items():
            statuses = set(op["responses"])
            assert {"400", "401", "403", "404", "413", "422", "429", "500", "503"} <= statuses
            for status in ("429", "503"):
                assert "Retry-After" in op["responses"][status]["headers"], (method, path)
    csv = doc["paths"]["/v1/reconciliation/runs/{run_id}/matches"]["get"]["responses"]["200"]
    assert set(csv["content"]) == {"application/json", "text/csv"}
    connect = doc["paths"]["/v1/connections/{provider}/connect"]["post"]["responses"]
    assert connect["502"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


# -- the differ, shown on apps changed on purpose -----------------------------------------


def _altered(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    router: APIRouter,
    method: str,
    path: str,
    replacement: Callable[..., Any] | None,
    **options: Any,
) -> dict[str, Any]:
    """The document of a fresh app in which one route is removed or has another function."""
    routes: list[Any] = []
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == path and method in route.methods:
            if replacement is not None:
                scratch = APIRouter(tags=route.tags)
                scratch.add_api_route(
                    path, replacement, methods=[method], name=route.name, **options
                )
                routes += scratch.routes
        else:
            routes.append(route)
    assert len(routes) != len(router.routes) or replacement is not None
    monkeypatch.setattr(router, "routes", routes)
    return document(create_app(make_settings(f"sqlite:///{tmp_path}/lb.db", tmp_path)))


def _lines(changes: list[Change], where: str = "") -> list[str]:
    return [str(c) for c in changes if c.where.startswith(where)]


def test_a_removed_operation_is_breaking(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    new = _altered(monkeypatch, tmp_path, push.router, "GET", "/v1/operations/{operation_id}", None)
    assert _lines(breaking(diff(committed(), new))) == [
        "BREAKING: GET /v1/operations/{operation_id}: operation removed"
    ]


def test_a_new_required_parameter_and_a_narrowed_enum_are_breaking(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def list_connections(
        region: Annotated[str, Query()],
        status: Annotated[Literal["active"] | None, Query()] = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Any:
        return None

    new = _altered(
        monkeypatch,
        tmp_path,
        connections.router,
        "GET",
        "/v1/connections",
        list_connections,
        response_model=Page[ConnectionOut],
    )
    where = "GET /v1/connections"
    lines = _lines(breaking(diff(committed(), new)), where)
    assert f"BREAKING: {where}: required query parameter 'region' added" in lines
    assert f"BREAKING: {where}: query parameter 'provider' removed" in lines
    assert any(
        line.startswith(f"BREAKING: {where}: query parameter 'status'") and "lost" in line
        for line in lines
    ), lines


def test_a_removed_response_field_is_breaking_and_a_new_one_is_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    class SlimConnection(BaseModel):
        id: int
        provider: str
        nickname: str | None = None

    def get_connection(connection_id: int) -> Any:
        return None

    path = "/v1/connections/{connection_id}"
    new = _altered(
        monkeypatch,
        tmp_path,
        connections.router,
        "GET",
        path,
        get_connection,
        response_model=SlimConnection,
    )
    lines = _lines(diff(committed(), new), f"GET {path}: response 200")
    assert any(line.startswith("BREAKING") and "field 'status' removed" in line for line in lines)
    assert any(line.startswith("addition") and "field 'nickname' added" in line for line in lines)


def test_an_added_operation_is_only_an_addition(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def list_widgets(limit: int = 10) -> Any:
        return None

    scratch = APIRouter(tags=["events"])
    scratch.add_api_route("/v1/widgets", list_widgets, methods=["GET"], response_model=Page[Any])
    monkeypatch.setattr(events.router, "routes", [*events.router.routes, *scratch.routes])
    new = document(create_app(make_settings(f"sqlite:///{tmp_path}/lb.db", tmp_path)))
    assert _lines(diff(committed(), new)) == ["addition: GET /v1/widgets: operation added"]


def test_the_differ_on_small_documents() -> None:
    def doc(param: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        op = {
            "operationId": "get_thing",
            "parameters": [{"in": "query", "name": "kind", "schema": param}],
            "responses": {"200": {"content": {"application/json": {"schema": answer}}}},
        }
        return {"paths": {"/thing": {"get": op}}}

    enum_ab = {"type": "string", "enum": ["a", "b"]}
    enum_a = {"type": "string", "enum": ["a"]}
    assert [str(c) for c in diff(doc(enum_ab, enum_a), doc(enum_a, enum_ab))] == [
        "BREAKING: GET /thing: query parameter 'kind': enum lost ['b']",
        "BREAKING: GET /thing: response 200 application/json: enum gained ['b']",
    ]
    nullable = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert [str(c) for c in diff(doc(enum_a, {"type": "string"}), doc(nullable, nullable))] == [
        "addition: GET /thing: query parameter 'kind': type may now be null",
        "BREAKING: GET /thing: response 200 application/json: type may now be null",
    ]
    assert diff(doc(enum_a, enum_a), doc(enum_a, enum_a)) == []
