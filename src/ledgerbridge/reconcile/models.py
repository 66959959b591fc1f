"""Tables owned by reconciliation.

``statements`` and ``statement_lines`` hold imported bank statements. A
``reconciliation_job`` names two sources, its rules and an optional schedule; each
``reconciliation_run`` keeps a snapshot of what it compared (``reconciliation_items``,
one row per input item, with the status that item ended in), the matches it made and
the discrepancies it found. ``reconciliation_decisions`` are a reviewer's confirmations
and rejections, which every later run of the job honours.

Amounts are kept twice: as exact decimal text, and in millionths (``amount_micros``)
so that totals can be summed in SQL without floating point.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledgerbridge.db.base import Base, BigId, SoftDeleted, TenantOwned, Timestamps, utcnow

MICROS = Decimal(1_000_000)  # amount_micros = amount * MICROS


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class ItemStatus(StrEnum):
    """Where an item ended: in a match (its status), in a discrepancy, or nowhere."""

    auto_matched = "auto_matched"
    suggested = "suggested"
    confirmed = "confirmed"
    discrepancy = "discrepancy"
    unmatched = "unmatched"


class MatchState(StrEnum):
    auto_matched = "auto_matched"
    suggested = "suggested"
    confirmed = "confirmed"
    rejected = "rejected"
    unreconciled = "unreconciled"  # undone by a reviewer; its items are unmatched again


class Statement(SoftDeleted, TenantOwned, Base):
    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(16))  # csv | ofx | camt053
    filename: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column(Integer)
    currencies: Mapped[list[str]] = mapped_column(JSON)
    first_date: Mapped[date | None] = mapped_column(Date)
    last_date: Mapped[date | None] = mapped_column(Date)
    imported_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatementEntry(TenantOwned, Base):
    """One line of an imported statement."""

    __tablename__ = "statement_lines"
    __table_args__ = (UniqueConstraint("statement_id", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"))
    line: Mapped[int] = mapped_column(Integer)  # where it starts in the file
    external_id: Mapped[str] = mapped_column(String(128))  # the bank's id, or a content digest
    booked_on: Mapped[date] = mapped_column(Date)
    value_date: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(255))
    counterparty: Mapped[str | None] = mapped_column(String(255))


class ReconciliationJob(SoftDeleted, TenantOwned, Timestamps, Base):
    __tablename__ = "reconciliation_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    left_source: Mapped[dict[str, Any]] = mapped_column(JSON)
    right_source: Mapped[dict[str, Any]] = mapped_column(JSON)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)  # a JobConfig
    schedule: Mapped[str | None] = mapped_column(String(100))  # 5-field cron, UTC
    created_by: Mapped[str] = mapped_column(String(200))


class ReconciliationRun(TenantOwned, Timestamps, Base):
    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        UniqueConstraint("job_id", "scheduled_for"),
        Index("ix_reconciliation_runs_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_jobs.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.queued.value)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)  # the rules this run used
    trigger: Mapped[str] = mapped_column(String(16))  # api | schedule
    scheduled_for: Mapped[datetime | None]
    requested_by: Mapped[str] = mapped_column(String(200))
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    left_count: Mapped[int] = mapped_column(Integer, default=0)
    right_count: Mapped[int] = mapped_column(Integer, default=0)
    candidate_pairs: Mapped[int] = mapped_column(BigInteger, default=0)
    # For a dry run: matches gained and lost against the job's last completed run.
    compared_with_run_id: Mapped[int | None] = mapped_column(BigId)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class RunMatch(TenantOwned, Base):
    __tablename__ = "reconciliation_matches"
    __table_args__ = (
        UniqueConstraint("run_id", "position"),
        Index("ix_reconciliation_matches_run_status", "run_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"))
    position: Mapped[int] = mapped_column(Integer)  # in the run's result; manual matches follow
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float]
    rule: Mapped[str] = mapped_column(String(100))
    left_ids: Mapped[list[str]] = mapped_column(JSON)
    right_ids: Mapped[list[str]] = mapped_column(JSON)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
    # A partial match: the balance still open on the item paid in part (decimal text).
    remaining: Mapped[str | None] = mapped_column(String(40))


class RunItem(TenantOwned, Base):
    """One input item of a run, as it was when the run read it."""

    __tablename__ = "reconciliation_items"
    __table_args__ = (
        UniqueConstraint("run_id", "side", "item_id"),
        Index("ix_reconciliation_items_run_side_status", "run_id", "side", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"))
    side: Mapped[str] = mapped_column(String(5))  # left | right
    item_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[str] = mapped_column(String(40))
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    date: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(255))
    counterparty: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    match_id: Mapped[int | None] = mapped_column(BigId)


class RunDiscrepancy(TenantOwned, Base):
    __tablename__ = "reconciliation_discrepancies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # amount | date | currency | sign
    left_id: Mapped[str] = mapped_column(String(64))
    right_id: Mapped[str] = mapped_column(String(64))
    left_value: Mapped[str] = mapped_column(String(100))
    right_value: Mapped[str] = mapped_column(String(100))
    explanation: Mapped[str] = mapped_column(Text)


class Decision(TenantOwned, Base):
    """A reviewer's word on a group of items: ``confirmed`` (always matched together) or
    ``rejected`` (never proposed together again). Undoing one revokes it."""

    __tablename__ = "reconciliation_decisions"
    __table_args__ = (Index("ix_reconciliation_decisions_job_active", "job_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_jobs.id"))
    kind: Mapped[str] = mapped_column(String(16))  # confirmed | rejected
    left_ids: Mapped[list[str]] = mapped_column(JSON)
    right_ids: Mapped[list[str]] = mapped_column(JSON)
    match_id: Mapped[int | None] = mapped_column(BigId)  # the match it was taken on
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]


class LearnedFact(TenantOwned, Base):
    """What a confirmed or hand-made match taught a job: an ``alias`` (memo words that
    name a contact) or a ``payer`` observation (the fee and delay of one payment).
    Rejecting or undoing the match it came from revokes it; so does rejecting a match
    whose memo the alias fits."""

    __tablename__ = "reconciliation_learned"
    __table_args__ = (Index("ix_reconciliation_learned_job_active", "job_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_jobs.id"))
    kind: Mapped[str] = mapped_column(String(16))  # alias | payer
    words: Mapped[str | None] = mapped_column(String(255))  # an alias's words, space-joined
    counterparty: Mapped[str] = mapped_column(String(255))
    fee_rate: Mapped[str | None] = mapped_column(String(20))  # decimal text
    delay_days: Mapped[int | None] = mapped_column(Integer)
    match_id: Mapped[int] = mapped_column(BigId)  # the match it was learned from
    learned_by: Mapped[str] = mapped_column(String(200))
    learned_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
