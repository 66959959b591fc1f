"""JWTs issued by the host app: HS256 with a shared secret, or RS256 through a JWKS URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from ledgerbridge.db.base import utcnow
from ledgerbridge.security.roles import Role
from ledgerbridge.settings import Settings

JWKS_CACHE_SECONDS = 300
_ID = re.compile(r"[^\x00-\x1f\x7f]{1,128}")  # printable, as the database stores it


class InvalidToken(Exception):
    """The token is malformed, expired, badly signed or lacks a claim we need."""


@dataclass(frozen=True)
class Claims:
    subject: str
    tenant_id: str
    role: Role


class TokenVerifier:
    """Verifies host-app JWTs; holds the JWKS client so signing keys are cached by ``kid``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS)
            if settings.jwt_jwks_url
            else None
        )

    def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
            key: Any
            if header.get("alg") == "HS256" and self._secret:
                key, algorithms = self._secret, ["HS256"]
            elif header.get("alg") == "RS256" and self._jwks:
                key, algorithms = self._jwks.get_signing_key_from_jwt(token).key, ["RS256"]
            else:
                raise InvalidToken(f"unsupported or unconfigured algorithm {header.get('alg')!r}")
            payload = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=self._settings.jwt_leeway_seconds,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self._settings.jwt_audience is not None,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        return _claims(payload)


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
