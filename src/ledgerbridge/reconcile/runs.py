"""Use cases for reconciliation runs: request one, execute it, store what it found.

A run reads both sides, matches them with the job's rules and the reviewer's standing
decisions, and stores its whole result in one transaction together with its final
status and a ``reconciliation.completed`` event: a run interrupted at any point leaves
either nothing or everything, and running it again after a crash does the work again
from the start.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ledgerbridge.db.base import utcnow
from ledgerbridge.db.bulk import bulk_insert
from ledgerbridge.events.service import append
from ledgerbridge.reconcile import learning
from ledgerbridge.reconcile.matching import (
    Decisions,
    Evidence,
    Item,
    JobConfig,
    Match,
    MatchStatus,
    Result,
    diff,
    reconcile,
)
from ledgerbridge.reconcile.matching.run import Progress
from ledgerbridge.reconcile.models import (
    MICROS,
    Decision,
    ItemStatus,
    MatchState,
    ReconciliationJob,
    ReconciliationRun,
    RunDiscrepancy,
    RunItem,
    RunMatch,
    RunStatus,
)
from ledgerbridge.reconcile.sources import Source, SourceError, load_items
from ledgerbridge.services import Services

RECONCILE_WORKFLOW = "ledgerbridge.reconciliation_run"
RECONCILE_QUEUE = "ledgerbridge-reconcile"
MAX_CHANGES_LISTED = 1000
_source = TypeAdapter[Any](Source)


def workflow_id(run_id: int) -> str:
    return f"reconciliation-run-{run_id}"


def request_run(
    session: Session,
    job: ReconciliationJob,
    *,
    trigger: str,
    requested_by: str,
    dry_run: bool = False,
    config: JobConfig | None = None,
    scheduled_for: datetime | None = None,
) -> ReconciliationRun:
    """A new queued run; a schedule's tick that already made its run gets that one back."""
    if scheduled_for is not None:
        existing = session.scalars(
            select(ReconciliationRun).where(
                ReconciliationRun.job_id == job.id,
                ReconciliationRun.scheduled_for == scheduled_for,
            )
        ).first()
        if existing is not None:
            return existing
    run = ReconciliationRun(
        tenant_id=job.tenant_id,
        job_id=job.id,
        dry_run=dry_run,
        config=(config or JobConfig.model_validate(job.config)).model_dump(mode="json"),
        trigger=trigger,
        requested_by=requested_by,
        scheduled_for=scheduled_for,
    )
    session.add(run)
    session.flush()
    return run


