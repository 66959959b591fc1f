"""API shapes for connections and mappings. Never a token."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, Field, HttpUrl

from ledgerbridge.connections.models import (
    Connection,
    ConnectionStatus,
    OAuthGrant,
)
from ledgerbridge.providers import Provider
from ledgerbridge.providers.identifiers import DomainPrefix, RealmId
from ledgerbridge.schemas import FromRow, Identifier


class AuthorizeRequest(BaseModel):
    redirect_after: HttpUrl | None = Field(
        None, description="Where to send the browser after the callback (allow-listed origins)."
    )


class AuthorizeResponse(BaseModel):
    authorize_url: str
    state: str
    expires_at: datetime


class ManualConnect(BaseModel):
    authorization_code: str = Field(min_length=1, max_length=4096)
    redirect_uri: HttpUrl
    realm_id: RealmId | None = Field(
        None,
        description="QuickBooks (required there, refused elsewhere): the realmId, digits.",
    )
    domain_prefix: DomainPrefix | None = Field(
        None,
        description="Lightspeed (required there, refused elsewhere): the store's domain prefix, "
        "one DNS label (lowercase letters, digits, hyphens).",
    )


class ConnectionOut(FromRow):
    id: str
    provider: Provider
    external_account_id: str
    external_account_name: str
    status: ConnectionStatus
    status_reason: str | None
    scopes: list[str]
    access_token_expires_at: datetime | None
    last_refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    disconnected_at: datetime | None

    @classmethod
    def of(cls, row: Connection, /, grant: OAuthGrant | None = None, **given: Any) -> Self:
        return super().of(
            row,
            scopes=grant.scopes if grant else [],
            access_token_expires_at=grant.access_expires_at if grant else None,
            last_refreshed_at=grant.last_refreshed_at if grant else None,
            **given,
        )


class ConnectResult(BaseModel):
    connections: list[ConnectionOut]


class OrganisationMappingIn(BaseModel):
    connection_id: str = Field(pattern=r"^[0-9]{1,18}$")


class OrganisationMappingOut(FromRow):
    external_org_id: str
    connection_id: str
    created_at: datetime
    updated_at: datetime


class LocationMappingIn(OrganisationMappingIn):
    provider_location_id: Identifier | None = None


class LocationMappingOut(FromRow):
    external_location_id: str
    connection_id: str
    provider_location_id: str | None
    created_at: datetime
    updated_at: datetime
