"""Re-encrypt the endpoints' signing secrets under the active token-encryption key
(``ledgerbridge keys rotate``, beside the provider tokens: see connections/rotation.py)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, func, or_, select

from ledgerbridge.connections.rotation import BATCH, _stale
from ledgerbridge.db.engine import Database
from ledgerbridge.security.vault import Vault
from ledgerbridge.webhooks.endpoints import secret_context
from ledgerbridge.webhooks.models import WebhookEndpoint

FIELDS = {"secret": "secret", "previous": "previous_secret"}


def _stale_rows(vault: Vault) -> ColumnElement[bool]:
    return or_(
        _stale(WebhookEndpoint.secret, vault),
        _stale(WebhookEndpoint.previous_secret, vault),
    )


def pending(db: Database, vault: Vault) -> int:
    with db.system(read_only=True) as session:
        return int(session.scalar(select(func.count()).where(_stale_rows(vault))) or 0)


def rotate(db: Database, vault: Vault, progress: Callable[[int], None] = lambda _n: None) -> int:
    done = 0
    while True:
        with db.system() as session:
            rows = session.scalars(
                select(WebhookEndpoint)
                .where(_stale_rows(vault))
                .order_by(WebhookEndpoint.id)
                .limit(BATCH)
                .with_for_update()
            ).all()
            for endpoint in rows:
                for field, attribute in FIELDS.items():
                    stored = getattr(endpoint, attribute)
                    if stored is not None and vault.needs_rotation(stored):
                        context = secret_context(endpoint.id, field)
                        plain = vault.decrypt(stored, context=context)
                        setattr(endpoint, attribute, vault.encrypt(plain, context=context))
        if not rows:
            return done
        done += len(rows)
        progress(len(rows))
