"""Items turned once into the normalised view that blocking and scoring read."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ledgerbridge.reconcile.matching.config import DateWindowRule, JobConfig
from ledgerbridge.reconcile.matching.items import Item
from ledgerbridge.reconcile.matching.learning import Alias, Learned, PayerHabit, usable_aliases
from ledgerbridge.reconcile.matching.normalise import (
    memo_keys,
    name_blocking_keys,
    name_forms,
    name_tokens,
    reference_key,
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
    # A learned alias the memo holds (its contact's normalised name and full form).
    alias: Alias | None = None
    alias_name: str = ""
    alias_full: str = ""
    # The learned habits of the contact this item names.
    habit: PayerHabit | None = None


def prepare_sides(
    left: Sequence[Item],
    right: Sequence[Item],
    config: JobConfig,
    learned: Learned | None = None,
) -> tuple[list[Prepared], list[Prepared]]:
    learned = learned or Learned()
    left_refs = {reference_key(item.reference) for item in left} - {""}
    right_refs = {reference_key(item.reference) for item in right} - {""}
    return (
        _prepare(left, right_refs, config, learned),
        _prepare(right, left_refs, config, learned),
    )


def _prepare(
    items: Sequence[Item], other_refs: set[str], config: JobConfig, learned: Learned
) -> list[Prepared]:
    date_rule = config.find(DateWindowRule)
    use_due = date_rule is not None and date_rule.use_due_date
    memos = [name_tokens(item.text, memo=True) for item in items]
    aliases = _alias_index(learned, items, memos)
    habits = {" ".join(name_forms(h.counterparty)[0]): h for h in learned.payers}
    prepared = []
    for item, memo_names in zip(items, memos, strict=True):
        found, last_key = memo_keys(item.text)
        keys = frozenset(found)
        names, full = name_forms(item.counterparty)
        alias = None if item.counterparty or not aliases else _alias_of(aliases, memo_names)
        alias_names, alias_full = name_forms(alias.counterparty) if alias else ([], "")
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
                last_key=last_key,
                name=" ".join(names),
                full_name=full,
                memo_name=" ".join(memo_names),
                block_keys=tuple(
                    dict.fromkeys(
                        name_blocking_keys(names or memo_names) + name_blocking_keys(alias_names)
                    )
                ),
                mentions=keys & other_refs,
                alias=alias,
                alias_name=" ".join(alias_names),
                alias_full=alias_full,
                habit=habits.get(" ".join(names)) if names else None,
            )
        )
    return prepared


def _alias_index(
    learned: Learned, items: Sequence[Item], memos: list[list[str]]
) -> dict[str, list[Alias]]:
    """Usable aliases by their first word, for the memo-only items of this side."""
    if not learned.aliases:
        return {}
    memo_sets = [
        frozenset(memo) for item, memo in zip(items, memos, strict=True) if not item.counterparty
    ]
    index: dict[str, list[Alias]] = {}
    for alias in usable_aliases(learned.aliases, memo_sets):
        index.setdefault(alias.words[0], []).append(alias)
    return index


def _alias_of(index: dict[str, list[Alias]], memo: list[str]) -> Alias | None:
    """The alias with the most words that the memo holds; none when two such aliases
    name different contacts."""
    words = frozenset(memo)
    fitting = [a for w in words for a in index.get(w, ()) if all(x in words for x in a.words)]
    if not fitting:
        return None
    most = max(len(a.words) for a in fitting)
    best = [a for a in fitting if len(a.words) == most]
    return best[0] if len({a.counterparty for a in best}) == 1 else None
