"""Re-encrypt every stored secret under the active key, while the service keeps running.

Rows are rotated in small batches, each in its own transaction holding the rows' locks
(the same locks a token refresh takes), so a refresh and a rotation never interleave on
one row. Only rows still written under an older key are picked up: stopping half-way and
running again simply carries on.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from ledgerbridge.connections.models import OAuthGrant, OAuthState
from ledgerbridge.db.engine import Database
from ledgerbridge.security.vault import Vault, token_context

BATCH = 100


def _stale(column: InstrumentedAttribute[str | None], vault: Vault) -> ColumnElement[bool]:
    return column.is_not(None) & ~column.like(f"v1.{vault.active_id}.%")


def pending(db: Database, vault: Vault) -> int:
    """How many rows still hold a secret under an older key."""
    with db.system() as session:
        grants = session.scalar(
            select(func.count()).where(
                or_(_stale(OAuthGrant.access_token, vault), _stale(OAuthGrant.refresh_token, vault))
            )
        )
        states = session.scalar(select(func.count()).where(_stale(OAuthState.code_verifier, vault)))
    return int(grants or 0) + int(states or 0)


def rotate(db: Database, vault: Vault, progress: Callable[[int], None] = lambda _n: None) -> int:
    """Rotate everything; calls ``progress`` with the rows done in each batch. Returns the total."""
    done = 0
    while batch := _rotate_grants(db, vault) + _rotate_states(db, vault):
        done += batch
        progress(batch)
    return done


def _rotate_grants(db: Database, vault: Vault) -> int:
    with db.system() as session:
        rows = session.scalars(
            select(OAuthGrant)
            .where(
                or_(_stale(OAuthGrant.access_token, vault), _stale(OAuthGrant.refresh_token, vault))
            )
            .order_by(OAuthGrant.id)
            .limit(BATCH)
            .with_for_update()
        ).all()
        for grant in rows:
            for field, attribute in (("access", "access_token"), ("refresh", "refresh_token")):
                stored = getattr(grant, attribute)
                if stored is not None and vault.needs_rotation(stored):
                    context = token_context(grant.id, field)
                    setattr(
                        grant,
                        attribute,
                        vault.encrypt(vault.decrypt(stored, context=context), context=context),
                    )
        return len(rows)


def _rotate_states(db: Database, vault: Vault) -> int:
    with db.system() as session:
        rows = session.scalars(
            select(OAuthState)
            .where(_stale(OAuthState.code_verifier, vault))
            .order_by(OAuthState.id)
            .limit(BATCH)
            .with_for_update()
        ).all()
        for state in rows:
            assert state.code_verifier is not None
            context = f"oauth_state:{state.state_hash}"
            state.code_verifier = vault.encrypt(
                vault.decrypt(state.code_verifier, context=context), context=context
            )
        return len(rows)
