"""Candidate pairs scored all at once: each rule's outcome and similarity as arrays over
the pairs, combined exactly as `scoring.pair_scorer` combines them for one pair.

Items are turned once into columns (codes for references, memo keys and names, amounts
as whole numbers of the finest decimal place any of them uses), so that a rule's check
over a million pairs is a few array operations instead of a million Python calls. Name
and memo similarity is computed once per distinct pair of names. Pairs that need what
only the pairwise scorer knows (a conversion between currencies, a learned alias or
habit, a relative amount tolerance, amounts too large for 64-bit whole numbers) are
scored by it, one by one. The results are the same either way:
tests/reconcile/test_matching_batch.py holds them to it.
"""

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from ledgerbridge.reconcile.matching.config import (
    AmountRule,
    CounterpartyRule,
    CurrencyRule,
    DateWindowRule,
    ExactKeyRule,
    JobConfig,
    Rule,
)
from ledgerbridge.reconcile.matching.normalise import name_similarities, pairwise_ratios
from ledgerbridge.reconcile.matching.prepare import Prepared
from ledgerbridge.reconcile.matching.scoring import (
    CITED_WITH_AMOUNT,
    CONVERTED_SIMILARITY,
    FEE_SIMILARITY,
    MISSING_SHARE,
    Outcome,
    cites_lookalike,
    convert,
    names_in_memos,
    rule_check,
    step,
)

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
Outcomes = npt.NDArray[np.int8]
Checked = tuple[Outcomes, Floats]
Side = Literal["left", "right"]
# Each side as the one whose memo is read, with the other as the one cited.
BOTH_WAYS: tuple[tuple[Side, Side], ...] = (("left", "right"), ("right", "left"))

MISSING, MATCH, PARTIAL, MISMATCH = 0, 1, 2, 3
OUTCOMES = {
    Outcome.MISSING: MISSING,
    Outcome.MATCH: MATCH,
    Outcome.PARTIAL: PARTIAL,
    Outcome.MISMATCH: MISMATCH,
}
# (item index, code) pairs are searched as index * WIDTH + code.
WIDTH = 2**32
# Fractions in a config have at most six decimal places (config.Fraction).
RATE_SCALE = 10**6
# Amounts in whole units stay well inside int64 even once multiplied by a rate.
MAX_UNITS = 2**62 // RATE_SCALE // 2
CHUNK = 200_000


@dataclass(frozen=True, slots=True)
class Scores:
    """Per pair: the score, rounded as the pairwise scorer rounds it wherever it may
    reach the floor asked for or the pair is ineligible with its reference agreeing
    (elsewhere a value below that floor), and the pair's flags."""

    score: Floats
    eligible: Flags
    identified: Flags
    key_agrees: Flags
    rule_rank: Ints


class _Codes:
    """Strings (and tuples of them) to whole numbers, shared by both sides; "" is 0."""

    def __init__(self) -> None:
        self.codes: dict[Hashable, int] = {"": 0}

    def of(self, value: Hashable) -> int:
        return self.codes.setdefault(value, len(self.codes))

    def known(self, value: Hashable) -> int:
        return self.codes.get(value, -1)


@dataclass(frozen=True, slots=True)
class Column:
    """One side's items as arrays."""

    items: list[Prepared]
    currency: Ints
    negative: Flags
    zero: Flags
    units: Ints
    magnitude: Floats  # for tests with a margin, where whole units may not fit
    start: Ints
    end: Ints
    reference: Ints
    reference_length: Ints
    reference_head: Ints  # code of the reference's first characters, 0 if shorter
    last_key: Ints
    last_key_length: Ints
    has_mentions: Flags
    name: Ints  # code of (name, full name), 0 when there is no name
    memo: Ints  # code of the memo's name words, 0 when there are none
    alias: Flags  # a learned alias, which only the pairwise check reads
    habit: Flags  # a learned habit, likewise
    mentions: Ints  # sorted (index, code of a reference the memo cites)
    prefixes: Ints  # sorted (index, code of a leading part of the reference)
    heads: Ints  # sorted (index, code of a memo key's first characters)


def _keys(entries: Iterable[tuple[int, int]]) -> Ints:
    return np.sort(np.fromiter((index * WIDTH + code for index, code in entries), np.int64))


def member(keys: Ints, index: Ints, code: Ints) -> Flags:
    """Whether each (index, code) is among `keys` (sorted); never for code 0."""
    if not len(keys):
        return np.zeros(len(index), bool)
    wanted = index * WIDTH + code
    at = np.searchsorted(keys, wanted).clip(max=len(keys) - 1)
    return np.asarray((keys[at] == wanted) & (code > 0))


