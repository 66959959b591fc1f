"""JWTs issued by the host app: HS256 with a shared secret, or RS256 through a JWKS URL.

Rules: ``exp`` and ``sub`` always required; ``aud`` / ``iss`` required and checked when
configured; no token may live longer than ``LEDGERBRIDGE_JWT_MAX_AGE`` (``exp - iat``, or
``exp - now`` without ``iat``); with a JWKS URL, HS256 is accepted only when
``LEDGERBRIDGE_JWT_SECRET`` was set explicitly too. Refusals say what is wrong with the
token in fixed words, never a library's or a JWKS fetch's message.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from ledgerbridge.db.base import utcnow
from ledgerbridge.security.jwks import JwksKeys, KeyUnavailable
from ledgerbridge.security.roles import Role
from ledgerbridge.settings import Settings

_ID = re.compile(r"[^\x00-\x1f\x7f]{1,128}")  # printable, as the database stores it
_REASONS: list[tuple[type[jwt.PyJWTError], str]] = [
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is for another audience"),
    (jwt.InvalidIssuerError, "the token is from another issuer"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.DecodeError, "the token is malformed"),
]


class InvalidToken(Exception):
    """The token is malformed, expired, badly signed or lacks a claim we need."""


@dataclass(frozen=True)
class Claims:
    subject: str
    tenant_id: str
    role: Role


def hs256_secret(settings: Settings) -> str | None:
    """The HS256 secret, or None when HS256 is off (a JWKS URL without an explicit secret)."""
    if settings.jwt_secret is None:
        return None
    if settings.jwt_jwks_url and not (
        settings.explicitly_set("jwt_secret") and settings.explicitly_set("jwt_jwks_url")
    ):
        return None
    return settings.jwt_secret.get_secret_value()


class TokenVerifier:
    """Verifies host-app JWTs; holds the JWKS key cache."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._secret = hs256_secret(settings)
        self._jwks = (
            JwksKeys(
                settings.jwt_jwks_url,
                timeout=settings.jwks_timeout_seconds,
                failure_ttl=settings.jwks_failure_cache_seconds,
            )
            if settings.jwt_jwks_url
            else None
        )

    async def verify_async(self, token: str) -> Claims:
        """The token's claims; raises :class:`InvalidToken` with a message safe to show.

        A JWKS fetch it needs is awaited without holding a thread.
        """
        algorithm, kid = self._header(token)
        if algorithm == "HS256":
            return self.decode(token, self._secret, algorithm)
        assert self._jwks is not None
        try:
            key = await self._jwks.key(kid)
        except KeyUnavailable as exc:
            raise InvalidToken(str(exc)) from None
        return self.decode(token, key, algorithm)

    def verify(self, token: str) -> Claims:
        """The same, for callers off the event loop: may block on a JWKS fetch."""
        algorithm, kid = self._header(token)
        if algorithm == "HS256":
            return self.decode(token, self._secret, algorithm)
        assert self._jwks is not None
        try:
            key = self._jwks.key_blocking(kid)
        except KeyUnavailable as exc:
            raise InvalidToken(str(exc)) from None
        return self.decode(token, key, algorithm)

    def _header(self, token: str) -> tuple[str, Any]:
        """The token's algorithm, when accepted, and its ``kid``."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("the token is malformed") from None
        algorithm = header.get("alg")
        if (algorithm == "HS256" and self._secret) or (algorithm == "RS256" and self._jwks):
            return str(algorithm), header.get("kid")
        raise InvalidToken("the token's algorithm is not accepted")

    def decode(self, token: str, key: Any, algorithm: str) -> Claims:
        settings = self._settings
        required = ["exp", "sub"]
        required += ["aud"] if settings.jwt_audience is not None else []
        required += ["iss"] if settings.jwt_issuer is not None else []
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                leeway=settings.jwt_leeway_seconds,
                options={"require": required, "verify_aud": settings.jwt_audience is not None},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token lacks the {exc.claim} claim") from None
        except jwt.PyJWTError as exc:
            reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), None)
            raise InvalidToken(reason or "the token is not valid") from None
        _check_lifetime(payload, settings)
        return _claims(payload)


def _check_lifetime(payload: dict[str, Any], settings: Settings) -> None:
    issued = payload.get("iat")
    if isinstance(issued, int | float):
        lifetime, allowed = payload["exp"] - issued, settings.jwt_max_age
    else:
        lifetime = payload["exp"] - time.time()
        allowed = settings.jwt_max_age + settings.jwt_leeway_seconds
    if lifetime > allowed:
        raise InvalidToken(
            f"the token lives longer than {settings.jwt_max_age} s "
            "(LEDGERBRIDGE_JWT_MAX_AGE): issue shorter-lived tokens"
        )


def _claims(payload: dict[str, Any]) -> Claims:
    subject, tenant, role = payload.get("sub"), payload.get("org_id"), payload.get("role")
    if not isinstance(tenant, str) or not _ID.fullmatch(tenant):
        raise InvalidToken("claim org_id is missing or invalid")
    if not isinstance(subject, str) or not _ID.fullmatch(subject):
        raise InvalidToken("claim sub is missing or invalid")
    if not isinstance(role, str) or role not in Role.__members__:
        raise InvalidToken("claim role must be one of owner, admin, developer, viewer")
    return Claims(subject=subject, tenant_id=tenant, role=Role(role))


def issue_development_token(
    settings: Settings, *, org_id: str, role: Role, subject: str = "developer", hours: int = 12
) -> str:
    """A token signed with the development secret, for trying the API at once."""
    if settings.is_production or settings.jwt_secret is None:
        raise RuntimeError("development tokens are only issued outside production")
    now = utcnow()
    payload: dict[str, Any] = {
        "sub": subject,
        "org_id": org_id,
        "role": role.value,
        "iat": now,
        "exp": now + timedelta(hours=hours),
    }
    if settings.jwt_audience:
        payload["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        payload["iss"] = settings.jwt_issuer
    return jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm="HS256")
