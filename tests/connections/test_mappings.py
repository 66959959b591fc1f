"""Organisation and location mappings: tenant-scoped, unique, validated."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from tests.connections.conftest import accounts, connect


def test_organisation_mappings_round_trip_and_validation(
    lb: TestClient, sandbox: httpx.Client, auth, tenant: str
) -> None:
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "quickbooks", [realm])
    put = lb.put(
        "/v1/organisation-mappings/org-42",
        json={"connection_id": connection["id"]},
        headers=auth(tenant),
    )
    assert put.status_code == 200
    got = lb.get("/v1/organisation-mappings/org-42", headers=auth(tenant, "viewer")).json()
    assert got["connection_id"] == connection["id"]
    assert lb.get("/v1/organisation-mappings", headers=auth(tenant)).json()["data"] == [got]

    # Another tenant: cannot see it, cannot map to our connection, its own key is its own.
    other = auth(tenant + "-other")
    assert lb.get("/v1/organisation-mappings/org-42", headers=other).status_code == 404
    stolen = lb.put(
        "/v1/organisation-mappings/org-42", json={"connection_id": connection["id"]}, headers=other
    )
    assert stolen.status_code == 404
    assert lb.get("/v1/organisation-mappings/org-42", headers=auth(tenant)).json() == got

    lb.delete(f"/v1/connections/{connection['id']}", headers=auth(tenant))
    to_disconnected = lb.put(
        "/v1/organisation-mappings/org-43",
        json={"connection_id": connection["id"]},
        headers=auth(tenant),
    )
    assert to_disconnected.status_code == 409
    assert lb.delete("/v1/organisation-mappings/org-42", headers=auth(tenant)).status_code == 204
    assert lb.get("/v1/organisation-mappings/org-42", headers=auth(tenant)).status_code == 404
    assert lb.get("/v1/organisation-mappings?limit=101", headers=auth(tenant)).status_code == 422


def test_location_mappings_carry_the_provider_location(
    lb: TestClient, sandbox: httpx.Client, auth, tenant: str
) -> None:
    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "lightspeed", [store])
    outlet = sandbox.get(f"/_sandbox/lightspeed/{store}/outlets").json()[0]["id"]
    put = lb.put(
        "/v1/location-mappings/shop-1",
        json={"connection_id": connection["id"], "provider_location_id": outlet},
        headers=auth(tenant),
    )
    assert put.status_code == 200, put.text
    got = lb.get("/v1/location-mappings/shop-1", headers=auth(tenant)).json()
    assert got["provider_location_id"] == outlet
    moved = lb.put(
        "/v1/location-mappings/shop-1",
        json={"connection_id": connection["id"], "provider_location_id": None},
        headers=auth(tenant),
    ).json()
    assert moved["provider_location_id"] is None
    assert len(lb.get("/v1/location-mappings", headers=auth(tenant)).json()["data"]) == 1
    bad = lb.put("/v1/location-mappings/shop-2", json={"connection_id": "x"}, headers=auth(tenant))
    assert bad.status_code == 422
