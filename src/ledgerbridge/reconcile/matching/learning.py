"""What a reviewer's decisions teach: aliases (memo words that name a contact) and a
payer's usual fee and delay.

A confirmed or hand-made match whose memo does not name the contact teaches the memo's
words as an alias of the contact; a one-to-one match also teaches the payer's fee (the
share the line falls short of the invoice) and delay (days from invoice to payment).
Later runs read them as evidence, and say so in the explanation.

An alias is evidence about *who* paid, never about *what* was paid: the amount rule
still decides. It is also bounded, so that a hostile or mistaken confirmation cannot
teach one that matches everything: its words must hold a distinctive word (at least
MIN_WORD_LENGTH letters, not a word banks print on any line), an alias that fits more
than MAX_ALIAS_SHARE of a side's lines (and more than MAX_ALIAS_LINES) is ignored as
too broad, and two aliases naming different contacts cancel out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

from rapidfuzz import fuzz

from ledgerbridge.reconcile.matching.items import Item
from ledgerbridge.reconcile.matching.normalise import name_tokens, word_set

MIN_WORD_LENGTH = 4
MAX_ALIAS_WORDS = 6
MAX_ALIAS_LINES = 50
MAX_ALIAS_SHARE = 0.02
MAX_LEARNED_FEE = Decimal("0.10")
NAMED_THRESHOLD = 85.0  # a memo this similar to the contact already names it

# Words on so many bank lines that they say nothing about who paid.
COMMON_WORDS = word_set(
    "account accounts amount bank banking batch bill bills card cards cash cheque "
    "client customer customers deposit deposits direct fee fees fund funds goods "
    "interest invoices monthly online order orders paid payee payer payments payout "
    "payouts pos purchase received receipt refund refunds remittance sale sales "
    "salary savings service services settlement settlements standing sundry supplier "
    "transaction transfers wire with week weekly month year"
)


@dataclass(frozen=True, slots=True)
class Alias:
    words: tuple[str, ...]  # normalised memo words, all of which a memo must hold
    counterparty: str  # the contact as the other side names it
    source: str  # the match it was learned from
    learned_on: dt.date

    @property
    def note(self) -> str:
        return f"alias learned from match {self.source} on {self.learned_on.isoformat()}"


@dataclass(frozen=True, slots=True)
class PayerHabit:
    counterparty: str
    fee_rate: Decimal | None  # usual share the payment falls short of the invoice
    delay_days: int | None  # usual days from invoice date to payment
    source: str  # the latest match it was learned from
    learned_on: dt.date

    @property
    def note(self) -> str:
        return f"learned from match {self.source} on {self.learned_on.isoformat()}"


@dataclass(frozen=True, slots=True)
class Learned:
    aliases: Sequence[Alias] = ()
    payers: Sequence[PayerHabit] = ()


@dataclass(frozen=True, slots=True)
class Lesson:
    """What one match teaches: aliases, and one payer observation (fee, delay)."""

    aliases: tuple[tuple[tuple[str, ...], str], ...]  # (words, counterparty)
    counterparty: str | None
    fee_rate: Decimal | None
    delay_days: int | None


def alias_words(text: str) -> tuple[str, ...] | None:
    """The words of a memo worth remembering, or None when none is distinctive."""
    words = [w for w in name_tokens(text, memo=True) if len(w) >= 2][:MAX_ALIAS_WORDS]
    if not any(len(w) >= MIN_WORD_LENGTH and w not in COMMON_WORDS for w in words):
        return None
    return tuple(words)


def lesson(left: Sequence[Item], right: Sequence[Item]) -> Lesson:
    """What a confirmed match of `left` and `right` items teaches.

    The named side is the one whose items all carry the same counterparty; the memo side
    is the other. Nothing is taught when neither side names one contact.
    """
    for memo_side, named_side in ((left, right), (right, left)):
        names = {item.counterparty.strip() for item in named_side if item.counterparty}
        if len(names) != 1 or len(names_of(named_side)) != len(named_side):
            continue
        contact = names.pop()
        contact_words = " ".join(name_tokens(contact))
        aliases = []
        for item in memo_side:
            if item.counterparty:
                continue
            words = alias_words(item.text)
            if words is None:
                continue
            if fuzz.token_set_ratio(contact_words, " ".join(words)) >= NAMED_THRESHOLD:
                continue  # the memo names the contact already
            aliases.append((words, contact))
        fee = delay = None
        if len(memo_side) == len(named_side) == 1:
            paid, billed = memo_side[0], named_side[0]
            if paid.currency == billed.currency and billed.amount:
                short = (abs(billed.amount) - abs(paid.amount)) / abs(billed.amount)
                if Decimal(0) <= short <= MAX_LEARNED_FEE:
                    fee = short.quantize(Decimal("0.0001"))
            days = (paid.date - billed.date).days
            delay = days if -60 <= days <= 365 else None
        return Lesson(tuple(dict.fromkeys(aliases)), contact, fee, delay)
    return Lesson((), None, None, None)


def names_of(items: Sequence[Item]) -> list[str]:
    return [item.counterparty for item in items if item.counterparty]


def habits(
    observations: Sequence[tuple[str, Decimal | None, int | None, str, dt.date]],
) -> list[PayerHabit]:
    """A payer's usual fee and delay: the medians of what its confirmed matches showed;
    (counterparty, fee, delay, match, date) observations, oldest first."""
    grouped: dict[str, list[tuple[Decimal | None, int | None, str, dt.date]]] = {}
    for counterparty, fee, delay, source, on in observations:
        grouped.setdefault(counterparty, []).append((fee, delay, source, on))
    found = []
    for counterparty, seen in grouped.items():
        fees = [fee for fee, _, _, _ in seen if fee is not None]
        delays = [delay for _, delay, _, _ in seen if delay is not None]
        _, _, source, on = seen[-1]
        found.append(
            PayerHabit(
                counterparty,
                Decimal(median(fees)) if fees else None,
                round(median(delays)) if delays else None,
                source,
                on,
            )
        )
    return found


def usable_aliases(aliases: Sequence[Alias], memos: Sequence[frozenset[str]]) -> list[Alias]:
    """The aliases that are neither too broad for these memos nor contradicted by
    another alias with the same words and another contact."""
    contacts: dict[tuple[str, ...], set[str]] = {}
    for alias in aliases:
        contacts.setdefault(alias.words, set()).add(alias.counterparty)
    latest: dict[tuple[str, ...], Alias] = {}
    for alias in aliases:
        if len(contacts[alias.words]) == 1:
            latest[alias.words] = alias
    if not latest:
        return []
    limit = max(MAX_ALIAS_LINES, int(MAX_ALIAS_SHARE * len(memos)))
    by_word: dict[str, list[tuple[str, ...]]] = {}
    for words in latest:
        by_word.setdefault(words[0], []).append(words)
    hits = dict.fromkeys(latest, 0)
    for memo in memos:
        for word in memo:
            for words in by_word.get(word, ()):
                if all(w in memo for w in words):
                    hits[words] += 1
    return [alias for words, alias in latest.items() if hits[words] <= limit]
