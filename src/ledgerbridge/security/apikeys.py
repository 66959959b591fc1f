"""API keys: ``lb_<prefix>_<secret>``, shown once, stored as a keyed hash of the secret.

The public prefix finds the row; the HMAC of the high-entropy secret under the server's
secret key proves possession without the database ever holding anything usable.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledgerbridge.db.base import utcnow
from ledgerbridge.security.models import ApiKey
from ledgerbridge.security.roles import Role, Scope

_KEY = re.compile(r"^lb_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$")
_ALPHABET = string.ascii_letters + string.digits
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedKey:
    row: ApiKey
    key: str  # the only time the full key exists outside the caller's hands


def _hash(secret_key: str, secret: str) -> str:
    return hmac.new(secret_key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def create(
    session: Session,
    *,
    secret_key: str,
    tenant_id: str,
    name: str,
    role: Role,
    scopes: list[Scope],
    created_by: str,
) -> CreatedKey:
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret_key, secret),
        role=role.value,
        scopes=sorted({scope.value for scope in scopes}),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return CreatedKey(row, f"lb_{prefix}_{secret}")


def verify(session: Session, *, secret_key: str, presented: str) -> ApiKey | None:
    """The live key ``presented`` proves, or None. ``session`` must be system-level."""
    match = _KEY.match(presented.strip())
    if not match:
        return None
    prefix, secret = match.groups()
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(secret_key, secret)):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row


def list_keys(session: Session, *, include_revoked: bool = False) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke(session: Session, key_id: int, *, at: datetime | None = None) -> ApiKey | None:
    row = session.get(ApiKey, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = at or utcnow()
    return row
