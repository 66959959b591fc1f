"""What every capability's routes take: the process's services and the caller each area's
routes admit (at least a role, and the area's scope on an API key). The security package's
own routes, which this module builds on, declare their caller themselves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import Parameter, signature
from typing import Annotated, Any, TypeVar

from fastapi import Depends

from ledgerbridge.security.principal import Principal, requires
from ledgerbridge.security.roles import Role, Scope
from ledgerbridge.services import Services, services

Svc = Annotated[Services, Depends(services)]
T = TypeVar("T")


AuditAdmin = Annotated[Principal, Depends(requires(Role.admin, Scope.audit))]
ConnectionsAdmin = Annotated[Principal, Depends(requires(Role.admin, Scope.connections))]
ConnectionsViewer = Annotated[Principal, Depends(requires(Role.viewer, Scope.connections))]
EventsAdmin = Annotated[Principal, Depends(requires(Role.admin, Scope.events))]
EventsDeveloper = Annotated[Principal, Depends(requires(Role.developer, Scope.events))]
EventsViewer = Annotated[Principal, Depends(requires(Role.viewer, Scope.events))]
PushDeveloper = Annotated[Principal, Depends(requires(Role.developer, Scope.push))]
PushViewer = Annotated[Principal, Depends(requires(Role.viewer, Scope.push))]
ReconcileDeveloper = Annotated[Principal, Depends(requires(Role.developer, Scope.reconcile))]
ReconcileViewer = Annotated[Principal, Depends(requires(Role.viewer, Scope.reconcile))]
RecordsViewer = Annotated[Principal, Depends(requires(Role.viewer, Scope.records))]
SyncAdmin = Annotated[Principal, Depends(requires(Role.admin, Scope.sync))]
SyncDeveloper = Annotated[Principal, Depends(requires(Role.developer, Scope.sync))]
SyncViewer = Annotated[Principal, Depends(requires(Role.viewer, Scope.sync))]


def built_on_the_loop(cls: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``cls`` (a dataclass of query parameters) as a dependency FastAPI calls on the event
    loop: given to ``Depends`` as it is, it would be called in the thread pool, a hop that
    costs far more than building a few fields."""

    async def build(**values: Any) -> T:
        return cls(**values)

    setattr(build, "__signature__", signature(cls, eval_str=True))  # noqa: B010
    return build


def keyword(name: str, annotation: Any, **default: Any) -> Parameter:
    """A parameter of a route whose signature is built at run time (FastAPI reads it)."""
    return Parameter(name, Parameter.KEYWORD_ONLY, annotation=annotation, **default)
