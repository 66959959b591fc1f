"""OAuth 2.0 for the three providers, at their production paths under each prefix.

Xero: ``/xero/identity/connect/{authorize,token,revocation}``; QuickBooks:
``/quickbooks/connect/oauth2``, ``/quickbooks/oauth2/v1/tokens/{bearer,revoke}``;
Lightspeed: ``/lightspeed/connect`` and the per-store ``/lightspeed/{domain_prefix}/api/1.0/token``
(docs/sandbox.md has the whole mapping).

Each behaves as its provider does: Xero accepts PKCE (S256) and rotates refresh tokens
with a grace period for the previous one; QuickBooks rotates and refuses a stale token;
Lightspeed revokes the old refresh token at once. Every bad code or refresh token is
``400 {"error": "invalid_grant"}``.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from ledgerbridge.sandbox.consent import consent_page, error_page
from ledgerbridge.sandbox.middleware import GRANT_TYPE_KEY
from ledgerbridge.sandbox.state import SandboxState, sandbox_state
from ledgerbridge.sandbox.tokens import Grant, OAuthError, TokenPair

router = APIRouter(include_in_schema=False)

# Signs Xero's JWT access tokens. Clients may read them but never verify them.
_JWT_KEY = secrets.token_bytes(32)
_AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


@dataclass(frozen=True)
class OAuthProfile:
    provider: str
    title: str
    authorize_path: str
    several_accounts: bool  # one Xero consent may cover several organisations
    account_param: str | None  # the redirect parameter naming the chosen account
    pkce: bool


PROFILES = {
    "xero": OAuthProfile("xero", "Xero", "/xero/identity/connect/authorize", True, None, True),
    "quickbooks": OAuthProfile(
        "quickbooks", "QuickBooks Online", "/quickbooks/connect/oauth2", False, "realmId", False
    ),
    "lightspeed": OAuthProfile(
        "lightspeed", "Lightspeed Retail", "/lightspeed/connect", False, "domain_prefix", False
    ),
}


def endpoint_urls(origin: str) -> dict[str, dict[str, str | None]]:
    """Where each provider's OAuth and API endpoints are on this sandbox."""
    return {
        "xero": {
            "authorize_url": origin + PROFILES["xero"].authorize_path,
            "token_url": f"{origin}/xero/identity/connect/token",
            "revoke_url": f"{origin}/xero/identity/connect/revocation",
            "connections_url": f"{origin}/xero/connections",
            "api_base_url": f"{origin}/xero/api.xro/2.0",
        },
        "quickbooks": {
            "authorize_url": origin + PROFILES["quickbooks"].authorize_path,
            "token_url": f"{origin}/quickbooks/oauth2/v1/tokens/bearer",
            "revoke_url": f"{origin}/quickbooks/oauth2/v1/tokens/revoke",
            "discovery_url": f"{origin}/quickbooks/.well-known/openid_configuration",
            "api_base_url": f"{origin}/quickbooks/v3",
        },
        "lightspeed": {
            "authorize_url": origin + PROFILES["lightspeed"].authorize_path,
            "token_url": f"{origin}/lightspeed/{{domain_prefix}}/api/1.0/token",
            "revoke_url": None,
            "api_base_url": f"{origin}/lightspeed/{{domain_prefix}}/api/2.0",
        },
    }


# --- authorize: the consent page and its answer ----------------------------------------


def _authorize_routes(profile: OAuthProfile) -> None:
    async def show_consent(
        request: Request, state: SandboxState = Depends(sandbox_state)
    ) -> Response:
        params = {k: request.query_params.get(k, "") for k in _AUTHORIZE_PARAMS}
        problem = _authorize_problem(state, profile, params)
        if problem is not None:
            return problem
        hidden = {k: v for k, v in params.items() if v}
        html = consent_page(
            profile.title,
            params["client_id"],
            profile.authorize_path,
            state.store.accounts_of(profile.provider),
            hidden,
            profile.several_accounts,
        )
        return HTMLResponse(html)

    async def answer_consent(
        request: Request, state: SandboxState = Depends(sandbox_state)
    ) -> Response:
        form = await request.form()
        params = {k: str(form.get(k) or "") for k in _AUTHORIZE_PARAMS}
        problem = _authorize_problem(state, profile, params)
        if problem is not None:
            return problem
        answer: dict[str, str] = {}
        if form.get("decision") != "allow":
            answer["error"] = "access_denied"
        else:
            offered = {a.account_id for a in state.store.accounts_of(profile.provider)}
            chosen = tuple(str(v) for v in form.getlist("account"))
            if not chosen or not set(chosen) <= offered:
                return _page(400, "Choose at least one of the accounts offered.")
            if not profile.several_accounts and len(chosen) > 1:
                return _page(400, "Choose exactly one account.")
            answer["code"] = state.tokens.issue_code(
                profile.provider,
                params["client_id"],
                params["redirect_uri"],
                chosen,
                params["scope"],
                params["code_challenge"] or None,
                state.settings.authorization_code_seconds,
            )
            if profile.account_param:
                answer[profile.account_param] = chosen[0]
            if profile.provider == "xero":
                answer["scope"] = params["scope"]
        if params["state"]:
            answer["state"] = params["state"]
        return RedirectResponse(_with_query(params["redirect_uri"], answer), status_code=302)

    router.add_api_route(profile.authorize_path, show_consent, methods=["GET"])
    router.add_api_route(profile.authorize_path, answer_consent, methods=["POST"])


