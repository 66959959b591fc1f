"""One attempt of a delivery: send it (outside any transaction), then record what came of
it and decide the next attempt.

A 2xx within the timeout (15 s) is success. Anything else is retried on the schedule
(``LEDGERBRIDGE_WEBHOOK_RETRY_SCHEDULE``, with ±10% jitter; 429, 502 and 504 wait at least
their ``Retry-After``) and, after the last attempt, the delivery is ``failed``. ``410 Gone``
disables the endpoint at once; so does failing without a success for five days
(``LEDGERBRIDGE_WEBHOOK_DISABLE_AFTER_DAYS``). Every attempt re-checks the receiver
against the SSRF guard and connects to the address it checked; redirects are not followed.
"""

from __future__ import annotations

import random
import ssl
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledgerbridge import __version__
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.db.retention import delete_in_batches
from ledgerbridge.security.vault import VaultError
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from ledgerbridge.webhooks import endpoints, signing, ssrf
from ledgerbridge.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

RESPONSE_KEPT = 1024  # bytes of each response body kept for inspection
THROTTLED = (429, 502, 504)
MAX_RETRY_AFTER = 86_400.0
JITTER = 0.1
USER_AGENT = f"ledgerbridge-webhooks/{__version__}"

Outcome = dict[str, Any]  # JSON-able: it is a durable step's recorded result


@cache
def _tls() -> ssl.SSLContext:
    """Loading the CA bundle costs ~100 ms: once per process, not per attempt (each
    attempt still gets a client, and a connection, of its own)."""
    return httpx.create_ssl_context()


def send(svc: Services, delivery_id: int, replay: int, number: int) -> Outcome:
    """Attempt ``number`` of the delivery's ``replay``; what happened, or why nothing did."""
    with svc.db.system(read_only=True) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.replay != replay:
            return {"skip": "superseded"}
        if delivery.status != DeliveryStatus.pending or delivery.attempts > number:
            return {"skip": "done"}
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        assert endpoint is not None
        if endpoint.deleted_at is not None:
            return {"skip": "the endpoint was deleted"}
        if endpoint.status != EndpointStatus.enabled:
            return {"skip": "the endpoint is disabled"}
        try:
            signing_secrets = endpoints.signing_secrets(svc.vault, endpoint, utcnow())
        except VaultError:
            return {
                "skip": "the signing secret cannot be decrypted: a token-encryption key "
                "is missing (LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS)"
            }
        url, message_id, payload = endpoint.url, delivery.message_id, delivery.payload
    return post(svc.settings, url, message_id, payload.encode(), signing_secrets)


def post(
    settings: Settings, url: str, message_id: str, payload: bytes, signing_secrets: list[str]
) -> Outcome:
    """POST the signed payload to the receiver; never raises."""
    started = utcnow()
    outcome: Outcome = {
        "skip": None,
        "started_at": started.isoformat(),
        "status_code": None,
        "latency_ms": None,
        "body": None,
        "error": None,
        "retry_after": None,
    }
    try:
        target = ssrf.check(
            url,
            production=settings.is_production,
            allow_private=settings.webhook_allow_private_networks,
        )
    except ssrf.UnsafeUrl as exc:
        outcome["error"] = f"refused before connecting: {exc}"
        return outcome
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": target.host_header,
        **signing.headers(signing_secrets, message_id, utcnow(), payload),
    }
    extensions = {"sni_hostname": target.host} if target.connect_url.startswith("https") else {}
    timeout = settings.webhook_timeout_seconds
    clock = time.monotonic()
    try:
        # No proxies from the environment, no redirects: only the checked address.
        with (
            httpx.Client(
                timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls()
            ) as client,
            client.stream(
                "POST", target.connect_url, content=payload, headers=headers, extensions=extensions
            ) as response,
        ):
            outcome["status_code"] = response.status_code
            outcome["retry_after"] = retry_after(response.headers.get("retry-after"))
            kept = b""
            for chunk in response.iter_bytes():
                kept += chunk
                if len(kept) >= RESPONSE_KEPT or time.monotonic() - clock > timeout:
                    break
            outcome["body"] = kept[:RESPONSE_KEPT].decode("utf-8", errors="replace")
    except httpx.TimeoutException:
        outcome["error"] = f"no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        outcome["error"] = f"could not deliver: {type(exc).__name__}"
    elapsed = time.monotonic() - clock
    outcome["latency_ms"] = round(elapsed * 1000)
    if elapsed > timeout and outcome["error"] is None:
        outcome["error"] = f"the answer took longer than {timeout:g} s"
    return outcome


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - utcnow()).total_seconds())


