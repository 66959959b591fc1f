"""Learning from a reviewer's decisions, per job: a confirmed or hand-made match teaches
aliases and a payer's habits (see ``matching.learning``); rejecting a match unlearns
what it taught, and any alias that its memo fits; undoing a match unlearns what it
taught. Later runs of the job read what is still standing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledgerbridge.db.base import utcnow
from ledgerbridge.reconcile.matching import Alias, Item, Learned, lesson
from ledgerbridge.reconcile.matching.learning import habits
from ledgerbridge.reconcile.matching.normalise import name_tokens
from ledgerbridge.reconcile.models import LearnedFact, ReconciliationRun, RunItem, RunMatch


def _items(session: Session, match: RunMatch) -> tuple[list[Item], list[Item]]:
    rows = session.scalars(
        select(RunItem).where(
            RunItem.run_id == match.run_id,
            RunItem.item_id.in_([*match.left_ids, *match.right_ids]),
        )
    ).all()
    found = {(row.side, row.item_id): row for row in rows}

    def side(name: str, ids: list[str]) -> list[Item]:
        return [
            Item(
                id=row.item_id,
                amount=Decimal(row.amount),
                currency=row.currency,
                date=row.date,
                reference=row.reference,
                text=row.text,
                counterparty=row.counterparty,
            )
            for item_id in ids
            if (row := found.get((name, item_id))) is not None
        ]

    return side("left", match.left_ids), side("right", match.right_ids)


def learn(session: Session, match: RunMatch, who: str) -> None:
    """Record what a confirmed (or hand-made) match teaches its job."""
    run = session.get(ReconciliationRun, match.run_id)
    assert run is not None
    taught = lesson(*_items(session, match))
    if taught.counterparty is None:
        return
    facts = [
        LearnedFact(kind="alias", words=" ".join(words)[:255], counterparty=contact[:255])
        for words, contact in taught.aliases
    ]
    if taught.fee_rate is not None or taught.delay_days is not None:
        facts.append(
            LearnedFact(
                kind="payer",
                counterparty=taught.counterparty[:255],
                fee_rate=str(taught.fee_rate) if taught.fee_rate is not None else None,
                delay_days=taught.delay_days,
            )
        )
    for fact in facts:
        fact.tenant_id, fact.job_id, fact.match_id = match.tenant_id, run.job_id, match.id
        fact.learned_by = who
        session.add(fact)


def unlearn(session: Session, match: RunMatch, who: str, *, rejected: bool) -> None:
    """Revoke what this match taught; for a rejection, also every alias its memos fit
    (the reviewer said those words did not name this contact here)."""
    run = session.get(ReconciliationRun, match.run_id)
    assert run is not None
    standing = session.scalars(
        select(LearnedFact).where(
            LearnedFact.job_id == run.job_id, LearnedFact.revoked_at.is_(None)
        )
    ).all()
    memos: list[frozenset[str]] = []
    if rejected:
        for item in (item for side in _items(session, match) for item in side):
            if not item.counterparty:
                memos.append(frozenset(name_tokens(item.text, memo=True)))
    now = utcnow()
    for fact in standing:
        fits = (
            fact.kind == "alias"
            and fact.words is not None
            and any(set(fact.words.split()) <= memo for memo in memos)
        )
        if fact.match_id == match.id or fits:
            fact.revoked_by, fact.revoked_at = who, now


def standing(session: Session, job_id: int) -> Learned:
    """What the job's standing decisions teach, oldest first."""
    rows = session.scalars(
        select(LearnedFact)
        .where(LearnedFact.job_id == job_id, LearnedFact.revoked_at.is_(None))
        .order_by(LearnedFact.id)
    ).all()
    aliases = [
        Alias(tuple(row.words.split()), row.counterparty, str(row.match_id), row.learned_at.date())
        for row in rows
        if row.kind == "alias" and row.words
    ]
    observations = [
        (
            row.counterparty,
            Decimal(row.fee_rate) if row.fee_rate is not None else None,
            row.delay_days,
            str(row.match_id),
            row.learned_at.date(),
        )
        for row in rows
        if row.kind == "payer"
    ]
    return Learned(aliases=aliases, payers=habits(observations))
