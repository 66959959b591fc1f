"""Items turned once into the normalised view that blocking and scoring read."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ledgerbridge.reconcile.matching.config import DateWindowRule, JobConfig
from ledgerbridge.reconcile.matching.items import Item
from ledgerbridge.reconcile.matching.normalise import (
    last_text_key,
    name_blocking_keys,
    name_forms,
    name_tokens,
    reference_key,
    text_keys,
)


@dataclass(frozen=True, slots=True)
class Prepared:
    item: Item
    magnitude: Decimal
    negative: bool
    currency: str
    start: int  # date as an ordinal
    end: int  # due date as an ordinal when the job uses due dates, else start
    reference: str
    text_keys: frozenset[str]
    last_key: str
    name: str  # normalised counterparty, "" when unknown
    full_name: str  # counterparty with its legal form, for names a bank cut short
    memo_name: str  # normalised memo, compared when a counterparty is missing
    block_keys: tuple[str, ...]
    # References of the other side's items that this item's memo cites.
    mentions: frozenset[str]


def prepare_sides(
    left: Sequence[Item], right: Sequence[Item], config: JobConfig
) -> tuple[list[Prepared], list[Prepared]]:
    left_refs = {reference_key(item.reference) for item in left} - {""}
    right_refs = {reference_key(item.reference) for item in right} - {""}
    return _prepare(left, right_refs, config), _prepare(right, left_refs, config)


def _prepare(items: Sequence[Item], other_refs: set[str], config: JobConfig) -> list[Prepared]:
    date_rule = config.find(DateWindowRule)
    use_due = date_rule is not None and date_rule.use_due_date
    prepared = []
    for item in items:
        keys = frozenset(text_keys(item.text))
        names, full = name_forms(item.counterparty)
        memo_names = name_tokens(item.text, memo=True)
        start = item.date.toordinal()
        due = item.due_date.toordinal() if use_due and item.due_date else start
        prepared.append(
            Prepared(
                item=item,
                magnitude=abs(item.amount),
                negative=item.amount < 0,
                currency=item.currency.upper(),
                start=start,
                end=max(start, due),
                reference=reference_key(item.reference),
                text_keys=keys,
                last_key=last_text_key(item.text),
                name=" ".join(names),
                full_name=full,
                memo_name=" ".join(memo_names),
                block_keys=name_blocking_keys(names or memo_names),
                mentions=keys & other_refs,
            )
        )
    return prepared
