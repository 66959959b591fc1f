"""Routes: reconciliation jobs, their runs and results, CSV exports, and review."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, select

from ledgerbridge.db.base import undeleted, utcnow
from ledgerbridge.errors import CSV_RESPONSES, ApiError, existing, not_found
from ledgerbridge.pagination import Cursor, Limit, Page, id_page, page_of
from ledgerbridge.reconcile import limits, models, review, runs, workflows
from ledgerbridge.reconcile.schemas import (
    CurrencyTotals,
    DecisionOut,
    DiscrepancyOut,
    ItemOut,
    JobIn,
    JobOut,
    JobUpdate,
    ManualMatchIn,
    MatchOut,
    RunAccepted,
    RunOut,
    RunRequest,
)
from ledgerbridge.reconcile.sources import Source, SourceError, require_source
from ledgerbridge.routing import ReconcileDeveloper, ReconcileViewer, Svc
from ledgerbridge.schemas import Id
from ledgerbridge.security.principal import TenantSession

router = APIRouter(tags=["reconciliation"])
ExportFormat = Annotated[
    Literal["json", "csv"], Query(description="csv: every row at once, as a file")
]


def _job(session: TenantSession, job_id: int) -> models.ReconciliationJob:
    job = session.get(models.ReconciliationJob, job_id)
    if job is None or job.deleted_at is not None:
        raise not_found("reconciliation job")
    return job


def _run(session: TenantSession, run_id: int) -> models.ReconciliationRun:
    run = existing(session.get(models.ReconciliationRun, run_id), "reconciliation run")
    return run


def _check_sources(session: TenantSession, *sources: Source) -> None:
    """Refuse a job whose sources name a connection or statement this tenant lacks."""
    for source in sources:
        try:
            require_source(session, source)
        except SourceError as exc:
            raise ApiError(422, "unknown_source", str(exc)) from None


@router.post("/v1/reconciliation/jobs", status_code=201, response_model=JobOut)
def create_reconciliation_job(
    body: JobIn, principal: ReconcileDeveloper, session: TenantSession, svc: Svc, response: Response
) -> JobOut:
    _check_sources(session, body.left, body.right)
    limits.check_schedule(svc.settings, body.schedule)
    limits.check_job_count(session, svc.settings, principal.tenant_id)
    job = models.ReconciliationJob(
        tenant_id=principal.tenant_id,
        name=body.name,
        left_source=body.left.model_dump(mode="json"),
        right_source=body.right.model_dump(mode="json"),
        config=body.config.model_dump(mode="json"),
        schedule=body.schedule,
        created_by=principal.subject,
    )
    session.add(job)
    session.flush()
    if job.schedule is not None:
        # Before the commit: a schedule whose job never committed finds no job, does nothing.
        workflows.apply_schedule(svc, job)
    response.headers["Location"] = f"/v1/reconciliation/jobs/{job.id}"
    return JobOut.of(job)


@router.get("/v1/reconciliation/jobs", response_model=Page[JobOut])
def list_reconciliation_jobs(
    _: ReconcileViewer, session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[JobOut]:
    return page_of(session, undeleted(models.ReconciliationJob), limit, cursor, JobOut.of)


@router.get("/v1/reconciliation/jobs/{job_id}", response_model=JobOut)
def get_reconciliation_job(job_id: Id, _: ReconcileViewer, session: TenantSession) -> JobOut:
    return JobOut.of(_job(session, job_id))


@router.patch("/v1/reconciliation/jobs/{job_id}", response_model=JobOut)
def update_reconciliation_job(
    job_id: Id, body: JobUpdate, _: ReconcileDeveloper, session: TenantSession, svc: Svc
) -> JobOut:
    job = _job(session, job_id)
    given = body.model_fields_set
    # null leaves a side as it is, like every other field but the schedule.
    _check_sources(session, *(source for source in (body.left, body.right) if source is not None))
    if body.name is not None:
        job.name = body.name
    if body.left is not None:
        job.left_source = body.left.model_dump(mode="json")
    if body.right is not None:
        job.right_source = body.right.model_dump(mode="json")
    if body.config is not None:
        job.config = body.config.model_dump(mode="json")
    if "schedule" in given and (job.schedule, body.schedule) != (None, None):
        limits.check_schedule(svc.settings, body.schedule)
        job.schedule = body.schedule
        workflows.apply_schedule(svc, job)
    session.flush()
    return JobOut.of(job)


@router.delete("/v1/reconciliation/jobs/{job_id}", status_code=204)
def delete_reconciliation_job(
    job_id: Id, _: ReconcileDeveloper, session: TenantSession, svc: Svc
) -> Response:
    job = _job(session, job_id)
    job.deleted_at = utcnow()
    session.commit()  # then the schedule: one left behind finds a deleted job and does nothing
    if job.schedule is not None:
        workflows.apply_schedule(svc, job)
    return Response(status_code=204)


@router.post("/v1/reconciliation/jobs/{job_id}/runs", status_code=202, response_model=RunAccepted)
def start_reconciliation_run(
    job_id: Id,
    principal: ReconcileDeveloper,
    session: TenantSession,
    svc: Svc,
    response: Response,
    body: RunRequest | None = None,
    dry_run: Annotated[
        bool, Query(description="preview: matches gained and lost against the last run")
    ] = False,
) -> RunAccepted:
    job = _job(session, job_id)
    config = body.config if body is not None else None
    if config is not None and not dry_run:
        raise ApiError(
            422, "validation_error", "rules in a run request are a preview: add ?dry_run=true"
        )
    limits.check_queue(session, svc.settings, principal.tenant_id)
    run = runs.request_run(
        session, job, trigger="api", requested_by=principal.subject, dry_run=dry_run, config=config
    )
    session.commit()  # the run must exist before a worker can pick it up
    runs.enqueue(svc, run)
    response.headers["Location"] = f"/v1/reconciliation/runs/{run.id}"
    return RunAccepted(run_id=str(run.id), status=models.RunStatus(run.status))


@router.get("/v1/reconciliation/jobs/{job_id}/runs", response_model=Page[RunOut])
def list_reconciliation_runs(
    job_id: Id, _: ReconcileViewer, session: TenantSession, limit: Limit = 20, cursor: Cursor = None
) -> Page[RunOut]:
    job = _job(session, job_id)
    query = select(models.ReconciliationRun).where(models.ReconciliationRun.job_id == job.id)
    return page_of(session, query, limit, cursor, lambda run: _run_out(session, run))


@router.get("/v1/reconciliation/jobs/{job_id}/decisions", response_model=Page[DecisionOut])
def list_match_decisions(
    job_id: Id,
    _: ReconcileViewer,
    session: TenantSession,
    include_revoked: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DecisionOut]:
    job = _job(session, job_id)
    query = select(models.Decision).where(models.Decision.job_id == job.id)
    if not include_revoked:
        query = query.where(models.Decision.revoked_at.is_(None))
    return page_of(session, query, limit, cursor, DecisionOut.of)


@router.post("/v1/reconciliation/jobs/{job_id}/matches", status_code=201, response_model=MatchOut)
def create_manual_match(
    job_id: Id, body: ManualMatchIn, principal: ReconcileDeveloper, session: TenantSession
) -> MatchOut:
    """Match items of the job's latest run by hand; later runs keep the match."""
    job = _job(session, job_id)
    match = review.match_by_hand(session, job, body.left_ids, body.right_ids, principal.subject)
    return _match_out(session, match)