def succeeded(outcome: Outcome) -> bool:
    code = outcome.get("status_code")
    return outcome.get("error") is None and code is not None and 200 <= code < 300


def record(
    svc: Services, delivery_id: int, replay: int, number: int, outcome: Outcome
) -> float | None:
    """Store the attempt and its consequences in one transaction; the seconds until the
    next attempt, or None when there is none. Recording the same attempt twice (a step
    replayed after a crash) changes nothing and answers the same."""
    now = utcnow()
    with svc.db.system() as session:
        found = session.get(WebhookDelivery, delivery_id)
        if found is None:
            return None
        # The endpoint first, then the delivery: every writer takes them in this order.
        endpoint = session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.id == found.endpoint_id).with_for_update()
        ).one()
        delivery = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if delivery.replay != replay or delivery.status != DeliveryStatus.pending:
            return None
        if delivery.attempts > number:  # already recorded: the same answer again
            return _remaining(delivery, now)
        if outcome.get("skip") is not None:
            if outcome["skip"] not in ("superseded", "done"):
                _finish(delivery, DeliveryStatus.failed, now, outcome["skip"])
            return None
        return _record(svc.settings, session, endpoint, delivery, number, outcome, now)


def _remaining(delivery: WebhookDelivery, now: datetime) -> float | None:
    if delivery.next_attempt_at is None:
        return None
    return max(0.0, (delivery.next_attempt_at - now).total_seconds())


def _finish(
    delivery: WebhookDelivery, status: DeliveryStatus, now: datetime, error: str | None
) -> None:
    delivery.status = status.value
    delivery.finished_at = now
    delivery.next_attempt_at = None
    delivery.last_error = error[:500] if error else None


def _record(
    settings: Settings,
    session: Session,
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    number: int,
    outcome: Outcome,
    now: datetime,
) -> float | None:
    code: int | None = outcome["status_code"]
    error: str | None = outcome["error"]
    session.add(
        WebhookAttempt(
            tenant_id=delivery.tenant_id,
            delivery_id=delivery.id,
            replay=delivery.replay,
            number=number,
            started_at=datetime.fromisoformat(outcome["started_at"]),
            status_code=code,
            latency_ms=outcome["latency_ms"],
            response_body=outcome["body"],
            error=error[:500] if error else None,
        )
    )
    delivery.attempts = number + 1
    delivery.last_status_code = code
    if succeeded(outcome):
        _finish(delivery, DeliveryStatus.succeeded, now, None)
        endpoint.failing_since = None
        return None
    why = error or f"the endpoint answered {code}"
    endpoint.failing_since = endpoint.failing_since or now
    if code == 410:
        _finish(delivery, DeliveryStatus.failed, now, why)
        endpoints.disable(session, endpoint, "the endpoint answered 410 Gone")
        return None
    failing_for = now - endpoint.failing_since
    if failing_for >= timedelta(days=settings.webhook_disable_after_days):
        _finish(delivery, DeliveryStatus.failed, now, why)
        endpoints.disable(session, endpoint, f"every delivery failed for {failing_for.days} days")
        return None
    schedule = settings.webhook_retry_schedule
    if number + 1 >= len(schedule):
        _finish(delivery, DeliveryStatus.failed, now, f"{why} (after {number + 1} attempts)")
        return None
    wait = schedule[number + 1] * random.uniform(1 - JITTER, 1 + JITTER)
    later = outcome.get("retry_after")
    if code in THROTTLED and later is not None:
        wait = max(wait, min(float(later), MAX_RETRY_AFTER))
    delivery.last_error = why[:500]
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    return wait


def prune(db: Database, older_than: timedelta, now: datetime) -> int:
    """Delete deliveries finished before ``now - older_than``, their attempts first."""
    before = now - older_than
    finished = select(WebhookDelivery.id).where(WebhookDelivery.finished_at < before)
    delete_in_batches(db, WebhookAttempt, WebhookAttempt.delivery_id.in_(finished))
    return delete_in_batches(db, WebhookDelivery, WebhookDelivery.finished_at < before)
