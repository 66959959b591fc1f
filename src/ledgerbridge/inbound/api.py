"""Routes: where Xero, QuickBooks and Lightspeed send their webhooks.

No authentication header: each delivery is verified by its provider's signature over the
raw body, compared in constant time, before anything else is read. A wrong or missing
signature (or a provider whose key is not configured) is a 401 and nothing happens; a
signed body that is not the provider's format is a 400 and nothing happens. Otherwise the
notices are stored and the provider answered at once; the sync comes later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from inspect import Signature
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from ledgerbridge.errors import ApiError
from ledgerbridge.inbound import service
from ledgerbridge.providers import Provider
from ledgerbridge.providers.lightspeed import webhooks as lightspeed
from ledgerbridge.providers.quickbooks import webhooks as quickbooks
from ledgerbridge.providers.webhooks import InvalidPayload, Notice
from ledgerbridge.providers.xero import webhooks as xero
from ledgerbridge.routing import Svc, keyword
from ledgerbridge.services import Services

router = APIRouter(tags=["provider webhooks"])
MAX_BYTES = 512 * 1024  # larger than any provider's batch; a larger body is a 413 unread
PATHS = {p: f"/v1/provider-webhooks/{p.value}" for p in Provider}


class Verifier(Protocol):
    def verify(self, body: bytes, headers: Mapping[str, str], key: str) -> bool: ...

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[Notice]: ...


VERIFIERS: dict[Provider, Verifier] = {
    Provider.xero: xero,
    Provider.quickbooks: quickbooks,
    Provider.lightspeed: lightspeed,
}
ACCEPTED: dict[int | str, dict[str, Any]] = {
    200: {"description": "Verified and stored (or a resend, dropped); no body.", "content": {}}
}


def _body(media: str, description: str) -> dict[str, Any]:
    schema = {"type": "object", "additionalProperties": True}
    if media == "application/json":
        schema = {"oneOf": [schema, {"type": "array", "items": schema}]}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media: {"schema": schema}},
        }
    }


async def _receive(request: Request, svc: Services, provider: Provider) -> Response:
    body = await request.body()
    key = svc.settings.webhook_key(provider.value)
    verifier = VERIFIERS[provider]
    if key is None or not verifier.verify(body, request.headers, key):
        raise ApiError(
            401, "invalid_signature", f"the {provider.value} webhook signature is missing or wrong"
        )
    try:
        notices = verifier.parse(body, request.headers)
    except InvalidPayload as exc:
        raise ApiError(400, "invalid_payload", f"{provider.value} webhook: {exc}") from None
    await run_in_threadpool(service.receive, svc, provider, notices)
    return Response(status_code=200)


@dataclass(frozen=True)
class Doc:
    """What a provider's route says in the API docs: its body, signature header and summary."""

    media: str
    body: str
    header: str  # the signature header, as a Python name
    header_description: str
    description: str


DOCS = {
    Provider.xero: Doc(
        "application/json",
        "Xero's `{events, firstEventSequence, lastEventSequence, entropy}`; the "
        "intent-to-receive check has no events.",
        "x_xero_signature",
        "base64 HMAC-SHA256 of the raw body keyed with the webhook key",
        "Xero webhooks and its intent-to-receive check: 200 when the signature matches\n"
        "(`LEDGERBRIDGE_XERO_WEBHOOK_KEY`), 401 otherwise.",
    ),
    Provider.quickbooks: Doc(
        "application/json",
        "The classic `{eventNotifications: [...]}` or a CloudEvents array.",
        "intuit_signature",
        "base64 HMAC-SHA256 of the raw body keyed with the verifier token",
        "QuickBooks Online webhooks, classic or CloudEvents, signed with\n"
        "`LEDGERBRIDGE_QUICKBOOKS_WEBHOOK_VERIFIER`.",
    ),
    Provider.lightspeed: Doc(
        "application/x-www-form-urlencoded",
        "Form fields `type`, `payload` (the object as JSON) and `domain_prefix`.",
        "x_signature",
        "`signature=<hex HMAC-SHA256 of the raw body>,algorithm=HMAC-SHA256`",
        "Lightspeed X-Series webhooks, signed with the OAuth client secret.",
    ),
}


def _route(provider: Provider, doc: Doc) -> Callable[..., Awaitable[Response]]:
    """The route receiving ``provider``'s webhooks. Its signature header is declared for the
    docs only: the verifier reads the headers itself."""

    async def route(request: Request, svc: Services, **_: Any) -> Response:
        return await _receive(request, svc, provider)

    header = Annotated[str | None, Header(description=doc.header_description)]
    route.__signature__ = Signature(  # type: ignore[attr-defined]
        [
            keyword("request", Request),
            keyword("svc", Svc),
            keyword(doc.header, header, default=None),
        ],
        return_annotation=Response,
    )
    return route


for _provider, _doc in DOCS.items():
    router.add_api_route(
        PATHS[_provider],
        _route(_provider, _doc),
        methods=["POST"],
        name=f"receive_{_provider.value}_webhook",
        description=_doc.description,
        status_code=200,
        response_class=Response,
        responses=ACCEPTED,
        openapi_extra=_body(_doc.media, _doc.body),
    )
