"""The control API under ``/_sandbox``: not part of any provider's surface.

Tests and demos use it to see and change the data as a provider's user would (so an
incremental sync has something to find), revoke grants, inject faults, read the
request ledger, move the clock, change settings and reset everything. It is never
rate limited, faulted or logged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledgerbridge.sandbox.churn import ChurnIn, churn
from ledgerbridge.sandbox.faults import FaultRule
from ledgerbridge.sandbox.oauth import endpoint_urls
from ledgerbridge.sandbox.providers import ProviderModule, provider_modules, reset
from ledgerbridge.sandbox.scheduled import ScheduledChange
from ledgerbridge.sandbox.settings import SandboxSettings
from ledgerbridge.sandbox.state import SandboxState, register_default_client, sandbox_state
from ledgerbridge.sandbox.tokens import Client

router = APIRouter(tags=["sandbox control"])
Record = dict[str, Any]
T = TypeVar("T")


class ControlError(Exception):
    """A control call that cannot be done; answered as ``{"error", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


async def control_error_response(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ControlError)
    return JSONResponse({"error": error.code, "message": error.message}, status_code=error.status)


# --- what the sandbox serves ---------------------------------------------------------


@router.get("/providers")
async def providers(request: Request) -> dict[str, dict[str, str | None]]:
    """Per provider, the authorize, token, revoke and API base URLs this sandbox serves."""
    return endpoint_urls(str(request.base_url).rstrip("/"))


@router.get("/accounts")
async def accounts(state: SandboxState = Depends(sandbox_state)) -> list[dict[str, Any]]:
    return [
        {
            "provider": a.provider,
            "account_id": a.account_id,
            "name": a.name,
            "currency": a.currency,
            "registers": a.registers,
        }
        for a in state.store.accounts.values()
    ]


# --- settings, clients, clock, reset -------------------------------------------------


@router.get("/settings")
async def get_settings(state: SandboxState = Depends(sandbox_state)) -> dict[str, Any]:
    return state.settings.model_dump()


@router.patch("/settings")
async def patch_settings(
    patch: dict[str, Any] = Body(...), state: SandboxState = Depends(sandbox_state)
) -> dict[str, Any]:
    """Change settings while running, e.g. ``{"xero_access_token_seconds": 2}``."""
    try:
        state.settings = SandboxSettings(**{**state.settings.model_dump(), **patch})
    except ValidationError as error:
        raise ControlError(422, "invalid_settings", str(error)) from error
    register_default_client(state)
    return state.settings.model_dump()


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    redirect_uris: list[str] = Field(
        default_factory=list, description="Empty: any loopback redirect URI."
    )


@router.post("/clients", status_code=201)
async def register_client(
    client: ClientIn, state: SandboxState = Depends(sandbox_state)
) -> ClientIn:
    """Register another OAuth client, accepted by every provider."""
    state.tokens.register_client(
        Client(client.client_id, client.client_secret, tuple(client.redirect_uris))
    )
    return client


class ClockIn(BaseModel):
    advance_seconds: float = Field(ge=0)


@router.post("/clock")
async def advance_clock(
    body: ClockIn, state: SandboxState = Depends(sandbox_state)
) -> dict[str, int]:
    """Move the sandbox's time forward: tokens expire, grace periods end, windows roll."""
    state.clock.advance(body.advance_seconds)
    return {"now_ms": state.clock.time_ms()}


@router.post("/reset")
async def reset_sandbox(state: SandboxState = Depends(sandbox_state)) -> dict[str, int]:
    """Re-seed every provider with the original seed and size; forget grants, faults, ledger."""
    reset(state)
    return {"seed": state.seed, "size": state.size}


# --- grants --------------------------------------------------------------------------


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    account_id: str | None = None
    token: str | None = None
    client_id: str | None = None


@router.post("/grants/revoke")
async def revoke_grant(
    body: RevokeIn, state: SandboxState = Depends(sandbox_state)
) -> dict[str, int]:
    """Revoke access as if the user disconnected the app: by account (every grant, or one
    client's, loses it) or by one of the grant's tokens."""
    if body.token:
        return {"revoked": int(state.tokens.revoke_token(body.provider, body.token))}
    if body.account_id:
        revoked = state.tokens.revoke_account(body.provider, body.account_id, body.client_id)
        return {"revoked": revoked}
    raise ControlError(422, "invalid_request", "Give account_id or token.")


# --- faults --------------------------------------------------------------------------


@router.post("/faults", status_code=201)
async def add_faults(
    rules: FaultRule | list[FaultRule], state: SandboxState = Depends(sandbox_state)
) -> list[FaultRule]:
    for rule in rules if isinstance(rules, list) else [rules]:
        state.faults.add(rule)
    return state.faults.rules()


@router.get("/faults")
async def list_faults(state: SandboxState = Depends(sandbox_state)) -> list[FaultRule]:
    return state.faults.rules()


@router.delete("/faults", status_code=204)
async def clear_faults(
    provider: str | None = None, state: SandboxState = Depends(sandbox_state)
) -> None:
    state.faults.clear(provider)


# --- changes made while clients read ----------------------------------------------------


@router.post("/changes", status_code=201)
async def schedule_changes(
    changes: ScheduledChange | list[ScheduledChange], state: SandboxState = Depends(sandbox_state)
) -> list[ScheduledChange]:
    """Changes the sandbox makes by itself after so many matching API answers."""
    for change in changes if isinstance(changes, list) else [changes]:
        _collection_path(state, change.provider, change.account_id, change.object_type)
        if change.action != "create" and not change.record_id:
            raise ControlError(422, "invalid_request", f"{change.action} needs a record_id.")
        state.scheduled.add(change.model_copy(update={"seen": 0, "applied": False}))
    return state.scheduled.all()


@router.post("/churn", status_code=201)
async def start_churn(
    body: ChurnIn, state: SandboxState = Depends(sandbox_state)
) -> dict[str, int]:
    """Tie groups now, and changes made while a client reads (``churn.py``)."""
    _provider(body.provider)
    if state.store.account(body.provider, body.account_id) is None:
        raise ControlError(404, "not_found", f"No {body.provider} account {body.account_id!r}.")
    try:
        return churn(state, body)
    except ValueError as error:
        raise ControlError(422, "invalid_request", str(error)) from error


@router.get("/changes")
async def list_changes(state: SandboxState = Depends(sandbox_state)) -> list[ScheduledChange]:
    """Every scheduled change: ``applied`` once made, ``error`` if the provider refused it."""
    return state.scheduled.all()


@router.delete("/changes", status_code=204)
async def clear_changes(state: SandboxState = Depends(sandbox_state)) -> None:
    state.scheduled.clear()


# --- ledger --------------------------------------------------------------------------


@router.get("/ledger")
async def ledger(
    provider: str | None = None,
    account: str | None = None,
    path_prefix: str | None = None,
    since: str | None = Query(None, description="ISO 8601 time or epoch milliseconds"),
    state: SandboxState = Depends(sandbox_state),
) -> dict[str, Any]:
    entries = state.ledger.entries(provider, account, path_prefix, _since_ms(since))
    return {"count": len(entries), "entries": [e.to_json() for e in entries]}


@router.delete("/ledger", status_code=204)
async def clear_ledger(state: SandboxState = Depends(sandbox_state)) -> None:
    state.ledger.clear()


def _since_ms(since: str | None) -> int | None:
    if not since:
        return None
    if since.isdigit():
        return int(since)
    try:
        return int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as error:
        raise ControlError(422, "invalid_since", "since must be ISO 8601 or epoch ms.") from error


# --- records, as the provider's own user would change them ----------------------------


def _provider(provider: str) -> ProviderModule:
    module = provider_modules().get(provider)
    if module is None:
        raise ControlError(404, "not_found", f"Unknown provider {provider!r}.")
    return module


def _collection_path(
    state: SandboxState, provider: str, account_id: str, object_type: str
) -> ProviderModule:
    module = _provider(provider)
    if state.store.account(provider, account_id) is None:
        raise ControlError(404, "not_found", f"No {provider} account {account_id!r}.")
    if object_type not in module.OBJECT_TYPES:
        known = ", ".join(module.OBJECT_TYPES)
        raise ControlError(
            404, "not_found", f"Unknown {provider} object type {object_type!r} ({known})."
        )
    return module


@router.get("/{provider}/{account_id}/{object_type}")
async def list_records(
    provider: str,
    account_id: str,
    object_type: str,
    offset: int = Query(0, ge=0),
    limit: int | None = Query(None, ge=1),
    state: SandboxState = Depends(sandbox_state),
) -> Response:
    """Every record of the type, tombstones included, in change order."""
    _collection_path(state, provider, account_id, object_type)
    with state.store.lock:
        collection = state.store.collection(provider, account_id, object_type)
        records = collection.page_since(None, offset=offset, limit=limit)
    return Response(orjson.dumps(records), media_type="application/json")  # maybe 100,000


@router.post("/{provider}/{account_id}/{object_type}", status_code=201)
async def create_record(
    provider: str,
    account_id: str,
    object_type: str,
    body: Record = Body(...),
    state: SandboxState = Depends(sandbox_state),
) -> JSONResponse:
    module = _collection_path(state, provider, account_id, object_type)
    record = _apply(lambda: module.control_create(state, account_id, object_type, body), state)
    return JSONResponse(record, status_code=201)


@router.patch("/{provider}/{account_id}/{object_type}/{record_id}")
async def update_record(
    provider: str,
    account_id: str,
    object_type: str,
    record_id: str,
    patch: Record = Body(...),
    state: SandboxState = Depends(sandbox_state),
) -> JSONResponse:
    module = _collection_path(state, provider, account_id, object_type)
    record = _apply(
        lambda: module.control_update(state, account_id, object_type, record_id, patch), state
    )
    return JSONResponse(record)


@router.delete("/{provider}/{account_id}/{object_type}/{record_id}")
async def delete_record(
    provider: str,
    account_id: str,
    object_type: str,
    record_id: str,
    state: SandboxState = Depends(sandbox_state),
) -> JSONResponse:
    """Delete as the provider does; answers the tombstone, or ``null`` when hard-deleted."""
    module = _collection_path(state, provider, account_id, object_type)
    tombstone = _apply(
        lambda: module.control_delete(state, account_id, object_type, record_id), state
    )
    return JSONResponse(tombstone)


def _apply(change: Callable[[], T], state: SandboxState) -> T:
    with state.store.lock:
        try:
            return change()
        except LookupError as error:
            raise ControlError(404, "not_found", str(error)) from error
        except ValueError as error:
            raise ControlError(422, "invalid_record", str(error)) from error
