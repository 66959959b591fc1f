"""Routes: the host app's organisation and location ids → connections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledgerbridge.connections.models import (
    Connection,
    ConnectionStatus,
    LocationMapping,
    OrganisationMapping,
)
from ledgerbridge.connections.schemas import (
    LocationMappingIn,
    LocationMappingOut,
    OrganisationMappingIn,
    OrganisationMappingOut,
)
from ledgerbridge.errors import conflict, existing
from ledgerbridge.pagination import Cursor, Limit, Page, page_of
from ledgerbridge.routing import ConnectionsAdmin, ConnectionsViewer
from ledgerbridge.security.principal import TenantSession

router = APIRouter(tags=["mappings"])
ExternalId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _live_connection(session: Session, connection_id: str) -> Connection:
    """The caller's connection, able to take a mapping (another tenant's is a 404)."""
    connection = existing(session.get(Connection, int(connection_id)), "connection")
    if connection.status == ConnectionStatus.disconnected:
        raise conflict(f"connection {connection.id} is disconnected: reconnect it first")
    return connection


def _organisation(session: Session, external_org_id: str) -> OrganisationMapping | None:
    return session.scalars(
        select(OrganisationMapping).where(OrganisationMapping.external_org_id == external_org_id)
    ).one_or_none()


@router.put("/v1/organisation-mappings/{external_org_id}", response_model=OrganisationMappingOut)
def put_organisation_mapping(
    external_org_id: ExternalId,
    body: OrganisationMappingIn,
    _: ConnectionsAdmin,
    session: TenantSession,
) -> OrganisationMappingOut:
    connection = _live_connection(session, body.connection_id)
    row = _organisation(session, external_org_id)
    if row is None:
        row = OrganisationMapping(external_org_id=external_org_id, connection_id=connection.id)
        session.add(row)
    row.connection_id = connection.id
    session.flush()
    return OrganisationMappingOut.of(row)


@router.get("/v1/organisation-mappings/{external_org_id}", response_model=OrganisationMappingOut)
def get_organisation_mapping(
    external_org_id: ExternalId, _: ConnectionsViewer, session: TenantSession
) -> OrganisationMappingOut:
    row = existing(_organisation(session, external_org_id), "organisation mapping")
    return OrganisationMappingOut.of(row)


@router.delete("/v1/organisation-mappings/{external_org_id}", status_code=204)
def delete_organisation_mapping(
    external_org_id: ExternalId, _: ConnectionsAdmin, session: TenantSession
) -> None:
    session.delete(existing(_organisation(session, external_org_id), "organisation mapping"))


@router.get("/v1/organisation-mappings", response_model=Page[OrganisationMappingOut])
def list_organisation_mappings(
    _: ConnectionsViewer, session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[OrganisationMappingOut]:
    return page_of(session, select(OrganisationMapping), limit, cursor, OrganisationMappingOut.of)


def _location(session: Session, external_location_id: str) -> LocationMapping | None:
    return session.scalars(
        select(LocationMapping).where(LocationMapping.external_location_id == external_location_id)
    ).one_or_none()


@router.put("/v1/location-mappings/{external_location_id}", response_model=LocationMappingOut)
def put_location_mapping(
    external_location_id: ExternalId,
    body: LocationMappingIn,
    _: ConnectionsAdmin,
    session: TenantSession,
) -> LocationMappingOut:
    connection = _live_connection(session, body.connection_id)
    row = _location(session, external_location_id)
    if row is None:
        row = LocationMapping(
            external_location_id=external_location_id, connection_id=connection.id
        )
        session.add(row)
    row.connection_id = connection.id
    row.provider_location_id = body.provider_location_id
    session.flush()
    return LocationMappingOut.of(row)


@router.get("/v1/location-mappings/{external_location_id}", response_model=LocationMappingOut)
def get_location_mapping(
    external_location_id: ExternalId, _: ConnectionsViewer, session: TenantSession
) -> LocationMappingOut:
    row = existing(_location(session, external_location_id), "location mapping")
    return LocationMappingOut.of(row)


@router.delete("/v1/location-mappings/{external_location_id}", status_code=204)
def delete_location_mapping(
    external_location_id: ExternalId, _: ConnectionsAdmin, session: TenantSession
) -> None:
    session.delete(existing(_location(session, external_location_id), "location mapping"))


@router.get("/v1/location-mappings", response_model=Page[LocationMappingOut])
def list_location_mappings(
    _: ConnectionsViewer, session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[LocationMappingOut]:
    return page_of(session, select(LocationMapping), limit, cursor, LocationMappingOut.of)
