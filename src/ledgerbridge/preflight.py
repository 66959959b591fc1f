"""Checks a serving or working process makes against its database before it starts.

Production refuses to start on any of them; development logs them. Each problem is one
line saying what to set:

- the database role must be subject to row-level security (no SUPERUSER, no BYPASSRLS);
- the token-encryption keys must decrypt what is stored: every key id the stored provider
  tokens name is configured, and a sample of the latest ones decrypts.
"""

from __future__ import annotations

import structlog
from sqlalchemy import func, inspect, or_, select, text
from sqlalchemy.exc import SQLAlchemyError

from ledgerbridge.connections.models import OAuthGrant
from ledgerbridge.db.engine import Database
from ledgerbridge.security.vault import Vault, VaultError, token_context
from ledgerbridge.services import Services
from ledgerbridge.webhooks.models import WebhookEndpoint

SAMPLE = 5  # the latest grants whose tokens are decrypted
log = structlog.get_logger(__name__)


def start_problems(svc: Services) -> list[str]:
    """Every problem found; a database that cannot be reached is one of them."""
    try:
        return database_role_problems(svc.db) + vault_problems(svc.db, svc.vault)
    except SQLAlchemyError as exc:
        problem = (
            "cannot check the database role and the stored tokens: LEDGERBRIDGE_DATABASE_URL "
            f"did not answer ({type(exc).__name__})"
        )
        if not svc.settings.is_production:
            log.warning(problem)
            return []
        return [problem]


def database_role_problems(db: Database) -> list[str]:
    """A superuser or BYPASSRLS role would switch row-level security off."""
    if db.is_sqlite:
        return []
    with db.engine.connect() as connection:
        name, superuser, bypass = connection.execute(
            text(
                "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
    found = []
    if superuser:
        found.append(
            f"the database role {name} is a superuser, which row-level security does not "
            "bind: connect LEDGERBRIDGE_DATABASE_URL as a NOSUPERUSER role that owns the database"
        )
    elif bypass:  # (a superuser has it too)
        found.append(
            f"the database role {name} has BYPASSRLS, which switches row-level security off: "
            f"connect LEDGERBRIDGE_DATABASE_URL as a role without it (ALTER ROLE {name} "
            "NOBYPASSRLS)"
        )
    return found


def vault_problems(db: Database, vault: Vault, *, every_key: bool = True) -> list[str]:
    """Stored provider tokens this vault cannot decrypt: a missing key, or the wrong one.

    ``every_key`` also lists every key id in use (one small query over the grants);
    without it only the latest few tokens are decrypted, cheap enough for ``/ready``.
    """
    if not inspect(db.engine).has_table(OAuthGrant.__tablename__):
        return []  # not migrated yet: nothing stored
    columns = {"access": OAuthGrant.access_token, "refresh": OAuthGrant.refresh_token}
    with db.system(read_only=True) as session:
        latest = session.execute(
            select(OAuthGrant.id, *columns.values())
            .where(or_(*(column.is_not(None) for column in columns.values())))
            .order_by(OAuthGrant.id.desc())
            .limit(SAMPLE)
        ).all()
        in_use: set[str] = set()
        if every_key:
            for column in columns.values():
                in_use.update(
                    session.scalars(
                        select(func.substr(column, 4, 12)).where(column.is_not(None)).distinct()
                    )
                )
            if inspect(db.engine).has_table(WebhookEndpoint.__tablename__):
                for secret in (WebhookEndpoint.secret, WebhookEndpoint.previous_secret):
                    in_use.update(
                        session.scalars(
                            select(func.substr(secret, 4, 12)).where(secret.is_not(None)).distinct()
                        )
                    )
    missing = {kid for kid in in_use if kid not in vault.keys}
    undecryptable: list[int] = []
    for grant_id, *stored in latest:
        for field, ciphertext in zip(columns, stored, strict=True):
            if ciphertext is None:
                continue
            try:
                vault.decrypt(ciphertext, context=token_context(grant_id, field))
            except VaultError:
                kid = vault.key_id_of(ciphertext)
                if kid in vault.keys:
                    undecryptable.append(grant_id)
                else:
                    missing.add(kid)
    found = [
        f"LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS lacks key {kid}, which stored secrets (provider "
        "tokens, webhook signing secrets) were encrypted with: add that key after the active one"
        for kid in sorted(missing)
    ]
    if undecryptable:
        found.append(
            f"the stored tokens of grant {undecryptable[0]} do not decrypt although their key "
            "is configured (altered in the database?): reconnect that connection"
        )
    return found
