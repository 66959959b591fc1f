"""Churn: a provider's ordinary bad day, made while a client reads.

``POST /_sandbox/churn`` starts it.

For one account and some of its object types the sandbox, at once, gives a run of
records one shared timestamp (a bulk edit or an import: ``tie`` records per type, in the
middle of the change order, so they straddle page boundaries), then schedules
``changes`` edits per type, each made after one of the type's listing answers
(``scheduled.py``) before the last page of a listing read in pages of ``page_size``:
updates of records on pages read and unread (members of the tie groups among them),
deletions (Xero archives contacts and voids approved invoices, QuickBooks deletes
transactions for good and deactivates customers, Lightspeed sets ``deleted_at`` and
voids sales), restores of what was deleted (Xero contacts, QuickBooks customers) and
creations. Everything goes through the provider's own rules, as the control API's
changes do, and every choice is drawn from ``seed``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledgerbridge.sandbox.providers import make_change
from ledgerbridge.sandbox.scheduled import ScheduledChange
from ledgerbridge.sandbox.state import SandboxState

Record = dict[str, Any]
Provider = Literal["xero", "quickbooks", "lightspeed"]


@dataclass(frozen=True)
class Recipe:
    """How churn changes one object type: the field an update writes, what a restore
    sends (None: deletions are final), what a creation sends (None: none are made)."""

    field: str
    restore: Record | None = None
    create: Record | None = None


RECIPES: dict[str, dict[str, Recipe]] = {
    "xero": {
        "Contacts": Recipe("EmailAddress", {"ContactStatus": "ACTIVE"}, {"Name": "Churn"}),
        "Invoices": Recipe("Reference"),
    },
    "quickbooks": {
        "Customer": Recipe("Notes", {"Active": True}, {"DisplayName": "Churn"}),
        "Invoice": Recipe("PrivateNote"),
    },
    "lightspeed": {
        "customers": Recipe("note", None, {"first_name": "Churn"}),
        "sales": Recipe("note"),
    },
}


class ChurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider
    account_id: str
    object_types: list[str] | None = Field(None, description="Default: every type churn knows.")
    tie: int = Field(20, ge=0, description="Records per type given one shared timestamp.")
    changes: int = Field(20, ge=0, description="Changes per type, made while the client reads.")
    page_size: int = Field(100, ge=1, description="The client's page size.")
    seed: int = 0


def churn(state: SandboxState, plan: ChurnIn) -> dict[str, int]:
    """Tie the groups now and schedule the changes; returns how many of each."""
    recipes = RECIPES[plan.provider]
    types = plan.object_types or list(recipes)
    unknown = sorted(set(types) - set(recipes))
    if unknown:
        raise ValueError(f"churn knows {list(recipes)} of {plan.provider}, not {unknown}")
    rng = random.Random(plan.seed)
    tied = 0
    ids: dict[str, list[str]] = {}
    with state.store.lock:
        for object_type in types:
            collection = state.store.collection(plan.provider, plan.account_id, object_type)
            ids[object_type] = collection.ids()
            tied += _tie(state, plan, object_type, collection.ids(), rng)
    deleted: list[tuple[str, str, int]] = []
    for n in range(plan.changes * len(types)):
        object_type = types[n % len(types)]
        recipe, pool = recipes[object_type], ids[object_type]
        pages = max(1, -(-len(pool) // plan.page_size) - 1)  # before a clean read's last page
        after = rng.randint(1, pages)
        roll = rng.random()
        change: dict[str, Any] = dict(
            provider=plan.provider,
            account_id=plan.account_id,
            object_type=object_type,
            matching=_listing(plan.provider, object_type),
        )
        if roll < 0.15 and recipe.create is not None:
            body = {k: f"{v} {plan.seed}-{n}" for k, v in recipe.create.items()}
            scheduled = ScheduledChange(**change, action="create", body=body, after_requests=after)
        elif roll < 0.3 and pool:
            record_id = rng.choice(pool)
            scheduled = ScheduledChange(
                **change, action="delete", record_id=record_id, after_requests=after
            )
            deleted.append((object_type, record_id, after))
        elif roll < 0.4 and recipe.restore is not None and deleted:
            gone_type, record_id, when = rng.choice(deleted)
            if gone_type != object_type or when >= pages:
                continue
            scheduled = ScheduledChange(
                **change,
                action="update",
                record_id=record_id,
                body=recipe.restore,
                after_requests=rng.randint(when + 1, pages),
            )
        elif pool:
            scheduled = ScheduledChange(
                **change,
                action="update",
                record_id=rng.choice(pool),
                body={recipe.field: f"churn {plan.seed}-{n}"},
                after_requests=after,
            )
        else:
            continue
        state.scheduled.add(scheduled)
    return {"tied": tied, "scheduled": len(state.scheduled.all())}


def _listing(provider: str, object_type: str) -> list[str]:
    """What the type's listing requests contain (and re-reads by id do not)."""
    if provider == "quickbooks":
        return [f"from {object_type} ", "orderby"]
    return [f"/{object_type}"]


def _tie(
    state: SandboxState, plan: ChurnIn, object_type: str, ids: list[str], rng: random.Random
) -> int:
    """Give ``plan.tie`` records from the middle of the change order the stamp of the
    record before them: one group sharing a timestamp, straddling pages."""
    if plan.tie == 0 or len(ids) < 2:
        return 0
    count = min(plan.tie, len(ids) - 1)
    first = rng.randint(1, len(ids) - count)
    collection = state.store.collection(plan.provider, plan.account_id, object_type)
    stamp = collection.stamp_of(ids[first - 1])
    assert stamp is not None
    if plan.provider == "quickbooks":
        stamp -= stamp % 1000  # QuickBooks times are to the second
    field = RECIPES[plan.provider][object_type].field
    for record_id in ids[first : first + count]:
        make_change(
            state,
            ScheduledChange(
                provider=plan.provider,
                account_id=plan.account_id,
                object_type=object_type,
                action="update",
                record_id=record_id,
                body={field: "bulk edit", "_stamp": stamp},
            ),
        )
    return count
