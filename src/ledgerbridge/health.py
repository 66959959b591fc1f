"""Liveness (``/health``), readiness (``/ready``) and ``/metrics``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ledgerbridge import __version__
from ledgerbridge.errors import RETRY_AFTER
from ledgerbridge.preflight import vault_problems
from ledgerbridge.services import Services

DEPENDENCY_DEADLINE = 1.2
OVERALL_DEADLINE = 2.0
router = APIRouter(tags=["health"])


# These three are async and take no sync dependency: a sync route or dependency would
# wait for a thread of the pool that every other request's work queues for.


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


class Check(BaseModel):
    status: Literal["ok", "failed"]
    error: str | None = None
    duration_ms: float | None = None


class Readiness(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, Check] = Field(description="Each dependency's answer, by name.")


class Liveness(BaseModel):
    status: Literal["ok"]
    version: str
    commit: str | None = None


@router.get("/health", response_model=Liveness, response_model_exclude_none=True)
async def get_health(request: Request) -> dict[str, Any]:
    """Liveness: always 200 while the process serves requests; checks nothing else."""
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    commit = _services(request).settings.commit
    if commit:
        body["commit"] = commit
    return body


async def _check(name: str, probe: Callable[[], Awaitable[Any]]) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), DEPENDENCY_DEADLINE)
        result: dict[str, Any] = {"status": "ok"}
    except TimeoutError:
        result = {"status": "failed", "error": f"no answer within {DEPENDENCY_DEADLINE}s"}
    except Exception as exc:
        result = {"status": "failed", "error": type(exc).__name__}
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return name, result


class VaultMismatch(Exception):
    """The token-encryption keys do not decrypt the latest stored provider tokens."""


def _vault_decrypts(svc: Services) -> None:
    if vault_problems(svc.db, svc.vault, every_key=False):
        raise VaultMismatch


@router.get(
    "/ready",
    response_model=Readiness,
    responses={
        503: {"model": Readiness, "description": "A dependency failed", "headers": RETRY_AFTER}
    },
)
async def get_readiness(request: Request) -> JSONResponse:
    """Readiness: the database (and Redis, when configured) answer within their deadlines,
    and the token-encryption keys decrypt the latest stored provider tokens."""
    svc = _services(request)
    checks = [
        _check("database", lambda: asyncio.to_thread(svc.db.ping)),
        _check("vault", lambda: asyncio.to_thread(_vault_decrypts, svc)),
    ]
    if svc.redis is not None:
        redis = svc.redis
        checks.append(_check("redis", lambda: redis.ping()))
    try:
        results = dict(await asyncio.wait_for(asyncio.gather(*checks), OVERALL_DEADLINE))
    except TimeoutError:
        results = {"all": {"status": "failed", "error": f"no answer within {OVERALL_DEADLINE}s"}}
    healthy = all(r["status"] == "ok" for r in results.values())
    headers = {"Cache-Control": "no-store"}
    if not healthy:
        headers["Retry-After"] = "5"
    body = {"status": "ok" if healthy else "degraded", "checks": results}
    return JSONResponse(body, status_code=200 if healthy else 503, headers=headers)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    # Off the event loop: some counters are read from the database (metrics.Totals).
    payload, content_type = await asyncio.wait_for(
        asyncio.to_thread(request.app.state.metrics.render), OVERALL_DEADLINE
    )
    return Response(payload, media_type=content_type)