def partition(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def enqueue(svc: Services, run: ReconciliationRun) -> None:
    """Hand the run to DBOS; a tenant's runs take turns (so runs of one job never
    overlap), and the workflow id makes a repeated call harmless."""
    svc.dbos_client().enqueue(
        {
            "workflow_name": RECONCILE_WORKFLOW,
            "queue_name": RECONCILE_QUEUE,
            "workflow_id": workflow_id(run.id),
            "queue_partition_key": partition(run.tenant_id),
        },
        run.id,
    )


def execute(svc: Services, run_id: int) -> None:
    """Do the run (again, after a crash) unless it has finished."""
    with svc.db.system() as session:
        run = session.get(ReconciliationRun, run_id)
        if run is None or run.status in (RunStatus.succeeded, RunStatus.failed):
            return
        job = session.get(ReconciliationJob, run.job_id)
        assert job is not None
        run.status, run.started_at, run.progress = RunStatus.running, utcnow(), 0
        tenant_id, job_id, dry_run = run.tenant_id, job.id, run.dry_run
        config = JobConfig.model_validate(run.config)
        sources = (
            _source.validate_python(job.left_source),
            _source.validate_python(job.right_source),
        )
    try:
        with svc.db.tenant(tenant_id, read_only=True) as session:
            left, right = (load_items(session, source) for source in sources)
            decisions = active_decisions(session, job_id)
            learned = learning.standing(session, job_id)
    except SourceError as exc:
        fail(svc, run_id, str(exc))
        return
    result = reconcile(
        left, right, config, decisions, progress=_progress_writer(svc, run_id), learned=learned
    )
    with svc.db.system() as session:
        run = session.get(ReconciliationRun, run_id, with_for_update=True)
        assert run is not None
        if run.status != RunStatus.running:  # another worker finished it meanwhile
            return
        _store(session, run, left, right, result)
        if dry_run:
            _compare_with_last_run(session, run, result)
        run.status, run.finished_at, run.progress = RunStatus.succeeded, utcnow(), 100
        run.left_count, run.right_count = len(left), len(right)
        run.candidate_pairs = result.candidate_pairs
        _append_run_event(
            session,
            run,
            "reconciliation.completed",
            dry_run=dry_run,
            counts=counts(session, run.id),
        )


def active_decisions(session: Session, job_id: int) -> Decisions:
    rows = session.scalars(
        select(Decision).where(Decision.job_id == job_id, Decision.revoked_at.is_(None))
    ).all()
    return Decisions(
        confirmed=[(row.left_ids, row.right_ids) for row in rows if row.kind == "confirmed"],
        rejected={
            (left, right)
            for row in rows
            if row.kind == "rejected" and len(row.left_ids) == len(row.right_ids) == 1
            for left in row.left_ids
            for right in row.right_ids
        },
        # A rejected group is rejected as that group; its items may still match otherwise.
        rejected_groups=[
            (row.left_ids, row.right_ids)
            for row in rows
            if row.kind == "rejected" and len(row.left_ids) + len(row.right_ids) > 2
        ],
    )


def counts(session: Session, run_id: int) -> dict[str, int]:
    """How many matches are in each state, how many items each side left unmatched or in
    a discrepancy, and how many discrepancies there are."""
    found: Counter[str] = Counter()
    matches = select(RunMatch.status, func.count()).where(RunMatch.run_id == run_id)
    for status, number in session.execute(matches.group_by(RunMatch.status)).all():
        found[status] = number
    items = (
        select(RunItem.side, RunItem.status, func.count())
        .where(
            RunItem.run_id == run_id,
            RunItem.status.in_([ItemStatus.unmatched, ItemStatus.discrepancy]),
        )
        .group_by(RunItem.side, RunItem.status)
    )
    for side, status, number in session.execute(items).all():
        found[f"{status}_{side}"] = number
    discrepancies = select(func.count()).where(RunDiscrepancy.run_id == run_id)
    found["discrepancies"] = session.execute(discrepancies).scalar_one()
    keys = [*MatchState, "unmatched_left", "unmatched_right", "discrepancies"]
    return {str(key): found[key] for key in keys}


def _progress_writer(svc: Services, run_id: int) -> Progress:
    last = [-1, 0.0]

    def write(done: int, total: int) -> None:
        percent = min(99, done * 100 // max(total, 1))
        now = time.monotonic()
        if percent == last[0] or now - last[1] < 1.0:
            return
        last[:] = [percent, now]
        with svc.db.system() as session:
            run = session.get(ReconciliationRun, run_id)
            if run is not None and run.status == RunStatus.running:
                run.progress = percent

    return write


def fail(svc: Services, run_id: int, error: str) -> None:
    with svc.db.system() as session:
        run = session.get(ReconciliationRun, run_id)
        assert run is not None
        run.status, run.finished_at, run.error = RunStatus.failed, utcnow(), error
        _append_run_event(session, run, "reconciliation.failed", error=error)


def _append_run_event(session: Session, run: ReconciliationRun, event: str, **data: Any) -> None:
    append(
        session,
        run.tenant_id,
        event,
        f"reconciliation_run:{run.id}",
        run_id=str(run.id),
        job_id=str(run.job_id),
        **data,
    )


def _store(
    session: Session, run: ReconciliationRun, left: list[Item], right: list[Item], result: Result
) -> None:
    for table in (RunItem, RunMatch, RunDiscrepancy):
        session.execute(delete(table).where(table.run_id == run.id))
    if result.matches:
        bulk_insert(
            session,
            RunMatch,
            (
                {
                    "tenant_id": run.tenant_id,
                    "run_id": run.id,
                    "position": position,
                    "status": match.status.value,
                    "score": match.score,
                    "rule": match.rule,
                    "left_ids": list(match.left_ids),
                    "right_ids": list(match.right_ids),
                    "evidence": [_evidence(e) for e in match.evidence],
                    "explanation": match.explanation,
                    "remaining": str(match.remaining) if match.remaining is not None else None,
                }
                for position, match in enumerate(result.matches)
            ),
        )
    match_ids = dict(
        session.execute(
            select(RunMatch.position, RunMatch.id).where(RunMatch.run_id == run.id)
        ).all()
    )
    status_of: dict[tuple[str, str], tuple[str, int | None]] = {}
    for position, match in enumerate(result.matches):
        for item_id in match.left_ids:
            status_of["left", item_id] = (match.status.value, match_ids[position])
        for item_id in match.right_ids:
            status_of["right", item_id] = (match.status.value, match_ids[position])
    for found in result.discrepancies:
        status_of["left", found.left_id] = (ItemStatus.discrepancy, None)
        status_of["right", found.right_id] = (ItemStatus.discrepancy, None)
    if result.discrepancies:
        session.execute(
            insert(RunDiscrepancy),
            [
                {
                    "tenant_id": run.tenant_id,
                    "run_id": run.id,
                    "kind": found.kind,
                    "left_id": found.left_id,
                    "right_id": found.right_id,
                    "left_value": found.left_value[:100],
                    "right_value": found.right_value[:100],
                    "explanation": found.explanation,
                }
                for found in result.discrepancies
            ],
        )
    for side, items in (("left", left), ("right", right)):
        bulk_insert(session, RunItem, _item_rows(run, side, items, status_of))


def _item_rows(
    run: ReconciliationRun,
    side: str,
    items: list[Item],
    status_of: dict[tuple[str, str], tuple[str, int | None]],
) -> Iterable[dict[str, Any]]:
    for item in items:
        status, match_id = status_of.get((side, item.id), (ItemStatus.unmatched, None))
        yield {
            "tenant_id": run.tenant_id,
            "run_id": run.id,
            "side": side,
            "item_id": item.id,
            "kind": item.kind[:32],
            "amount": str(item.amount),
            "amount_micros": int((item.amount * MICROS).to_integral_value()),
            "currency": item.currency,
            "date": item.date,
            "reference": item.reference[:255] if item.reference else None,
            "counterparty": item.counterparty[:255] if item.counterparty else None,
            "text": item.text,
            "status": str(status),
            "match_id": match_id,
        }


def _evidence(evidence: Evidence) -> dict[str, Any]:
    # Field by field: dataclasses.asdict deep-copies, which costs seconds at scale.
    return {
        "field": evidence.field,
        "rule": evidence.rule,
        "outcome": evidence.outcome,
        "similarity": round(evidence.similarity, 4),
        "text": evidence.text,
    }


def last_completed_run(session: Session, job_id: int) -> ReconciliationRun | None:
    return session.scalars(
        select(ReconciliationRun)
        .where(
            ReconciliationRun.job_id == job_id,
            ReconciliationRun.status == RunStatus.succeeded,
            ReconciliationRun.dry_run.is_(False),
        )
        .order_by(ReconciliationRun.id.desc())
    ).first()


def _compare_with_last_run(session: Session, run: ReconciliationRun, result: Result) -> None:
    """A dry run's preview: the matches it gained and lost against the last real run."""
    previous = last_completed_run(session, run.job_id)
    before: list[Match] = []
    if previous is not None:
        rows = session.scalars(
            select(RunMatch).where(
                RunMatch.run_id == previous.id, RunMatch.status.in_(list(MatchStatus))
            )
        )
        before = [
            Match(
                tuple(row.left_ids),
                tuple(row.right_ids),
                row.score,
                MatchStatus(row.status),
                row.rule,
                (),
                Decimal(row.remaining) if row.remaining is not None else None,
            )
            for row in rows
        ]
    change = diff(before, result.matches)
    run.compared_with_run_id = previous.id if previous is not None else None
    run.changes = {
        "gained_count": len(change.gained),
        "lost_count": len(change.lost),
        "gained": [_change(m) for m in change.gained[:MAX_CHANGES_LISTED]],
        "lost": [_change(m) for m in change.lost[:MAX_CHANGES_LISTED]],
    }


def _change(match: Match) -> dict[str, Any]:
    return {
        "left_ids": list(match.left_ids),
        "right_ids": list(match.right_ids),
        "status": match.status.value,
        "score": round(match.score, 4),
        "rule": match.rule,
    }
