"""``/_sandbox/webhooks``: register where each emulated provider sends its webhooks, and see
every delivery and its attempts. Only loopback receivers are accepted."""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from ledgerbridge.sandbox.control import ControlError
from ledgerbridge.sandbox.routing import PROVIDERS
from ledgerbridge.sandbox.state import SandboxState, sandbox_state
from ledgerbridge.sandbox.webhooks import payloads
from ledgerbridge.sandbox.webhooks.delivery import Registration, send

router = APIRouter(tags=["sandbox webhooks"])


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, description="A loopback http(s) URL.")
    key: str = Field(
        min_length=1,
        max_length=500,
        description="Xero's webhook key, QuickBooks' verifier token, Lightspeed's client secret.",
    )
    format: Literal["classic", "cloudevents"] = Field(
        "classic", description="QuickBooks only: the payload format."
    )


def loopback(url: str) -> bool:
    """Whether ``url`` is http(s) on a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return False
    if parsed.host == "localhost":
        return True
    try:
        return ipaddress.ip_address(parsed.host).is_loopback
    except ValueError:
        return False


def intent_to_receive(url: str, key: str) -> list[dict[str, Any]]:
    """Xero's check: correctly and wrongly signed empty deliveries, expecting 200 and 401."""
    checks = []
    for signed in (True, False, True):
        body, headers = payloads.delivery("xero", [], key, signed=signed)
        attempt = send("xero", url, body, headers)
        expected = 200 if signed else 401
        checks.append({**attempt, "signed": signed, "ok": attempt["status"] == expected})
    return checks


def _provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise ControlError(404, "not_found", f"Unknown provider {provider!r}.")
    return provider


@router.put("/webhooks/{provider}")
def register_webhook(
    provider: str, body: WebhookIn, state: SandboxState = Depends(sandbox_state)
) -> dict[str, Any]:
    """From now on every change to ``provider``'s data is sent to ``url``, signed with
    ``key``. Xero first sends its intent-to-receive check: the webhook is active only if
    the receiver answers each correctly signed check 200 and the wrongly signed one 401."""
    _provider(provider)
    if not loopback(body.url):
        raise ControlError(
            422, "invalid_url", "The sandbox sends webhooks to loopback addresses only."
        )
    registration = Registration(provider, body.url, body.key, body.format)
    answer: dict[str, Any] = {}
    if provider == "xero":
        checks = intent_to_receive(body.url, body.key)
        registration.active = all(check["ok"] for check in checks)
        if not registration.active:
            registration.disabled_reason = "intent to receive failed"
        answer["intent_to_receive"] = checks
    state.webhooks.register(registration)
    return {**registration.to_json(), **answer}


@router.get("/webhooks")
def list_webhooks(
    provider: str | None = None, state: SandboxState = Depends(sandbox_state)
) -> dict[str, Any]:
    """Registrations, and every delivery with its attempts (``status``: pending,
    delivered, failed)."""
    return state.webhooks.snapshot(provider)


@router.delete("/webhooks/{provider}", status_code=204)
def remove_webhook(provider: str, state: SandboxState = Depends(sandbox_state)) -> None:
    state.webhooks.registrations.pop(_provider(provider), None)