def _authorize_problem(
    state: SandboxState, profile: OAuthProfile, params: dict[str, str]
) -> Response | None:
    """Why an authorize request cannot go on, as the answer to give; None when it can.

    A bad client or redirect URI gets an error page (never a redirect to an unchecked
    URI); other mistakes are reported to the client through the redirect.
    """
    client_id, redirect_uri = params["client_id"], params["redirect_uri"]
    if client_id not in state.tokens.clients:
        return _page(400, f"Unknown client_id {client_id!r}.")
    if not state.tokens.redirect_allowed(client_id, redirect_uri):
        return _page(400, f"redirect_uri {redirect_uri!r} is not registered for this client.")
    error = None
    if params["response_type"] != "code":
        error = "unsupported_response_type"
    elif profile.provider == "xero" and not params["scope"]:
        error = "invalid_scope"
    elif params["code_challenge"] and (
        not profile.pkce or params["code_challenge_method"] != "S256"
    ):
        error = "invalid_request"
    if error is None:
        return None
    answer = {"error": error, **({"state": params["state"]} if params["state"] else {})}
    return RedirectResponse(_with_query(redirect_uri, answer), status_code=302)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _page(status: int, message: str) -> HTMLResponse:
    return HTMLResponse(error_page(message), status_code=status)


for _profile in PROFILES.values():
    _authorize_routes(_profile)


# --- token ---------------------------------------------------------------------------


@router.post("/xero/identity/connect/token")
async def xero_token(request: Request, state: SandboxState = Depends(sandbox_state)) -> Response:
    return await _token(request, state, "xero")