@router.get("/v1/reconciliation/runs/{run_id}", response_model=RunOut)
def get_reconciliation_run(run_id: Id, _: ReconcileViewer, session: TenantSession) -> RunOut:
    return _run_out(session, _run(session, run_id))


def _run_out(session: TenantSession, run: models.ReconciliationRun) -> RunOut:
    return RunOut.of(run, counts=runs.counts(session, run.id), totals=_totals(session, run.id))


def _totals(session: TenantSession, run_id: int) -> dict[str, CurrencyTotals]:
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    rows = session.execute(
        select(
            models.RunItem.currency,
            models.RunItem.side,
            models.RunItem.status,
            func.sum(models.RunItem.amount_micros),
        )
        .where(models.RunItem.run_id == run_id)
        .group_by(models.RunItem.currency, models.RunItem.side, models.RunItem.status)
    ).all()
    unsettled = (models.ItemStatus.unmatched, models.ItemStatus.discrepancy)
    for currency, side, status, micros in rows:
        where = status if status in unsettled else "matched"
        sums[currency][f"{where}_{side}"] += Decimal(int(micros or 0)) / models.MICROS
    return {
        currency: CurrencyTotals(**{key: found[key] for key in CurrencyTotals.model_fields})
        for currency, found in sorted(sums.items())
    }


