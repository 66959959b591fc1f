"""Liveness (``/health``), readiness (``/ready``) and ``/metrics``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ledgerbridge import __version__
from ledgerbridge.services import Services, services

DEPENDENCY_DEADLINE = 1.2
OVERALL_DEADLINE = 2.0
router = APIRouter(tags=["health"])


@router.get("/health")
def health(svc: Annotated[Services, Depends(services)]) -> dict[str, Any]:
    """Liveness: always 200 while the process serves requests; checks nothing else."""
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    if svc.settings.commit:
        body["commit"] = svc.settings.commit
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
    from ledgerbridge.preflight import vault_problems

    if vault_problems(svc.db, svc.vault, every_key=False):
        raise VaultMismatch


@router.get("/ready")
async def ready(svc: Annotated[Services, Depends(services)]) -> JSONResponse:
    """Readiness: the database (and Redis, when configured) answer within their deadlines,
    and the token-encryption keys decrypt the latest stored provider tokens."""
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
def metrics(request: Request) -> Response:
    payload, content_type = request.app.state.metrics.render()
    return Response(payload, media_type=content_type)