def _places(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 99


class Columns:
    """Both sides as arrays, built once per run."""

    def __init__(self, config: JobConfig, left: list[Prepared], right: list[Prepared]):
        key_rule = config.find(ExactKeyRule)
        amount_rule = config.find(AmountRule)
        self.shortest = key_rule.truncated_min_length if key_rule else None
        tolerances = [amount_rule.abs_tolerance] if amount_rule else []
        fee = amount_rule.fee if amount_rule else None
        if fee is not None:
            tolerances.append(fee.max_fixed)
        amounts = [*tolerances, *(item.magnitude for item in (*left, *right))]
        self.places = max((_places(amount) for amount in amounts), default=0)
        self.fits = self.places <= 12 and all(
            amount.scaleb(self.places) < MAX_UNITS for amount in amounts
        )
        if fee is not None:
            self.fits = self.fits and (fee.max_rate * RATE_SCALE) % 1 == 0
        self.codes = _Codes()
        self.left = self._column(left)
        self.right = self._column(right)

    def units(self, amount: Decimal) -> int:
        return int(amount.scaleb(self.places)) if self.fits else 0

    def _column(self, items: list[Prepared]) -> Column:
        code, shortest, count = self.codes.of, self.shortest or 0, len(items)

        def ints(values: Iterable[int]) -> Ints:
            return np.fromiter(values, np.int64, count)

        def flags(values: Iterable[bool]) -> Flags:
            return np.fromiter(values, bool, count)

        prefixes, heads = [], []
        if self.shortest is not None:
            for index, item in enumerate(items):
                reference = item.reference
                prefixes += [(index, code(reference[:n])) for n in range(shortest, len(reference))]
                heads += [(index, code(k[:shortest])) for k in item.text_keys if len(k) >= shortest]
        return Column(
            items=items,
            currency=ints(code(p.currency) for p in items),
            negative=flags(p.negative for p in items),
            zero=flags(not p.magnitude for p in items),
            units=ints(self.units(p.magnitude) for p in items),
            magnitude=np.fromiter((float(p.magnitude) for p in items), np.float64, count),
            start=ints(p.start for p in items),
            end=ints(p.end for p in items),
            reference=ints(code(p.reference) for p in items),
            reference_length=ints(len(p.reference) for p in items),
            reference_head=ints(
                code(p.reference[:shortest]) if shortest and len(p.reference) >= shortest else 0
                for p in items
            ),
            last_key=ints(code(p.last_key) for p in items),
            last_key_length=ints(len(p.last_key) for p in items),
            has_mentions=flags(bool(p.mentions) for p in items),
            name=ints(code((p.name, p.full_name)) if p.name else 0 for p in items),
            memo=ints(code((p.memo_name,)) if p.memo_name else 0 for p in items),
            alias=flags(p.alias is not None for p in items),
            habit=flags(p.habit is not None for p in items),
            mentions=_keys((i, code(key)) for i, p in enumerate(items) for key in p.mentions),
            prefixes=_keys(prefixes),
            heads=_keys(heads),
        )


class _Pairs:
    """The pairs being scored: each side's column read at the pairs' indexes."""

    def __init__(self, columns: Columns, left: Ints, right: Ints):
        self.columns = columns
        self.index = {"left": left, "right": right}
        self.side = {"left": columns.left, "right": columns.right}
        self.count = len(left)

    def ints(self, name: str, side: Side = "left") -> Ints:
        values: Ints = getattr(self.side[side], name)[self.index[side]]
        return values

    def flags(self, name: str, side: Side = "left") -> Flags:
        values: Flags = getattr(self.side[side], name)[self.index[side]]
        return values

    def member(self, keys: str, side: Side, code: Ints) -> Flags:
        return member(getattr(self.side[side], keys), self.index[side], code)


class _Decided:
    """Outcomes settled in order: the first rule branch that applies to a pair wins."""

    def __init__(self, count: int):
        self.outcome: Outcomes = np.full(count, -1, np.int8)
        self.similarity: Floats = np.zeros(count)

    def decide(self, mask: Flags, outcome: int, similarity: Floats | float = 0.0) -> None:
        fresh = mask & (self.outcome < 0)
        self.outcome[fresh] = outcome
        self.similarity[fresh] = (
            similarity[fresh] if isinstance(similarity, np.ndarray) else similarity
        )

    def done(self) -> Checked:
        self.outcome[self.outcome < 0] = MISSING
        return self.outcome, self.similarity


def _key(rule: ExactKeyRule, pairs: _Pairs) -> Checked:
    """As `scoring.check_key`, branch by branch."""
    left_ref, right_ref = pairs.ints("reference"), pairs.ints("reference", "right")
    decided = _Decided(pairs.count)
    decided.decide((left_ref > 0) & (left_ref == right_ref), MATCH, 1.0)
    shortest = rule.truncated_min_length
    if rule.search_text:
        for cited, memo in BOTH_WAYS:
            long_enough = pairs.ints("reference_length", cited) >= rule.min_length
            found = pairs.member("mentions", memo, pairs.ints("reference", cited))
            decided.decide(long_enough & found, MATCH, 1.0)
        for memo, cited in BOTH_WAYS:
            if shortest is None:
                break
            last, last_length = pairs.ints("last_key", memo), pairs.ints("last_key_length", memo)
            length = pairs.ints("reference_length", cited)
            cut = (
                (shortest <= last_length)
                & (last_length < length)
                & pairs.member("prefixes", cited, last)
            )
            decided.decide(cut, PARTIAL, np.maximum(0.5, last_length / np.maximum(length, 1)))
    decided.decide((left_ref > 0) & (right_ref > 0), MISMATCH)
    for memo, cited in BOTH_WAYS:
        open_ = (pairs.ints("reference", cited) > 0) & (decided.outcome < 0)
        mentions = pairs.flags("has_mentions", memo)
        decided.decide(open_ & mentions, MISMATCH)
        if shortest is None or not rule.search_text:
            continue
        heads = open_ & ~mentions & pairs.member("heads", memo, pairs.ints("reference_head", cited))
        memo_items, cited_items = pairs.side[memo].items, pairs.side[cited].items
        for at in np.flatnonzero(heads).tolist():
            memo_item = memo_items[pairs.index[memo][at]]
            reference = cited_items[pairs.index[cited][at]].reference
            if cites_lookalike(rule, memo_item, reference):
                decided.outcome[at] = MISMATCH
    return decided.done()


def _amount(config: JobConfig, rule: AmountRule, pairs: _Pairs, pairwise: Flags) -> Checked:
    """As `scoring.check_amount_rule` for pairs in one currency. Amounts within a
    relative tolerance are left to the pairwise scorer: their similarity is a ratio of
    decimals."""
    units = pairs.columns.units
    left, right = pairs.ints("units"), pairs.ints("units", "right")
    gap = np.abs(left - right)
    within = gap <= units(rule.abs_tolerance)
    outcome = np.where(within, MATCH, MISMATCH).astype(np.int8)
    similarity = within.astype(np.float64)
    if rule.rel_tolerance:
        rate = rule.rel_tolerance * RATE_SCALE
        if rate % 1:  # finer than the scale: all of them
            pairwise |= ~within
        else:
            allowed = int(rate) * np.maximum(left, right) + units(rule.abs_tolerance) * RATE_SCALE
            pairwise |= ~within & (gap * RATE_SCALE <= allowed)
    if rule.fee is not None:
        net, gross = (left, right) if rule.fee.net_side == "left" else (right, left)
        shortfall = gross - net
        fee_rate = int(rule.fee.max_rate * RATE_SCALE)
        limit = fee_rate * gross + units(rule.fee.max_fixed) * RATE_SCALE
        fee = ~within & (shortfall > 0) & (shortfall * RATE_SCALE <= limit)
        outcome[fee], similarity[fee] = MATCH, FEE_SIMILARITY
    disagree = ~_signs_agree(config, pairs)
    outcome[disagree], similarity[disagree] = MISMATCH, 0.0
    return outcome, similarity


def _signs_agree(config: JobConfig, pairs: _Pairs) -> Flags:
    if config.sign_convention == "any":
        return np.ones(pairs.count, bool)
    same = pairs.flags("negative") == pairs.flags("negative", "right")
    agree = same if config.sign_convention == "same" else ~same
    return np.asarray(agree | pairs.flags("zero") | pairs.flags("zero", "right"))


def _date(rule: DateWindowRule, pairs: _Pairs) -> Checked:
    """As `scoring.check_date`."""
    left_start, left_end = pairs.ints("start"), pairs.ints("end")
    right_start, right_end = pairs.ints("start", "right"), pairs.ints("end", "right")
    before = left_end < right_start
    after = ~before & (left_start > right_end)
    gap = np.where(before, right_start - left_end, np.where(after, left_start - right_end, 0))
    limit = np.where(before, rule.days_before, rule.days_after)
    apart = before | after
    beyond = apart & (gap > limit)
    with np.errstate(divide="ignore", invalid="ignore"):
        near = 1.0 - 0.5 * gap / limit
    similarity = np.where(apart, np.where(beyond, 0.0, near), 1.0)
    return np.where(beyond, MISMATCH, MATCH).astype(np.int8), similarity


NAMES, NAME_IN_RIGHT_MEMO, NAME_IN_LEFT_MEMO, MEMOS = 1, 2, 3, 4


def _counterparty(rule: CounterpartyRule, pairs: _Pairs) -> Checked:
    """As `scoring.check_counterparty` (an alias is left to the pairwise scorer)."""
    left_name, right_name = pairs.ints("name"), pairs.ints("name", "right")
    left_memo, right_memo = pairs.ints("memo"), pairs.ints("memo", "right")
    kind = np.where((left_name > 0) & (right_name > 0), NAMES, 0)
    first, second = left_name.copy(), right_name.copy()
    if rule.use_text:
        # In check_counterparty's order: the first that applies to a pair wins.
        for which, named, memo in (
            (NAME_IN_RIGHT_MEMO, left_name, right_memo),
            (NAME_IN_LEFT_MEMO, right_name, left_memo),
            (MEMOS, left_memo, right_memo),
        ):
            mask = (kind == 0) & (named > 0) & (memo > 0)
            kind[mask], first[mask], second[mask] = which, named[mask], memo[mask]
    ratio = _ratios(pairs.columns.codes, kind.astype(np.int64), first, second)
    outcome = np.full(pairs.count, MISSING, np.int8)
    similarity = np.zeros(pairs.count)
    agrees = (kind > 0) & (ratio >= rule.threshold)
    outcome[agrees], similarity[agrees] = MATCH, ratio[agrees] / 100
    differs = (kind == NAMES) & ~agrees
    partly = differs & (ratio >= rule.threshold - 15)
    outcome[partly], similarity[partly] = PARTIAL, ratio[partly] / 200
    outcome[differs & ~partly] = MISMATCH
    return outcome, similarity


def _ratios(codes: _Codes, kind: Ints, first: Ints, second: Ints) -> Floats:
    """The similarity (0-100) of each pair of names or memos, once per distinct pair."""
    size = len(codes.codes)
    keys = np.where(kind > 0, (kind * size + first) * size + second, -1)
    unique, inverse = np.unique(keys, return_inverse=True)
    unique_kind, rest = np.divmod(unique, size * size)
    unique_first, unique_second = np.divmod(rest, size)
    values = list(codes.codes)
    ratios = np.zeros(len(unique))
    for which in (NAMES, NAME_IN_RIGHT_MEMO, NAME_IN_LEFT_MEMO, MEMOS):
        at = np.flatnonzero((unique_kind == which) & (unique >= 0))
        firsts = [values[code] for code in unique_first[at].tolist()]
        seconds = [values[code] for code in unique_second[at].tolist()]
        ratios[at] = _similarities(which, firsts, seconds)
    return np.asarray(ratios[inverse.ravel()])


def _similarities(which: int, firsts: list[Hashable], seconds: list[Hashable]) -> Floats:
    """As `check_counterparty` compares them: names with names (`name_similarity`), a
    name with a memo (`name_in_memo`) or memos with memos (`text_similarity`)."""
    one = [_texts(value) for value in firsts]
    other = [_texts(value) for value in seconds]
    if which == NAMES:
        return name_similarities(
            [a[0] for a in one], [a[1] for a in one], [b[0] for b in other], [b[1] for b in other]
        )
    if which == MEMOS:
        memos, others = [a[0] for a in one], [b[0] for b in other]
        return (
            pairwise_ratios(fuzz.token_set_ratio, memos, others)
            + pairwise_ratios(fuzz.token_sort_ratio, memos, others)
        ) / 2
    return names_in_memos([a[0] for a in one], [a[1] for a in one], [b[0] for b in other])


def _texts(value: Hashable) -> tuple[str, ...]:
    assert isinstance(value, tuple)
    return value


def _currency(rule: CurrencyRule, pairs: _Pairs, cross: Flags) -> Checked:
    """As `scoring.check_currency`: the same currency, or two that the job has rates for."""
    rated = np.zeros(len(pairs.columns.codes.codes) + 1, bool)
    rated[[pairs.columns.codes.known(code) for code in rule.rates]] = True
    rated[-1] = False  # where known() found no code
    converts = rated[pairs.ints("currency")] & rated[pairs.ints("currency", "right")]
    outcome = np.where(cross & ~converts, MISMATCH, MATCH).astype(np.int8)
    similarity = np.where(cross, np.where(converts, CONVERTED_SIMILARITY, 0.0), 1.0)
    return outcome, similarity


def _check(config: JobConfig, rule: Rule, pairs: _Pairs) -> Checked:
    """A rule's outcomes and similarities over the pairs; those of the pairs that need
    what only the pairwise check knows come from it."""
    pairwise = np.zeros(pairs.count, bool)
    cross = pairs.ints("currency") != pairs.ints("currency", "right")
    if isinstance(rule, ExactKeyRule):
        outcome, similarity = _key(rule, pairs)
    elif isinstance(rule, AmountRule):
        outcome, similarity = _amount(config, rule, pairs, pairwise)
        pairwise |= cross | pairs.flags("habit") | pairs.flags("habit", "right")
        pairwise |= not pairs.columns.fits
    elif isinstance(rule, DateWindowRule):
        outcome, similarity = _date(rule, pairs)
        pairwise |= pairs.flags("habit") | pairs.flags("habit", "right")
    elif isinstance(rule, CounterpartyRule):
        outcome, similarity = _counterparty(rule, pairs)
        pairwise |= pairs.flags("alias") | pairs.flags("alias", "right")
    elif isinstance(rule, CurrencyRule):
        outcome, similarity = _currency(rule, pairs, cross)
    else:
        outcome, similarity = np.zeros(pairs.count, np.int8), np.zeros(pairs.count)
    check, currency = rule_check(config, rule), config.find(CurrencyRule)
    left_items, right_items = pairs.side["left"].items, pairs.side["right"].items
    for at in np.flatnonzero(pairwise).tolist():
        first, second = left_items[pairs.index["left"][at]], right_items[pairs.index["right"][at]]
        found = check(first, second, convert(currency, first, second))
        outcome[at], similarity[at] = OUTCOMES[found.outcome], found.similarity
    return outcome, similarity


def score_pairs(
    config: JobConfig, columns: Columns, left: Ints, right: Ints, floor: float
) -> Scores:
    """The scores of the pairs (left[i], right[i]), as `scoring.pair_scorer` gives them
    (see `Scores` for where they are rounded). In chunks, so that the arrays of a
    chunk's checks, not of all pairs, are held at once."""
    chunks = [
        _score_chunk(
            config, columns, left[start : start + CHUNK], right[start : start + CHUNK], floor
        )
        for start in range(0, len(left), CHUNK)
    ]
    if not chunks:
        return _score_chunk(config, columns, left, right, floor)
    return Scores(
        *(np.concatenate([getattr(chunk, name) for chunk in chunks]) for name in Scores.__slots__)
    )


def _score_chunk(
    config: JobConfig, columns: Columns, left: Ints, right: Ints, floor: float
) -> Scores:
    pairs = _Pairs(columns, left, right)
    count = pairs.count
    total, weights = np.zeros(count), np.zeros(count)
    eligible = np.ones(count, bool)
    identified, key_agrees = np.zeros(count, bool), np.zeros(count, bool)
    cited, amount_agrees = np.zeros(count, bool), np.zeros(count, bool)
    contradicted = np.zeros(count, bool)
    named, partly_named = np.full(count, -1, np.int64), np.full(count, -1, np.int64)
    for rank, rule in enumerate(config.rules):
        role = step(config, rule)
        outcome, similarity = _check(config, rule, pairs)
        missing = outcome == MISSING
        total += np.where(missing, rule.weight * MISSING_SHARE * 0.5, rule.weight * similarity)
        weights += np.where(missing, rule.weight * MISSING_SHARE, rule.weight)
        match = outcome == MATCH
        if role.identifies:
            identified |= match
        if role.is_key:
            key_agrees |= match
            cited |= match & (similarity >= 1.0)
        if role.is_amount:
            amount_agrees |= match
        if role.names:
            named[match & (named < 0)] = rank
            partly_named[(outcome == PARTIAL) & (partly_named < 0)] = rank
        mismatch = outcome == MISMATCH
        if rule.required:
            eligible &= ~mismatch
        contradicted |= mismatch
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(weights > 0, total / weights, 0.0)
    strongest = cited & amount_agrees & eligible & ~contradicted
    value[strongest] = np.maximum(value[strongest], CITED_WITH_AMOUNT)
    # Python's round, not numpy's: they differ in the last place now and then.
    shown = np.flatnonzero((value >= floor - 1e-3) | (~eligible & key_agrees))
    value[shown] = [round(number, 4) for number in value[shown].tolist()]
    rule_rank = np.maximum(np.where(named >= 0, named, partly_named), 0)
    return Scores(value, eligible, identified, key_agrees, rule_rank)