@router.get(
    "/v1/reconciliation/runs/{run_id}/matches",
    response_model=Page[MatchOut],
    responses=CSV_RESPONSES,
)
def list_matches(
    run_id: Id,
    _: ReconcileViewer,
    session: TenantSession,
    status: models.MatchState | None = None,
    format: ExportFormat = "json",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[MatchOut] | Response:
    run = _run(session, run_id)
    query = select(models.RunMatch).where(models.RunMatch.run_id == run.id)
    if status is not None:
        query = query.where(models.RunMatch.status == status)
    if format == "csv":
        return _csv(f"run-{run.id}-matches.csv", _match_rows(session, run.id, query))
    rows, next_cursor = id_page(session, query, limit, cursor)
    items = _items_of(session, run.id, [m.id for m in rows])
    return Page(data=[MatchOut.of(m, items.get(m.id, [])) for m in rows], next_cursor=next_cursor)


def _items_of(
    session: TenantSession, run_id: int, match_ids: list[int]
) -> dict[int, list[models.RunItem]]:
    found: dict[int, list[models.RunItem]] = defaultdict(list)
    if match_ids:
        items = session.scalars(
            select(models.RunItem).where(
                models.RunItem.run_id == run_id, models.RunItem.match_id.in_(match_ids)
            )
        )
        for item in items:
            assert item.match_id is not None
            found[item.match_id].append(item)
    return found


def _match_rows(session: TenantSession, run_id: int, query: Any) -> Iterable[Sequence[object]]:
    yield [
        "match_id",
        "status",
        "score",
        "rule",
        "left_ids",
        "right_ids",
        "left_total",
        "right_total",
        "currency",
        "explanation",
        "reviewed_by",
        "reviewed_at",
        "remaining",
    ]
    amounts: dict[tuple[str, str], tuple[Decimal, str]] = {
        (side, item_id): (Decimal(amount), currency)
        for side, item_id, amount, currency in session.execute(
            select(
                models.RunItem.side,
                models.RunItem.item_id,
                models.RunItem.amount,
                models.RunItem.currency,
            ).where(models.RunItem.run_id == run_id)
        ).all()
    }
    match_columns = query.with_only_columns(
        models.RunMatch.id,
        models.RunMatch.status,
        models.RunMatch.score,
        models.RunMatch.rule,
        models.RunMatch.left_ids,
        models.RunMatch.right_ids,
        models.RunMatch.explanation,
        models.RunMatch.reviewed_by,
        models.RunMatch.reviewed_at,
        models.RunMatch.remaining,
    )
    # Rows, not mapped objects: an export of a large run reads each match once.
    for match in session.execute(match_columns.order_by(models.RunMatch.id)):
        left = [amounts[("left", i)] for i in match.left_ids if ("left", i) in amounts]
        right = [amounts[("right", i)] for i in match.right_ids if ("right", i) in amounts]
        yield [
            match.id,
            match.status,
            round(match.score, 4),
            match.rule,
            " ".join(match.left_ids),
            " ".join(match.right_ids),
            sum((a for a, _ in left), Decimal(0)),
            sum((a for a, _ in right), Decimal(0)),
            " ".join(sorted({c for _, c in left + right})),
            match.explanation,
            match.reviewed_by or "",
            match.reviewed_at.isoformat() if match.reviewed_at else "",
            match.remaining or "",
        ]


@router.get(
    "/v1/reconciliation/runs/{run_id}/unmatched",
    response_model=Page[ItemOut],
    responses=CSV_RESPONSES,
)
def list_unmatched(
    run_id: Id,
    _: ReconcileViewer,
    session: TenantSession,
    side: Annotated[
        Literal["left", "right"] | None, Query(description="one side; both by default")
    ] = None,
    format: ExportFormat = "json",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ItemOut] | Response:
    run = _run(session, run_id)
    query = select(models.RunItem).where(
        models.RunItem.run_id == run.id, models.RunItem.status == models.ItemStatus.unmatched
    )
    if side is not None:
        query = query.where(models.RunItem.side == side)
    if format == "csv":
        header = [
            "item_id",
            "side",
            "kind",
            "date",
            "amount",
            "currency",
            "reference",
            "counterparty",
            "text",
        ]
        rows = (
            [
                i.item_id,
                i.side,
                i.kind,
                i.date,
                Decimal(i.amount),
                i.currency,
                i.reference or "",
                i.counterparty or "",
                i.text,
            ]
            for i in session.scalars(query.order_by(models.RunItem.id))
        )
        return _csv(f"run-{run.id}-unmatched-{side or 'both'}.csv", [header, *rows])
    return page_of(session, query, limit, cursor, ItemOut.of)


@router.get(
    "/v1/reconciliation/runs/{run_id}/discrepancies",
    response_model=Page[DiscrepancyOut],
    responses=CSV_RESPONSES,
)
def list_discrepancies(
    run_id: Id,
    _: ReconcileViewer,
    session: TenantSession,
    format: ExportFormat = "json",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DiscrepancyOut] | Response:
    run = _run(session, run_id)
    query = select(models.RunDiscrepancy).where(models.RunDiscrepancy.run_id == run.id)
    if format == "csv":
        header = [
            "discrepancy_id",
            "kind",
            "left_id",
            "right_id",
            "left_value",
            "right_value",
            "explanation",
        ]
        rows = (
            [d.id, d.kind, d.left_id, d.right_id, d.left_value, d.right_value, d.explanation]
            for d in session.scalars(query.order_by(models.RunDiscrepancy.id))
        )
        return _csv(f"run-{run.id}-discrepancies.csv", [header, *rows])
    return page_of(session, query, limit, cursor, DiscrepancyOut.of)


def _csv(filename: str, rows: Iterable[Sequence[object]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([_safe_cell(value) for value in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _safe_cell(value: object) -> object:
    # A spreadsheet runs a cell starting with = + - @ as a formula: bank texts are not ours.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _match(session: TenantSession, match_id: int) -> models.RunMatch:
    match = existing(session.get(models.RunMatch, match_id, with_for_update=True), "match")
    return match


def _match_out(session: TenantSession, match: models.RunMatch) -> MatchOut:
    session.flush()
    return MatchOut.of(match, _items_of(session, match.run_id, [match.id]).get(match.id, []))


@router.get("/v1/reconciliation/matches/{match_id}", response_model=MatchOut)
def get_match(match_id: Id, _: ReconcileViewer, session: TenantSession) -> MatchOut:
    match = existing(session.get(models.RunMatch, match_id), "match")
    return _match_out(session, match)


@router.post("/v1/reconciliation/matches/{match_id}/confirm", response_model=MatchOut)
def confirm_match(match_id: Id, principal: ReconcileDeveloper, session: TenantSession) -> MatchOut:
    match = _match(session, match_id)
    review.confirm(session, match, principal.subject)
    return _match_out(session, match)


@router.post("/v1/reconciliation/matches/{match_id}/reject", response_model=MatchOut)
def reject_match(match_id: Id, principal: ReconcileDeveloper, session: TenantSession) -> MatchOut:
    match = _match(session, match_id)
    review.reject(session, match, principal.subject)
    return _match_out(session, match)


@router.post("/v1/reconciliation/matches/{match_id}/unreconcile", response_model=MatchOut)
def unreconcile_match(
    match_id: Id, principal: ReconcileDeveloper, session: TenantSession
) -> MatchOut:
    match = _match(session, match_id)
    review.unreconcile(session, match, principal.subject)
    return _match_out(session, match)
