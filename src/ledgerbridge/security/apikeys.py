"""API keys: ``lb_<prefix>_<secret>``, shown once, stored as a keyed hash of the secret.

The public prefix finds the row; the HMAC of the high-entropy secret under the server's
secret key proves possession without the database ever holding anything usable.

Verifying a key only reads. What a use changes (``last_used_at``, and the hash of a key
still under a previous secret key) is written afterwards in a transaction of its own, at
most once a minute per key and process, by a thread of its own (:class:`KeyUses`), so a
keyed request never takes or waits for a write lock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.security.models import ApiKey
from ledgerbridge.security.roles import Role, Scope

_KEY = re.compile(r"^lb_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$")
_ALPHABET = string.ascii_letters + string.digits
LAST_USED_RESOLUTION = timedelta(minutes=1)
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CreatedKey:
    row: ApiKey
    key: str  # the only time the full key exists outside the caller's hands


@dataclass(frozen=True)
class VerifiedKey:
    row: ApiKey  # detached: read it, never write through it
    current_hash: str | None  # the hash under the current secret key, when a previous one matched

    def use_to_record(self, now: datetime) -> bool:
        """Whether this use changes the row: a stale ``last_used_at`` or an old hash."""
        last = self.row.last_used_at
        return self.current_hash is not None or last is None or now - last > LAST_USED_RESOLUTION


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
    expires_at: datetime | None = None,
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
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return CreatedKey(row, f"lb_{prefix}_{secret}")


def verify(
    session: Session, *, secret_keys: Sequence[str], presented: str, now: datetime | None = None
) -> VerifiedKey | None:
    """The live key ``presented`` proves, or None. ``session`` must be system-level.

    ``secret_keys`` holds the current secret key first, then the previous ones still
    accepted during a rotation. Nothing is written here: see :func:`record_use`.
    """
    match = _KEY.match(presented.strip())
    if not match or not secret_keys:
        return None
    prefix, secret = match.groups()
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return None
    for index, secret_key in enumerate(secret_keys):
        if hmac.compare_digest(row.secret_hash, _hash(secret_key, secret)):
            session.expunge(row)
            return VerifiedKey(row, _hash(secret_keys[0], secret) if index else None)
    return None


def record_use(db: Database, used: VerifiedKey, at: datetime) -> None:
    """Stamp ``last_used_at`` (and move an old hash to the current secret key), alone.

    Conditional updates keep it at most once a minute per key across processes; a failure
    (a busy database) is logged and left for a later use.
    """
    values: dict[str, object] = {"last_used_at": at}
    query = update(ApiKey).where(ApiKey.id == used.row.id)
    if used.current_hash is not None:
        query = query.where(ApiKey.secret_hash == used.row.secret_hash)
        values["secret_hash"] = used.current_hash
    else:
        query = query.where(
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at - LAST_USED_RESOLUTION)
        )
    try:
        with db.system() as session:
            session.execute(query.values(**values))
    except SQLAlchemyError as exc:
        log.warning("API key use not recorded", key_id=used.row.id, error_type=type(exc).__name__)


class KeyUses:
    """Records key uses off the request: at most once a minute per key, one writer thread.

    The write waits for its own turn at the database (on SQLite, another request's write
    lock) without holding up the request that used the key.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._at: dict[int, float] = {}
        self._lock = threading.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-key-uses")

    def record(self, used: VerifiedKey, at: datetime) -> None:
        if used.use_to_record(at) and self._claim(used.row.id):
            self._writer.submit(record_use, self._db, used, at)

    def _claim(self, key_id: int) -> bool:
        now = time.monotonic()
        horizon = LAST_USED_RESOLUTION.total_seconds()
        with self._lock:
            if now - self._at.get(key_id, -horizon) < horizon:
                return False
            if len(self._at) > 10_000:
                self._at = {k: t for k, t in self._at.items() if now - t < horizon}
            self._at[key_id] = now
            return True

    def close(self) -> None:
        self._writer.shutdown(wait=True)


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
