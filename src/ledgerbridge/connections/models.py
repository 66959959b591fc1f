"""Tables owned by the connections capability.

An ``OAuthGrant`` is one consent and its (encrypted) tokens; a ``Connection`` is one
provider account reached through a grant. One Xero consent may cover several
organisations: their connections share one grant, so a refresh rotates one token.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ledgerbridge.db.base import Base, BigId, TenantOwned, Timestamps, utcnow


class ConnectionStatus(StrEnum):
    active = "active"
    needs_reauth = "needs_reauth"
    disconnected = "disconnected"


class OAuthGrant(TenantOwned, Timestamps, Base):
    __tablename__ = "oauth_grants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    # The account the token endpoint is addressed by (Lightspeed's is per store).
    token_account: Mapped[str | None] = mapped_column(String(128))
    access_token: Mapped[str | None] = mapped_column(Text)  # vault ciphertext
    refresh_token: Mapped[str | None] = mapped_column(Text)  # vault ciphertext
    access_expires_at: Mapped[datetime | None]
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_refreshed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Who is refreshing the tokens right now, and until when (connections/tokens.py).
    refresh_lease_holder: Mapped[str | None] = mapped_column(String(64))
    refresh_lease_until: Mapped[datetime | None]


class Connection(TenantOwned, Timestamps, Base):
    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("tenant_id", "provider", "external_account_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    external_account_id: Mapped[str] = mapped_column(String(128))
    external_account_name: Mapped[str] = mapped_column(String(300))
    provider_connection_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=ConnectionStatus.active.value)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("oauth_grants.id"), index=True)
    connected_by: Mapped[str] = mapped_column(String(200))
    disconnected_at: Mapped[datetime | None]
    sync_interval_minutes: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    sync_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class OAuthState(TenantOwned, Base):
    """A pending authorization: single-use, short-lived, bound to the tenant and user."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(200))
    code_verifier: Mapped[str | None] = mapped_column(Text)  # vault ciphertext
    redirect_uri: Mapped[str] = mapped_column(String(500))
    redirect_after: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    started_at: Mapped[datetime | None]  # when a browser opened the start link (once)
    used_at: Mapped[datetime | None]


class OrganisationMapping(TenantOwned, Timestamps, Base):
    __tablename__ = "organisation_mappings"
    __table_args__ = (UniqueConstraint("tenant_id", "external_org_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_org_id: Mapped[str] = mapped_column(String(200))
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)


class LocationMapping(TenantOwned, Timestamps, Base):
    __tablename__ = "location_mappings"
    __table_args__ = (UniqueConstraint("tenant_id", "external_location_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_location_id: Mapped[str] = mapped_column(String(200))
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    provider_location_id: Mapped[str | None] = mapped_column(String(200))
