"""Tenant isolation, in one place.

A session opened with ``tenant_session`` adds ``tenant_id = :tenant`` to every ORM query
on a ``TenantOwned`` table and stamps new rows with its tenant. On PostgreSQL it also sets
``app.tenant_id`` for each transaction, which row-level security policies check, as a
second wall. A ``system_session`` (workers, the CLI, authentication) sees every tenant.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria

from ledgerbridge.db.base import TenantOwned

TENANT = "tenant_id"
SYSTEM = "system"


class TenantMismatch(RuntimeError):
    """A session tried to write a row that belongs to another tenant."""


def scope(session: Session, tenant_id: str | None) -> Session:
    """Bind ``session`` to one tenant, or (``None``) to system-level access."""
    if tenant_id is None:
        session.info[SYSTEM] = True
        session.info.pop(TENANT, None)
    else:
        session.info[TENANT] = tenant_id
        session.info.pop(SYSTEM, None)
    return session


def _tenant_of(session: Session) -> str | None:
    tenant: str | None = session.info.get(TENANT)
    if tenant is None and not session.info.get(SYSTEM):
        raise RuntimeError("session is bound to no tenant: open it with tenant_session/system")
    return tenant


@event.listens_for(Session, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return
    tenant = _tenant_of(state.session)
    if tenant is None:
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.tenant_id == tenant,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _context: Any, _instances: Any) -> None:
    tenant = _tenant_of(session)
    if tenant is None:
        return
    for obj in [*session.new, *session.dirty]:
        if not isinstance(obj, TenantOwned):
            continue
        if getattr(obj, "tenant_id", None) is None:  # not yet stamped
            obj.tenant_id = tenant
        elif obj.tenant_id != tenant:
            raise TenantMismatch("a row of another tenant cannot be written here")


@event.listens_for(Session, "after_begin")
def _set_rls_tenant(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    tenant = _tenant_of(session)
    connection.execute(
        text(
            "SELECT set_config('app.tenant_id', :tenant, true), "
            "set_config('app.system', :sys, true)"
        ),
        {"tenant": tenant or "", "sys": "on" if tenant is None else "off"},
    )
