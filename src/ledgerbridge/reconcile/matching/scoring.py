"""Per-rule checks of a candidate pair and the pair's score.

Each check returns an outcome, a similarity in [0, 1] and the facts the explanation
needs. The score is the weighted mean of the rules' similarities; a rule with nothing
to compare (no reference on either item) counts a quarter of its weight at 0.5, so a
pair with less evidence scores a little lower than one whose evidence all agrees.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from ledgerbridge.reconcile.matching.config import (
    AmountRule,
    CounterpartyRule,
    CurrencyRule,
    DateWindowRule,
    ExactKeyRule,
    GroupRule,
    JobConfig,
    Rule,
)
from ledgerbridge.reconcile.matching.normalise import (
    name_similarities,
    name_similarity,
    pairwise_ratios,
)
from ledgerbridge.reconcile.matching.prepare import Prepared

TRUNCATED_SIMILARITY = 0.6
FEE_SIMILARITY = 0.85
CONVERTED_SIMILARITY = 0.9
NO_EXTRA = Decimal(0)
CITED_WITH_AMOUNT = 0.96  # the least score of a fully cited reference with its amount
MISSING_SHARE = 0.25  # of its weight, that a rule with nothing to compare still counts
# A payer's learned habits: how close a payment must come to them, and what they count.
USUAL_SIMILARITY = 0.95
FEE_SLACK = Decimal("0.0025")
DELAY_SLACK_DAYS = 3


class Outcome(StrEnum):
    MATCH = "match"
    PARTIAL = "partial"
    MISMATCH = "mismatch"
    MISSING = "missing"


class Check(NamedTuple):
    outcome: Outcome
    similarity: float
    detail: str  # what was found, e.g. "in_left_text", "fee", "beyond"
    values: tuple[object, ...] = ()


MISSING = Check(Outcome.MISSING, 0.0, "missing")


@dataclass(frozen=True, slots=True)
class PairScore:
    score: float
    eligible: bool  # no required rule is violated
    identified: bool  # a reference or counterparty agrees, not just amount and date
    key_agrees: bool
    rule_rank: int  # position of the rule that names the match
    checks: tuple[Check, ...]


def convert(
    currency: CurrencyRule | None, left: Prepared, right: Prepared
) -> tuple[Decimal, Decimal] | None:
    """The right magnitude in the left currency (at the job's `currency` rates), and
    the extra relative tolerance."""
    if left.currency == right.currency:
        return right.magnitude, NO_EXTRA
    if currency is None:
        return None
    left_rate = currency.rates.get(left.currency)
    right_rate = currency.rates.get(right.currency)
    if left_rate is None or right_rate is None:
        return None
    return right.magnitude * right_rate / left_rate, currency.tolerance


def check_key(rule: ExactKeyRule, left: Prepared, right: Prepared) -> Check:
    if left.reference and left.reference == right.reference:
        return Check(Outcome.MATCH, 1.0, "equal", (left.item.reference,))
    if rule.search_text:
        if len(left.reference) >= rule.min_length and left.reference in right.text_keys:
            return Check(Outcome.MATCH, 1.0, "in_right_text", (left.item.reference,))
        if len(right.reference) >= rule.min_length and right.reference in left.text_keys:
            return Check(Outcome.MATCH, 1.0, "in_left_text", (right.item.reference,))
        shortest = rule.truncated_min_length
        if shortest is not None:
            for memo, reference, side in ((left, right, "left"), (right, left, "right")):
                if _truncates(memo.last_key, reference.reference, shortest):
                    values = (memo.last_key, reference.item.reference)
                    # The more of the reference survives, the stronger the evidence.
                    similarity = max(0.5, len(memo.last_key) / len(reference.reference))
                    return Check(Outcome.PARTIAL, similarity, f"truncated_in_{side}", values)
    if left.reference and right.reference:
        return Check(Outcome.MISMATCH, 0.0, "differs", (left.item.reference, right.item.reference))
    if right.reference and (left.mentions or cites_lookalike(rule, left, right.reference)):
        return Check(Outcome.MISMATCH, 0.0, "left_cites_other", (right.item.reference,))
    if left.reference and (right.mentions or cites_lookalike(rule, right, left.reference)):
        return Check(Outcome.MISMATCH, 0.0, "right_cites_other", (left.item.reference,))
    return MISSING


def _truncates(token: str, reference: str, shortest: int) -> bool:
    return shortest <= len(token) < len(reference) and reference.startswith(token)


def cites_lookalike(rule: ExactKeyRule, memo: Prepared, reference: str) -> bool:
    """The memo holds a key that starts like the reference but is another one
    (INV-0027 or INV-002700 against INV-002914)."""
    shortest = rule.truncated_min_length
    if shortest is None or not rule.search_text or len(reference) < shortest:
        return False
    head = reference[:shortest]
    return any(key.startswith(head) and not reference.startswith(key) for key in memo.text_keys)


def check_amount(
    rule: AmountRule, left: Prepared, right_amount: Decimal, extra_rate: Decimal
) -> Check:
    diff = left.magnitude - right_amount
    gap = abs(diff)
    if gap <= rule.abs_tolerance:
        return Check(Outcome.MATCH, 1.0, "equal" if gap == 0 else "within_abs", (diff,))
    larger = max(left.magnitude, right_amount)
    allowed = (rule.rel_tolerance + extra_rate) * larger + rule.abs_tolerance
    best = MISSING
    if gap <= allowed:
        similarity = 1.0 - 0.5 * float(gap / allowed)
        best = Check(Outcome.MATCH, similarity, "within_rel", (diff, allowed))
    if rule.fee is not None:
        net, gross = (
            (left.magnitude, right_amount)
            if rule.fee.net_side == "left"
            else (right_amount, left.magnitude)
        )
        shortfall = gross - net
        fee_limit = (rule.fee.max_rate + extra_rate) * gross + rule.fee.max_fixed
        if 0 < shortfall <= fee_limit and best.similarity < FEE_SIMILARITY:
            best = Check(Outcome.MATCH, FEE_SIMILARITY, "fee", (diff,))
    if best is MISSING:
        return Check(Outcome.MISMATCH, 0.0, "beyond", (diff, allowed))
    return best


def check_date(rule: DateWindowRule, left: Prepared, right: Prepared) -> Check:
    if left.end < right.start:
        gap, limit, detail = right.start - left.end, rule.days_before, "before"
    elif left.start > right.end:
        gap, limit, detail = left.start - right.end, rule.days_after, "after"
    else:
        return Check(Outcome.MATCH, 1.0, "within_terms" if right.end > right.start else "same")
    if gap > limit:
        return Check(Outcome.MISMATCH, 0.0, detail, (gap, limit))
    return Check(Outcome.MATCH, 1.0 - 0.5 * gap / limit, detail, (gap, limit))


def check_counterparty(rule: CounterpartyRule, left: Prepared, right: Prepared) -> Check:
    """Two names that differ are evidence against a pair; a name not found in a memo is
    only absent evidence (memos often name nobody, or a processor), so it is MISSING."""
    if left.name and right.name:
        # Word order may differ, but every word counts: "Sun Foods" is not "Sun"; a
        # name the bank cut short counts against the start of the full one.
        ratio = name_similarity(left.name, left.full_name, right.name, right.full_name)
        detail = "names"
    elif not rule.use_text:
        return MISSING
    elif left.name and right.memo_name:
        learned = _by_alias(rule, left, right)
        if learned is not None:
            return learned
        ratio = name_in_memo(left.name, left.full_name, right.memo_name)
        detail = "left_name_in_right_text"
    elif right.name and left.memo_name:
        learned = _by_alias(rule, right, left)
        if learned is not None:
            return learned
        ratio = name_in_memo(right.name, right.full_name, left.memo_name)
        detail = "right_name_in_left_text"
    elif left.memo_name and right.memo_name:
        ratio, detail = text_similarity(left.memo_name, right.memo_name), "texts"
    else:
        return MISSING
    if ratio >= rule.threshold:
        return Check(Outcome.MATCH, ratio / 100, detail, (ratio,))
    if detail != "names":
        return Check(Outcome.MISSING, 0.0, detail, (ratio,))
    if ratio >= rule.threshold - 15:
        return Check(Outcome.PARTIAL, ratio / 200, detail, (ratio,))
    return Check(Outcome.MISMATCH, 0.0, detail, (ratio,))


def _by_alias(rule: CounterpartyRule, named: Prepared, memo: Prepared) -> Check | None:
    """The memo holds words a reviewer taught as an alias of this contact."""
    if memo.alias is None:
        return None
    ratio = name_similarity(named.name, named.full_name, memo.alias_name, memo.alias_full)
    if ratio < rule.threshold:
        return None
    return Check(Outcome.MATCH, ratio / 100, "alias", (ratio, memo.alias))


@functools.lru_cache(maxsize=1 << 16)
def name_in_memo(name: str, full_name: str, memo: str) -> float:
    """How well a memo names a counterparty: its words among the memo's, or the memo
    holding the name as a bank cuts it short."""
    contained = float(fuzz.token_set_ratio(name, memo))
    truncated = name_similarity(name, full_name, memo, memo)
    return max(contained, truncated)


def names_in_memos(
    names: list[str], full_names: list[str], memos: list[str]
) -> npt.NDArray[np.float64]:
    """`name_in_memo` of many names and memos at once, with the same results."""
    contained = pairwise_ratios(fuzz.token_set_ratio, names, memos)
    return np.maximum(contained, name_similarities(names, full_names, memos, memos))


def text_similarity(first: str, second: str) -> float:
    """Memos against memos: word sets, tempered by word order, so that a memo holding
    only an initial ("M M") does not count as containing "M VIELGORSKY"."""
    return (fuzz.token_set_ratio(first, second) + fuzz.token_sort_ratio(first, second)) / 2


def check_currency(
    converted: tuple[Decimal, Decimal] | None, left: Prepared, right: Prepared
) -> Check:
    if left.currency == right.currency:
        return Check(Outcome.MATCH, 1.0, "same", (left.currency,))
    if converted is None:
        return Check(Outcome.MISMATCH, 0.0, "no_rate", (left.currency, right.currency))
    return Check(Outcome.MATCH, CONVERTED_SIMILARITY, "converted", (left.currency, right.currency))


def signs_agree(config: JobConfig, left: Prepared, right: Prepared) -> bool:
    if config.sign_convention == "any" or not left.magnitude or not right.magnitude:
        return True
    same = left.negative == right.negative
    return same if config.sign_convention == "same" else not same


def check_amount_rule(
    config: JobConfig,
    rule: AmountRule,
    left: Prepared,
    right: Prepared,
    converted: tuple[Decimal, Decimal] | None,
) -> Check:
    if converted is None:
        return Check(Outcome.MISMATCH, 0.0, "incomparable", (left.currency, right.currency))
    if not signs_agree(config, left, right):
        return Check(Outcome.MISMATCH, 0.0, "sign", (left.item.amount, right.item.amount))
    check = check_amount(rule, left, *converted)
    if check.similarity < USUAL_SIMILARITY and left.currency == right.currency:
        return _usual_fee(rule, left, right) or check
    return check


def _usual_fee(rule: AmountRule, left: Prepared, right: Prepared) -> Check | None:
    """The payment falls short of the invoice by the payer's usual (learned) fee."""
    for billed, paid in ((right, left), (left, right)):
        habit = billed.habit
        if habit is None or not habit.fee_rate or not billed.magnitude:
            continue
        short = billed.magnitude - paid.magnitude
        slack = FEE_SLACK + rule.abs_tolerance / billed.magnitude
        if short > 0 and abs(short / billed.magnitude - habit.fee_rate) <= slack:
            return Check(Outcome.MATCH, USUAL_SIMILARITY, "usual_fee", (short, habit))
    return None


Converted = tuple[Decimal, Decimal] | None
CheckFunction = Callable[[Prepared, Prepared, Converted], Check]
PairScorer = Callable[[Prepared, Prepared], PairScore]


@dataclass(frozen=True, slots=True)
class Step:
    """A rule's check of a pair, and how its outcome counts in the pair's score."""

    check: CheckFunction
    weight: float
    required: bool
    is_key: bool
    is_amount: bool
    identifies: bool  # a reference or a counterparty, not just amount and date
    names: bool  # may name the match; currency agreement alone names nothing


def step(config: JobConfig, rule: Rule) -> Step:
    check: CheckFunction
    if isinstance(rule, ExactKeyRule):
        check = partial(_key_check, rule)
    elif isinstance(rule, AmountRule):
        check = partial(check_amount_rule, config, rule)
    elif isinstance(rule, DateWindowRule):
        check = partial(_date_check, rule)
    elif isinstance(rule, CounterpartyRule):
        check = partial(_counterparty_check, rule)
    elif isinstance(rule, CurrencyRule):
        check = _currency_check
    else:
        check = _not_pairwise
    return Step(
        check=check,
        weight=rule.weight,
        required=rule.required,
        is_key=isinstance(rule, ExactKeyRule),
        is_amount=isinstance(rule, AmountRule),
        identifies=isinstance(rule, ExactKeyRule | CounterpartyRule),
        names=not isinstance(rule, CurrencyRule | GroupRule),
    )


def rule_check(config: JobConfig, rule: Rule) -> CheckFunction:
    """One rule's check of a pair, as the pair's score reads it."""
    return step(config, rule).check


def _key_check(rule: ExactKeyRule, left: Prepared, right: Prepared, _: Converted) -> Check:
    return check_key(rule, left, right)


def _date_check(rule: DateWindowRule, left: Prepared, right: Prepared, _: Converted) -> Check:
    check = check_date(rule, left, right)
    if check.outcome is not Outcome.MATCH or check.similarity >= 1.0:
        return check
    for billed, paid in ((right, left), (left, right)):
        habit = billed.habit
        if habit is None or habit.delay_days is None:
            continue
        delay = paid.start - billed.start
        if abs(delay - habit.delay_days) <= DELAY_SLACK_DAYS:
            return Check(Outcome.MATCH, 1.0, "usual_delay", (delay, habit))
    return check


def _counterparty_check(
    rule: CounterpartyRule, left: Prepared, right: Prepared, _: Converted
) -> Check:
    return check_counterparty(rule, left, right)


def _currency_check(left: Prepared, right: Prepared, converted: Converted) -> Check:
    return check_currency(converted, left, right)


def _not_pairwise(left: Prepared, right: Prepared, converted: Converted) -> Check:
    return MISSING


def pair_scorer(config: JobConfig) -> PairScorer:
    """A function scoring pairs under this job's rules, built once per run."""
    steps = [step(config, rule) for rule in config.rules]
    currency = config.find(CurrencyRule)

    def score(left: Prepared, right: Prepared) -> PairScore:
        converted = convert(currency, left, right)
        checks = []
        total = weights = 0.0
        eligible = True
        identified = key_agrees = cited = amount_agrees = contradicted = False
        named = partly_named = -1
        for rank, step in enumerate(steps):
            check = step.check(left, right, converted)
            checks.append(check)
            outcome = check.outcome
            if outcome is Outcome.MISSING:
                # Nothing to compare: neither for nor against, but less evidence than a
                # rule that agrees, so it counts a little, halfway.
                total += step.weight * MISSING_SHARE * 0.5
                weights += step.weight * MISSING_SHARE
                continue
            total += step.weight * check.similarity
            weights += step.weight
            if outcome is Outcome.MATCH:
                identified = identified or step.identifies
                key_agrees = key_agrees or step.is_key
                cited = cited or (step.is_key and check.similarity >= 1.0)
                amount_agrees = amount_agrees or step.is_amount
                if named < 0 and step.names:
                    named = rank
            elif outcome is Outcome.MISMATCH:
                eligible = eligible and not step.required
                contradicted = True
            elif partly_named < 0 and step.names:
                partly_named = rank
        value = total / weights if weights else 0.0
        if cited and amount_agrees and eligible and not contradicted:
            # The invoice number cited in full and an amount that agrees (exactly, within
            # tolerance or net of the fee) is the strongest evidence there is; a missing
            # name or a late date does not weaken it. Rivals still keep it from auto.
            value = max(value, CITED_WITH_AMOUNT)
        return PairScore(
            score=round(value, 4),
            eligible=eligible,
            identified=identified,
            key_agrees=key_agrees,
            rule_rank=max(named if named >= 0 else partly_named, 0),
            checks=tuple(checks),
        )

    return score


_last_scorer: list[tuple[JobConfig, PairScorer]] = []


def score_pair(config: JobConfig, left: Prepared, right: Prepared) -> PairScore:
    """One pair's score; the scorer of the last config asked about is kept, so a run
    that explains its matches one by one builds it once."""
    last = _last_scorer[0] if _last_scorer else None
    if last is None or last[0] is not config:
        last = (config, pair_scorer(config))
        _last_scorer[:] = [last]
    return last[1](left, right)
