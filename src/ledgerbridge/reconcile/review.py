"""A reviewer's actions on a run's results: confirm, reject, match by hand, unreconcile.

Each action changes the run's results at once (so the reviewer sees it) and records a
decision with who and when, which every later run of the job honours: a confirmed group
is always matched, a rejected match never proposed again (a rejected group as that group
only: its items stay free to match otherwise). A confirmed or hand-made match also
teaches the job aliases and the payer's habits; a rejection unlearns them (see
``learning``). Undoing (unreconcile) revokes
the decisions taken on a match and frees its items; the next run may propose them again.
Reviews apply to a job's latest completed run; older runs and dry runs are history.
"""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from ledgerbridge.db.base import utcnow
from ledgerbridge.errors import ApiError, conflict
from ledgerbridge.reconcile import learning
from ledgerbridge.reconcile.models import (
    Decision,
    ItemStatus,
    MatchState,
    ReconciliationJob,
    ReconciliationRun,
    RunDiscrepancy,
    RunItem,
    RunMatch,
)
from ledgerbridge.reconcile.runs import last_completed_run

MATCHED = (MatchState.auto_matched, MatchState.suggested, MatchState.confirmed)


def confirm(session: Session, match: RunMatch, who: str) -> None:
    _require_latest(session, match)
    if match.status not in (MatchState.auto_matched, MatchState.suggested):
        raise conflict(
            f"match {match.id} is {match.status}; "
            "only auto-matched or suggested matches can be confirmed"
        )
    _decide(session, match, "confirmed", who)
    _set_status(session, match, MatchState.confirmed, who)
    learning.learn(session, match, who)


def reject(session: Session, match: RunMatch, who: str) -> None:
    _require_latest(session, match)
    if match.status not in MATCHED:
        raise conflict(f"match {match.id} is {match.status}; it cannot be rejected")
    _revoke(session, match, who)
    learning.unlearn(session, match, who, rejected=True)
    _decide(session, match, "rejected", who)
    _set_status(session, match, MatchState.rejected, who)
    _free_items(session, match)


def unreconcile(session: Session, match: RunMatch, who: str) -> None:
    _require_latest(session, match)
    if match.status == MatchState.unreconciled:
        raise conflict(f"match {match.id} is already unreconciled")
    _revoke(session, match, who)
    learning.unlearn(session, match, who, rejected=False)
    if match.status in MATCHED:
        _free_items(session, match)
    _set_status(session, match, MatchState.unreconciled, who)


def match_by_hand(
    session: Session,
    job: ReconciliationJob,
    left_ids: list[str],
    right_ids: list[str],
    who: str,
) -> RunMatch:
    """Match items the job's latest run left unmatched (or in a discrepancy) as the
    reviewer says."""
    run = last_completed_run(session, job.id)
    if run is None:
        raise conflict("the job has no completed run yet: start one first")
    items = _items(session, run.id, left_ids, right_ids)
    busy = sorted(f"{item.side} {item.item_id} ({item.status})" for item in items if item.match_id)
    if busy:
        raise conflict(
            "these items are already in a match; reject or unreconcile it first: " + ", ".join(busy)
        )
    position = session.execute(
        select(func.coalesce(func.max(RunMatch.position), -1) + 1).where(RunMatch.run_id == run.id)
    ).scalar_one()
    now = utcnow()
    match = RunMatch(
        tenant_id=run.tenant_id,
        run_id=run.id,
        position=position,
        status=MatchState.confirmed,
        score=1.0,
        rule="manual",
        left_ids=left_ids,
        right_ids=right_ids,
        evidence=[
            {
                "field": "review",
                "rule": "manual",
                "outcome": "match",
                "similarity": 1.0,
                "text": f"matched by hand by {who}",
            }
        ],
        explanation=f"matched by hand by {who}",
        reviewed_by=who,
        reviewed_at=now,
    )
    session.add(match)
    session.flush()
    ids = [item.id for item in items]
    session.execute(
        update(RunItem)
        .where(RunItem.id.in_(ids))
        .values(status=ItemStatus.confirmed, match_id=match.id)
    )
    session.execute(
        delete(RunDiscrepancy).where(
            RunDiscrepancy.run_id == run.id,
            or_(RunDiscrepancy.left_id.in_(left_ids), RunDiscrepancy.right_id.in_(right_ids)),
        )
    )
    _decide(session, match, "confirmed", who)
    learning.learn(session, match, who)
    return match


def _items(
    session: Session, run_id: int, left_ids: list[str], right_ids: list[str]
) -> list[RunItem]:
    wanted = {("left", i) for i in left_ids} | {("right", i) for i in right_ids}
    if len(wanted) != len(left_ids) + len(right_ids):
        raise ApiError(422, "validation_error", "an item is named twice")
    found = session.scalars(
        select(RunItem).where(
            RunItem.run_id == run_id,
            or_(
                (RunItem.side == "left") & RunItem.item_id.in_(left_ids),
                (RunItem.side == "right") & RunItem.item_id.in_(right_ids),
            ),
        )
    ).all()
    missing = sorted(wanted - {(item.side, item.item_id) for item in found})
    if missing:
        names = ", ".join(f"{side} {item_id}" for side, item_id in missing)
        raise ApiError(422, "unknown_items", f"run {run_id} has no such items: {names}")
    return list(found)


def _require_latest(session: Session, match: RunMatch) -> None:
    run = session.get(ReconciliationRun, match.run_id)
    assert run is not None
    latest = last_completed_run(session, run.job_id)
    if run.dry_run or latest is None or latest.id != run.id:
        where = f"run {latest.id}" if latest is not None else "a completed run"
        raise conflict(f"match {match.id} belongs to an earlier run or a dry run; review {where}")


def _decide(session: Session, match: RunMatch, kind: str, who: str) -> None:
    run = session.get(ReconciliationRun, match.run_id)
    assert run is not None
    session.add(
        Decision(
            tenant_id=match.tenant_id,
            job_id=run.job_id,
            kind=kind,
            left_ids=match.left_ids,
            right_ids=match.right_ids,
            match_id=match.id,
            decided_by=who,
        )
    )


def _revoke(session: Session, match: RunMatch, who: str) -> None:
    """Revoke the standing decisions about exactly this group of items."""
    run = session.get(ReconciliationRun, match.run_id)
    assert run is not None
    standing = session.scalars(
        select(Decision).where(Decision.job_id == run.job_id, Decision.revoked_at.is_(None))
    )
    now = utcnow()
    for decision in standing:
        if sorted(decision.left_ids) == sorted(match.left_ids) and sorted(
            decision.right_ids
        ) == sorted(match.right_ids):
            decision.revoked_by, decision.revoked_at = who, now


def _set_status(session: Session, match: RunMatch, status: MatchState, who: str) -> None:
    match.status, match.reviewed_by, match.reviewed_at = status.value, who, utcnow()
    if status == MatchState.confirmed:
        session.execute(
            update(RunItem)
            .where(RunItem.run_id == match.run_id, RunItem.match_id == match.id)
            .values(status=ItemStatus.confirmed)
        )


def _free_items(session: Session, match: RunMatch) -> None:
    session.execute(
        update(RunItem)
        .where(RunItem.run_id == match.run_id, RunItem.match_id == match.id)
        .values(status=ItemStatus.unmatched, match_id=None)
    )
