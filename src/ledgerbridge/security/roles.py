"""Roles, ordered by what they may do, and the scopes an API key can be narrowed to."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"  # reads
    developer = "developer"  # reads and triggers (syncs, pushes, runs)
    admin = "admin"  # manages keys and connections
    owner = "owner"  # everything

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class Scope(StrEnum):
    """API areas; an API key with scopes may call only those areas."""

    api_keys = "api-keys"
    connections = "connections"
    sync = "sync"
    records = "records"
    push = "push"
    reconcile = "reconcile"
    events = "events"
    audit = "audit"
