"""Xero's connections: which organisations a consent covers (``/xero/connections``)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ledgerbridge.sandbox.state import SandboxState, sandbox_state
from ledgerbridge.sandbox.tokens import bearer_token
from ledgerbridge.sandbox.xero.errors import json_response, not_found, unauthorized

router = APIRouter(tags=["xero"])


@router.get("/connections")
@router.get("/Connections")  # Xero's paths are case-insensitive; its own SDKs use this one
async def list_connections(
    request: Request, authEventId: str | None = None, state: SandboxState = Depends(sandbox_state)
) -> Response:
    grant = state.tokens.grant_of("xero", bearer_token(request.headers.get("authorization")))
    if grant is None:
        return unauthorized()
    if authEventId is not None and authEventId != grant.grant_id:
        return json_response([])
    connections = []
    for connection in grant.connections:
        account = state.store.account("xero", connection.account_id)
        connections.append(
            {
                "id": connection.connection_id,
                "authEventId": grant.grant_id,
                "tenantId": connection.account_id,
                "tenantType": "ORGANISATION",
                "tenantName": account.name if account else "",
                "createdDateUtc": _xero_timestamp(connection.created_ms),
                "updatedDateUtc": _xero_timestamp(connection.created_ms),
            }
        )
    return json_response(connections)


@router.delete("/connections/{connection_id}")
@router.delete("/Connections/{connection_id}")
async def delete_connection(
    connection_id: str, request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    grant = state.tokens.grant_of("xero", bearer_token(request.headers.get("authorization")))
    if grant is None:
        return unauthorized()
    if not state.tokens.disconnect(grant, connection_id):
        return not_found()
    return Response(status_code=204)


def _xero_timestamp(ms: int) -> str:
    """``2019-12-07T18:46:19.5165400``: UTC, seven fractional digits, no offset."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0"