@router.post("/quickbooks/oauth2/v1/tokens/bearer")
async def quickbooks_token(
    request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    return await _token(request, state, "quickbooks")


@router.post("/lightspeed/{domain_prefix}/api/1.0/token")
async def lightspeed_token(
    domain_prefix: str, request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    return await _token(request, state, "lightspeed", domain_prefix)


async def _token(
    request: Request, state: SandboxState, provider: str, domain_prefix: str | None = None
) -> Response:
    form = await request.form()
    grant_type = str(form.get("grant_type") or "")
    setattr(request.state, GRANT_TYPE_KEY, grant_type)
    client_id, secret, used_basic = _client_credentials(request, form)
    try:
        state.tokens.authenticate_client(client_id, secret)
        grant = _grant_for(state, provider, grant_type, form, client_id, secret)
        if domain_prefix is not None and domain_prefix not in grant.account_ids:
            raise OAuthError("invalid_grant", "This grant is for another store.")
    except OAuthError as error:
        return _oauth_error(provider, error, used_basic)
    settings = state.settings
    access_seconds = settings.access_token_seconds(provider)
    access_token = _xero_access_token(grant, access_seconds, state) if provider == "xero" else ""
    pair = state.tokens.issue_tokens(
        grant, access_seconds, settings.refresh_token_seconds(provider), access_token
    )
    return JSONResponse(
        _token_body(provider, grant, pair, state),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _grant_for(
    state: SandboxState,
    provider: str,
    grant_type: str,
    form: FormData,
    client_id: str,
    secret: str | None,
) -> Grant:
    if grant_type == "authorization_code":
        verifier = form.get("code_verifier")
        return state.tokens.redeem_code(
            provider,
            str(form.get("code") or ""),
            client_id,
            str(form.get("redirect_uri") or ""),
            client_authenticated=secret is not None,
            code_verifier=str(verifier) if verifier else None,
        )
    if grant_type == "refresh_token":
        grace = state.settings.xero_refresh_grace_seconds if provider == "xero" else 0
        grant = state.tokens.use_refresh_token(
            provider, str(form.get("refresh_token") or ""), client_id, grace
        )
        if secret is None and not grant.public:
            raise OAuthError("invalid_client", "A client secret is required.")
        return grant
    raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")


def _client_credentials(request: Request, form: FormData) -> tuple[str, str | None, bool]:
    """(client_id, client_secret or None, whether HTTP Basic was used)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except ValueError:
            decoded = ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret), True
    posted = form.get("client_secret")
    return str(form.get("client_id") or ""), str(posted) if posted else None, False


def _oauth_error(provider: str, error: OAuthError, used_basic: bool) -> JSONResponse:
    status = 401 if error.error == "invalid_client" and used_basic else 400
    body = {"error": error.error}
    if provider != "xero":  # Xero answers with the bare code
        body["error_description"] = error.description
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _token_body(
    provider: str, grant: Grant, pair: TokenPair, state: SandboxState
) -> dict[str, Any]:
    now = pair.issued_ms
    expires_in = (pair.access_expires_ms - now) // 1000
    if provider == "xero":
        body: dict[str, Any] = {
            "access_token": pair.access_token,
            "expires_in": expires_in,
            "token_type": "Bearer",
            "scope": grant.scope,
        }
        if "offline_access" in grant.scope.split():
            body["refresh_token"] = pair.refresh_token
        if "openid" in grant.scope.split():
            body["id_token"] = _xero_id_token(grant, state)
        return body
    if provider == "quickbooks":
        return {
            "token_type": "bearer",
            "expires_in": expires_in,
            "refresh_token": pair.refresh_token,
            "x_refresh_token_expires_in": (pair.refresh_expires_ms - now) // 1000,
            "access_token": pair.access_token,
        }
    return {
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires": pair.access_expires_ms // 1000,
        "expires_in": expires_in,
        "refresh_token": pair.refresh_token,
        "domain_prefix": sorted(grant.account_ids)[0] if grant.account_ids else None,
        "scope": grant.scope,
    }


def _xero_access_token(grant: Grant, lifetime_seconds: int, state: SandboxState) -> str:
    """A JWT shaped like Xero's, so clients that read its claims find them."""
    now = state.clock.time_ms() // 1000
    claims = {
        "iss": "https://identity.xero.com",
        "nbf": now,
        "exp": now + lifetime_seconds,
        "client_id": grant.client_id,
        "sub": grant.grant_id,
        "auth_time": grant.created_ms // 1000,
        "xero_userid": grant.grant_id,
        "global_session_id": grant.grant_id,
        "jti": uuid.uuid4().hex,
        "authentication_event_id": grant.grant_id,
        "scope": grant.scope.split(),
    }
    return jwt.encode(claims, _JWT_KEY, algorithm="HS256")


def _xero_id_token(grant: Grant, state: SandboxState) -> str:
    now = state.clock.time_ms() // 1000
    claims = {
        "iss": "https://identity.xero.com",
        "aud": grant.client_id,
        "iat": now,
        "exp": now + 300,
        "sub": grant.grant_id,
        "xero_userid": grant.grant_id,
        "email": "sandbox.user@example.com",
        "given_name": "Sandbox",
        "family_name": "User",
    }
    return jwt.encode(claims, _JWT_KEY, algorithm="HS256")


# --- revocation ----------------------------------------------------------------------


@router.post("/xero/identity/connect/revocation")
async def xero_revoke(request: Request, state: SandboxState = Depends(sandbox_state)) -> Response:
    form = await request.form()
    return _revoke(state, request, form, "xero", str(form.get("token") or ""))


@router.post("/quickbooks/oauth2/v1/tokens/revoke")
async def quickbooks_revoke(
    request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    """Intuit's clients send ``{"token": ...}`` as JSON; a form body works too."""
    if request.headers.get("content-type", "").startswith("application/json"):
        form = FormData()
        payload = await request.json()
        token = str(payload.get("token") or "") if isinstance(payload, dict) else ""
    else:
        form = await request.form()
        token = str(form.get("token") or "")
    return _revoke(state, request, form, "quickbooks", token)


def _revoke(
    state: SandboxState, request: Request, form: FormData, provider: str, token: str
) -> Response:
    client_id, secret, used_basic = _client_credentials(request, form)
    try:
        state.tokens.authenticate_client(client_id, secret)
        if secret is None:
            raise OAuthError("invalid_client", "A client secret is required.")
    except OAuthError as error:
        return _oauth_error(provider, error, used_basic)
    if not token:
        return _oauth_error(provider, OAuthError("invalid_request", "token is required."), False)
    state.tokens.revoke_token(provider, token)  # unknown tokens are not an error (RFC 7009)
    return Response(status_code=200)


# --- discovery -----------------------------------------------------------------------


def _discovery(provider: str) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def discovery(request: Request) -> JSONResponse:
        origin = str(request.base_url).rstrip("/")
        urls = endpoint_urls(origin)[provider]
        return JSONResponse(
            {
                "issuer": origin + f"/{provider}",
                "authorization_endpoint": urls["authorize_url"],
                "token_endpoint": urls["token_url"],
                "revocation_endpoint": urls["revoke_url"],
                "userinfo_endpoint": origin + f"/{provider}/userinfo",
                "jwks_uri": origin + f"/{provider}/jwks",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"] if provider == "xero" else [],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            }
        )

    return discovery


router.add_api_route("/xero/identity/.well-known/openid-configuration", _discovery("xero"))
for _name in ("openid_configuration", "openid_sandbox_configuration"):
    router.add_api_route(f"/quickbooks/.well-known/{_name}", _discovery("quickbooks"))


@router.get("/xero/jwks")
@router.get("/quickbooks/jwks")
async def jwks() -> dict[str, list[Any]]:
    """No public keys: sandbox tokens are signed with a secret, not to be verified."""
    return {"keys": []}
