"""Health, readiness, metrics, docs and the one error shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledgerbridge import __version__


def assert_error_shape(body: dict[str, object], code: str) -> None:
    assert set(body) == {"error", "message", "details", "trace_id"}
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["trace_id"], str) and len(body["trace_id"]) >= 8


def test_health_is_fast_and_versioned(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["version"] == __version__


def test_ready_checks_the_database(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["checks"]["database"]["status"] == "ok"


def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    client.get("/health")
    client.get("/v1/api-keys")
    text = client.get("/metrics").text
    assert 'ledgerbridge_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert 'route="/v1/api-keys",status="401"' in text
    assert "ledgerbridge_http_request_duration_seconds_bucket" in text


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/api-keys" in spec["paths"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
    assert client.get("/docs").status_code == 200


def test_not_found_and_method_not_allowed_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert_error_shape(missing.json(), "not_found")
    assert missing.json()["trace_id"] == missing.headers["x-trace-id"]
    wrong = client.put("/health")
    assert wrong.status_code == 405
    assert_error_shape(wrong.json(), "method_not_allowed")


def test_validation_errors_name_the_field_and_never_echo_input(
    client: TestClient, auth, tenant: str
) -> None:
    response = client.post(
        "/v1/api-keys", json={"name": "", "role": "emperor"}, headers=auth(tenant)
    )
    assert response.status_code == 422
    body = response.json()
    assert_error_shape(body, "validation_error")
    assert "emperor" not in response.text
    assert {tuple(d["loc"]) for d in body["details"]} >= {("body", "name"), ("body", "role")}


def test_unexpected_exceptions_are_500_in_the_error_shape(app: FastAPI, client: TestClient) -> None:
    def explode() -> None:
        raise RuntimeError("password=hunter2 went wrong")

    app.add_api_route("/_test/explode", explode)
    try:
        response = client.get("/_test/explode", headers={"X-Trace-Id": "trace-abcdef12"})
    finally:
        app.router.routes.pop()
    assert response.status_code == 500
    assert_error_shape(response.json(), "internal_error")
    assert response.json()["trace_id"] == "trace-abcdef12"
    assert "hunter2" not in response.text


def test_trace_id_continues_a_w3c_traceparent(client: TestClient) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = client.get("/health", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert response.headers["x-trace-id"] == trace


def test_an_event_type_with_a_nul_character_is_a_422(client: TestClient, auth: Any) -> None:
    # PostgreSQL's text cannot hold a NUL: the filter is refused before the database sees it.
    answer = client.get("/v1/events", params={"type": "sync.\x00run"}, headers=auth("org-nul"))
    assert answer.status_code == 422, answer.text
    assert_error_shape(answer.json(), "validation_error")
    fine = client.get("/v1/events", params={"type": "sync.run"}, headers=auth("org-nul"))
    assert fine.status_code == 200
