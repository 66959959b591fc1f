"""API shapes for API-key management."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ledgerbridge.schemas import Name
from ledgerbridge.security.models import ApiKey
from ledgerbridge.security.roles import Role, Scope


class ApiKeyCreate(BaseModel):
    name: Name
    role: Role = Role.developer
    scopes: list[Scope] = Field(
        default_factory=list, max_length=len(Scope), description="Empty: every area."
    )


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    role: Role
    scopes: list[Scope]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyOut:
        return cls(
            id=str(row.id),
            name=row.name,
            prefix=row.prefix,
            role=Role(row.role),
            scopes=[Scope(s) for s in row.scopes],
            created_by=row.created_by,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown once: store it now.")
