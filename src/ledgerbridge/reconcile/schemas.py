"""API shapes for statements, reconciliation jobs, runs, their results and reviews."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ledgerbridge.reconcile.matching import JobConfig
from ledgerbridge.reconcile.models import (
    MatchState,
    ReconciliationJob,
    RunItem,
    RunMatch,
    RunStatus,
    StatementEntry,
)
from ledgerbridge.reconcile.sources import Source
from ledgerbridge.schemas import FromRow, Name


def _cron(value: str) -> str:
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError("schedule must be a 5-field cron expression in UTC, e.g. '0 6 * * *'")
    return value


Cron = Annotated[str, Field(max_length=100), AfterValidator(_cron)]
ItemIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=50)
]


class StatementOut(FromRow):
    id: str
    name: str
    format: str
    filename: str | None
    line_count: int
    currencies: list[str]
    first_date: dt.date | None
    last_date: dt.date | None
    imported_by: str
    created_at: dt.datetime


class StatementLineOut(FromRow):
    id: str
    item_id: str  # how reconciliation names this line
    line: int
    external_id: str
    date: dt.date
    value_date: dt.date | None
    amount: Decimal
    currency: str
    description: str
    reference: str | None
    counterparty: str | None

    @classmethod
    def of(cls, row: StatementEntry, /, **given: Any) -> Self:
        return super().of(row, item_id=f"line:{row.id}", date=row.booked_on, **given)


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    left: Source
    right: Source
    config: JobConfig = Field(default_factory=JobConfig)
    schedule: Cron | None = None


class JobUpdate(BaseModel):
    """Only the fields given change; ``schedule: null`` removes the schedule."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    left: Source | None = None
    right: Source | None = None
    config: JobConfig | None = None
    schedule: Cron | None = None


class JobOut(FromRow):
    id: str
    name: str
    left: dict[str, Any]
    right: dict[str, Any]
    config: dict[str, Any]
    schedule: str | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: ReconciliationJob, /, **given: Any) -> Self:
        return super().of(row, left=row.left_source, right=row.right_source, **given)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: JobConfig | None = Field(
        None, description="dry runs only: rules to preview instead of the job's own"
    )


class RunAccepted(BaseModel):
    run_id: str
    status: RunStatus


class CurrencyTotals(BaseModel):
    """Sums of item amounts, per side and per where the items ended."""

    matched_left: Decimal
    matched_right: Decimal
    unmatched_left: Decimal
    unmatched_right: Decimal
    discrepancy_left: Decimal
    discrepancy_right: Decimal


class RunOut(FromRow):
    id: str
    job_id: str
    status: RunStatus
    dry_run: bool
    trigger: str
    progress: int
    left_count: int
    right_count: int
    candidate_pairs: int
    counts: dict[str, int]
    totals: dict[str, CurrencyTotals]
    compared_with_run_id: str | None
    changes: dict[str, Any] | None
    config: dict[str, Any]
    error: str | None
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ItemOut(FromRow):
    item_id: str
    side: Literal["left", "right"]
    kind: str
    amount: Decimal
    currency: str
    date: dt.date
    reference: str | None
    counterparty: str | None
    text: str
    status: str
    match_id: str | None


class EvidenceOut(BaseModel):
    field: str
    rule: str
    outcome: str
    similarity: float
    text: str


class MatchOut(BaseModel):
    id: str
    run_id: str
    status: MatchState
    score: float
    rule: str
    explanation: str
    evidence: list[EvidenceOut]
    left: list[ItemOut]
    right: list[ItemOut]
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    # A partial match: the balance still open on the item paid in part.
    remaining: Decimal | None = None

    @classmethod
    def of(cls, match: RunMatch, items: list[RunItem]) -> MatchOut:
        by_id = {(item.side, item.item_id): item for item in items}
        return cls(
            id=str(match.id),
            run_id=str(match.run_id),
            status=MatchState(match.status),
            score=match.score,
            rule=match.rule,
            explanation=match.explanation,
            evidence=[EvidenceOut(**e) for e in match.evidence],
            left=[ItemOut.of(by_id["left", i]) for i in match.left_ids if ("left", i) in by_id],
            right=[ItemOut.of(by_id["right", i]) for i in match.right_ids if ("right", i) in by_id],
            reviewed_by=match.reviewed_by,
            reviewed_at=match.reviewed_at,
            remaining=Decimal(match.remaining) if match.remaining is not None else None,
        )


class DiscrepancyOut(FromRow):
    id: str
    kind: str
    left_id: str
    right_id: str
    left_value: str
    right_value: str
    explanation: str


class ManualMatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    left_ids: ItemIds
    right_ids: ItemIds


class DecisionOut(FromRow):
    id: str
    kind: Literal["confirmed", "rejected"]
    left_ids: list[str]
    right_ids: list[str]
    match_id: str | None
    decided_by: str
    decided_at: dt.datetime
    revoked_by: str | None
    revoked_at: dt.datetime | None
