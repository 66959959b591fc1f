"""Telling a provider that a grant is over, once the database has let go of it.

Disconnecting and reconnecting change our rows first, in one short transaction: the
connection stops using the grant and the grant's access token is wiped, while its refresh
token stays (encrypted) only as long as the provider has not yet revoked it. Then, with
no transaction open, the provider is called; on success the grant is wiped for good.
A failed call is logged (never a token) and retried durably on DBOS; an hourly sweep
picks up any grant that no connection uses and still holds a token.

Invariant: a grant that no connection uses holds a token only while its revocation is
pending. Lightspeed has no revocation endpoint: its grants are only wiped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import structlog
from sqlalchemy import ColumnElement, exists, or_, select, update

from ledgerbridge.audit.service import record_calls
from ledgerbridge.connections.models import Connection, OAuthGrant
from ledgerbridge.connections.tokens import NeedsReauth, access_token, read_token, token_purpose
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.providers import Provider, accounts, oauth
from ledgerbridge.security.vault import Vault
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings

log = structlog.get_logger(__name__)

REVOKE_WORKFLOW = "ledgerbridge.revoke_grant"
REVOKE_QUEUE = "ledgerbridge-revoke"


@dataclass(frozen=True)
class Pending:
    """A grant to revoke; with ``xero_connection_id``, only that organisation is removed
    from a Xero consent that other connections still use."""

    grant_id: int
    xero_connection_id: str | None = None
    connection_id: int | None = None  # the connection it was let go for (the audit log's)


class RevocationFailed(Exception):
    """The provider could not be told (yet); the message never holds a token."""


def unused(grant_id: Any) -> ColumnElement[bool]:
    """SQL: no connection uses the grant."""
    return ~exists(select(Connection.id).where(Connection.grant_id == grant_id))


def revoke(db: Database, vault: Vault, settings: Settings, pending: Pending) -> None:
    """Tell the provider, then wipe the grant; ``RevocationFailed`` when it must be retried."""
    with db.system(read_only=True) as session:
        grant = session.get(OAuthGrant, pending.grant_id)
        if grant is None or (grant.access_token is None and grant.refresh_token is None):
            return
        user = session.scalar(select(Connection.id).where(Connection.grant_id == grant.id).limit(1))
        tenant_id, provider = grant.tenant_id, Provider(grant.provider)
        refresh_token = read_token(vault, grant, "refresh") if user is None else None
    calls: list[oauth.Call] = []
    try:
        if user is not None:
            if pending.xero_connection_id and provider is Provider.xero:
                _remove_xero_organisation(
                    db, vault, settings, user, pending.xero_connection_id, calls.append
                )
            return
        if refresh_token is not None:
            _revoke_at_provider(settings, provider, refresh_token, calls.append)
        _wipe(db, pending.grant_id)
    finally:
        connection_id = pending.connection_id or user
        record_calls(db, token_purpose(tenant_id, connection_id, pending.grant_id), calls)


def _revoke_at_provider(
    settings: Settings, provider: Provider, refresh_token: str, observe: oauth.Observer
) -> None:
    try:
        oauth.revoke(settings, provider, refresh_token=refresh_token, observe=observe)
    except oauth.NotConfigured:
        # No OAuth client here any more: nothing can ever revoke it; the wipe still holds.
        log.warning("provider_revocation_impossible", provider=provider.value)
    except oauth.ProviderUnavailable as exc:
        raise RevocationFailed(f"{provider.value}: {exc}") from None


def _remove_xero_organisation(
    db: Database,
    vault: Vault,
    settings: Settings,
    connection_id: int,
    xero_connection_id: str,
    observe: oauth.Observer,
) -> None:
    try:
        token = access_token(db, vault, settings, connection_id).token
    except NeedsReauth:
        return  # the consent itself is gone: so is this organisation's place in it
    except oauth.ProviderUnavailable as exc:
        raise RevocationFailed(f"xero: {exc}") from None
    try:
        removed = accounts.disconnect_xero_tenant(settings, token, xero_connection_id, observe)
    except httpx.HTTPError as exc:
        raise RevocationFailed(f"xero: {type(exc).__name__}") from None
    if not removed:
        raise RevocationFailed("xero refused to remove the organisation from the consent")


def _wipe(db: Database, grant_id: int) -> None:
    with db.system() as session:
        session.execute(
            update(OAuthGrant)
            .where(OAuthGrant.id == grant_id, unused(OAuthGrant.id))
            .values(access_token=None, refresh_token=None, revoked_at=utcnow())
        )


def revoke_or_retry(svc: Services, pending: Iterable[Pending]) -> None:
    """Revoke now; what fails is logged and handed to DBOS to retry."""
    for item in pending:
        try:
            revoke(svc.db, svc.vault, svc.settings, item)
        except RevocationFailed as exc:
            log.warning(
                "provider_revocation_failed", grant_id=item.grant_id, error=str(exc), retry=True
            )
            enqueue(svc, item, workflow_id(item))
        except Exception as exc:  # the disconnect itself stands; the sweep tries again
            log.error(
                "provider_revocation_failed",
                grant_id=item.grant_id,
                error=type(exc).__name__,
                retry="sweep",
            )


def workflow_id(item: Pending, suffix: str = "") -> str:
    organisation = f"-{item.xero_connection_id}" if item.xero_connection_id else ""
    return f"revoke-grant-{item.grant_id}{organisation}{suffix}"


def enqueue(svc: Services, item: Pending, workflow: str) -> None:
    try:
        svc.dbos_client().enqueue(
            {"workflow_name": REVOKE_WORKFLOW, "queue_name": REVOKE_QUEUE, "workflow_id": workflow},
            item.grant_id,
            item.xero_connection_id,
            item.connection_id,
        )
    except Exception as exc:  # DBOS unreachable: the hourly sweep finds the grant
        log.error("revocation_retry_not_queued", grant_id=item.grant_id, error=type(exc).__name__)


def unrevoked(db: Database) -> list[int]:
    """Grants that no connection uses and that still hold a token: revocations pending."""
    with db.system(read_only=True) as session:
        return list(
            session.scalars(
                select(OAuthGrant.id).where(
                    or_(
                        OAuthGrant.access_token.is_not(None), OAuthGrant.refresh_token.is_not(None)
                    ),
                    unused(OAuthGrant.id),
                )
            )
        )


def queue_unrevoked(svc: Services, now: datetime) -> int:
    """Queue a revocation for every grant no connection uses that still holds a token."""
    ids = unrevoked(svc.db)
    for grant_id in ids:
        item = Pending(grant_id)
        enqueue(svc, item, workflow_id(item, f"-sweep-{now:%Y%m%dT%H%M}"))
    return len(ids)
