"""API shapes for API-key management."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from ledgerbridge.schemas import FromRow, Name
from ledgerbridge.security.roles import Role, Scope


class ApiKeyCreate(BaseModel):
    name: Name
    role: Role = Role.developer
    scopes: list[Scope] = Field(
        default_factory=list, max_length=len(Scope), description="Empty: every area."
    )
    expires_at: AwareDatetime | None = Field(
        None, description="When the key stops working (ISO-8601 with a time zone)."
    )
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="Or: how many days from now the key works."
    )

    @model_validator(mode="after")
    def _one_expiry(self) -> ApiKeyCreate:
        if self.expires_at is not None and self.expires_in_days is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        return self


class ApiKeyOut(FromRow):
    id: str
    name: str
    prefix: str
    role: Role
    scopes: list[Scope]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="Recorded to the minute.")
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown once: store it now.")
