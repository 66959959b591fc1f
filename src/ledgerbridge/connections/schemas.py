"""API shapes for connections and mappings. Never a token."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, HttpUrl

from ledgerbridge.connections.models import (
    Connection,
    ConnectionStatus,
    LocationMapping,
    OAuthGrant,
    OrganisationMapping,
)
from ledgerbridge.providers import Provider
from ledgerbridge.providers.identifiers import DomainPrefix, RealmId
from ledgerbridge.schemas import Identifier


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


class ConnectionOut(BaseModel):
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
    def of(cls, row: Connection, grant: OAuthGrant | None) -> ConnectionOut:
        return cls(
            id=str(row.id),
            provider=Provider(row.provider),
            external_account_id=row.external_account_id,
            external_account_name=row.external_account_name,
            status=ConnectionStatus(row.status),
            status_reason=row.status_reason,
            scopes=grant.scopes if grant else [],
            access_token_expires_at=grant.access_expires_at if grant else None,
            last_refreshed_at=grant.last_refreshed_at if grant else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            disconnected_at=row.disconnected_at,
        )


class ConnectResult(BaseModel):
    connections: list[ConnectionOut]


class OrganisationMappingIn(BaseModel):
    connection_id: str = Field(pattern=r"^[0-9]{1,18}$")


class OrganisationMappingOut(BaseModel):
    external_org_id: str
    connection_id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: OrganisationMapping) -> OrganisationMappingOut:
        return cls(
            external_org_id=row.external_org_id,
            connection_id=str(row.connection_id),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class LocationMappingIn(OrganisationMappingIn):
    provider_location_id: Identifier | None = None


class LocationMappingOut(BaseModel):
    external_location_id: str
    connection_id: str
    provider_location_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: LocationMapping) -> LocationMappingOut:
        return cls(
            external_location_id=row.external_location_id,
            connection_id=str(row.connection_id),
            provider_location_id=row.provider_location_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
