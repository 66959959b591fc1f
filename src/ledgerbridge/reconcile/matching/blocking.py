"""Candidate generation: only pairs that share a blocking key are ever scored.

Three blockers, capped so that no left item gets more than `max_block_size` candidates
(references capped per key; names and amounts share what is left of the item's budget,
the most specific key and the nearest weeks first), so the number of pairs grows
linearly with the number of items, never quadratically:

- references: equal references, a reference found in the other side's memo, or a
  memo ending with the start of a reference (truncation);
- names: the first two words of a counterparty (or memo), then its first and its
  longest word, within the amount tolerance and date window;
- amounts: an amount equal within the absolute tolerance, within the date window.
"""

import functools
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt

from ledgerbridge.reconcile.matching.config import (
    AmountRule,
    CurrencyRule,
    DateWindowRule,
    ExactKeyRule,
    JobConfig,
)
from ledgerbridge.reconcile.matching.prepare import Prepared

# Blocks are bucketed by fortnight so that a date window reads a few buckets only.
BUCKET_DAYS = 14
_EPSILON = 1e-9
_ALL = 10**9  # more days than any two dates lie apart

Pair = tuple[int, int]
Block = tuple[str, str, bool]  # blocking key, currency, negative


def candidate_pairs(
    left: list[Prepared], right: list[Prepared], config: JobConfig
) -> npt.NDArray[np.int64]:
    """The candidate pairs, sorted, each as left index * len(right) + right index (a
    million pairs as numbers take a fraction of the memory of a million tuples)."""
    width = len(right)
    pairs: set[int] = set()
    key_rule = config.find(ExactKeyRule)
    if key_rule is not None:
        found = _reference_pairs(left, right, key_rule, config.max_block_size)
        pairs.update(li * width + ri for li, ri in found)
        flipped = _reference_pairs(right, left, key_rule, config.max_block_size)
        pairs.update(li * width + ri for ri, li in flipped)
    cited = [0] * len(left)
    for pair in pairs:
        cited[pair // width] += 1
    pairs.update(_window_pairs(left, right, config, cited))
    return np.sort(np.fromiter(pairs, np.int64, len(pairs)))


def _reference_pairs(
    side: list[Prepared], other: list[Prepared], rule: ExactKeyRule, cap: int
) -> Iterable[Pair]:
    by_reference: dict[str, list[int]] = defaultdict(list)
    by_prefix: dict[str, list[int]] = defaultdict(list)
    shortest = rule.truncated_min_length
    for index, item in enumerate(other):
        if item.reference:
            by_reference[item.reference].append(index)
            if shortest is not None and rule.search_text:
                for length in range(shortest, len(item.reference)):
                    by_prefix[item.reference[:length]].append(index)
    for index, item in enumerate(side):
        keys = {item.reference} if item.reference else set()
        if rule.search_text:
            keys.update(key for key in item.text_keys if len(key) >= rule.min_length)
        for key in keys:
            matches = by_reference.get(key, ())
            if len(matches) <= cap:
                yield from ((index, match) for match in matches)
        if item.last_key and by_prefix:
            matches = by_prefix.get(item.last_key, ())
            if len(matches) <= cap:
                yield from ((index, match) for match in matches)


def _window_pairs(
    left: list[Prepared], right: list[Prepared], config: JobConfig, cited: list[int]
) -> Iterable[int]:
    """Pairs by name and by amount, within the date window, as left index * len(right)
    + right index: for each left item no more than `max_block_size` in all (less the
    pairs its references found), the most specific name keys first, then the amount
    alone."""
    amount_rule = config.find(AmountRule)
    date_rule = config.find(DateWindowRule)
    currency_rule = config.find(CurrencyRule)
    rates = (
        {code: float(rate) for code, rate in currency_rule.rates.items()} if currency_rule else {}
    )
    conversion = float(currency_rule.tolerance) if currency_rule else 0.0
    cap = config.max_block_size

    index = _build_index(right, date_rule)
    currencies = sorted({item.currency for item in right})
    flips = {"same": (False,), "opposite": (True,), "any": (False, True)}[config.sign_convention]
    max_span = max((item.end - item.start for item in right), default=0)

    starts = [item.start for item in right]
    ends = [item.end for item in right]
    # Without a date rule, a window no date falls outside.
    before, after = (date_rule.days_before, date_rule.days_after) if date_rule else (_ALL, _ALL)
    for li, item in enumerate(left):
        weeks = _weeks(item, date_rule, max_span)
        # Within the date window: two comparisons with the item's bounds.
        starts_by, ends_from = item.end + before, item.start - after
        row = li * len(right)
        budget = cap - cited[li]
        taken: set[int] = set()
        for currency in currencies:
            if currency == item.currency:
                factor, extra = 1.0, 0.0
            elif item.currency in rates and currency in rates:
                factor, extra = rates[item.currency] / rates[currency], conversion
            else:
                continue
            amount = float(item.magnitude) * factor
            wide = _amount_window(amount, amount_rule, extra)
            tight = _tight_window(amount, amount_rule, extra)
            for flip in flips:
                sign = item.negative != flip
                for key, (low, high) in [(k, wide) for k in item.block_keys] + [("", tight)]:
                    by_week = index.get((key, currency, sign))
                    if by_week is None:
                        continue
                    # Nearest weeks first, closest amounts first, within the budget.
                    for week in weeks:
                        if len(taken) >= budget:
                            break
                        found = by_week.get(week)
                        if found is None:
                            continue
                        amounts = found[0]
                        start = bisect_left(amounts, low)
                        if start == len(amounts) or amounts[start] > high:
                            continue
                        stop = bisect_right(amounts, high, start)
                        left_over = budget - len(taken)
                        window = (
                            found[1][start:stop]
                            if stop - start <= left_over
                            else _nearest(found, start, stop, amount, left_over, taken)
                        )
                        for ri in window:
                            if (
                                ri not in taken
                                and starts[ri] <= starts_by
                                and ends[ri] >= ends_from
                            ):
                                taken.add(ri)
                                yield row + ri


def _build_index(
    items: list[Prepared], date_rule: DateWindowRule | None
) -> dict[Block, dict[int, tuple[list[float], list[int]]]]:
    """Items by blocking key, currency and sign, then by week, sorted by amount."""
    grouped: dict[Block, dict[int, list[tuple[float, int]]]] = defaultdict(dict)
    for index, item in enumerate(items):
        week = item.start // BUCKET_DAYS if date_rule else 0
        amount = float(item.magnitude)
        for key in (*item.block_keys, ""):
            grouped[(key, item.currency, item.negative)].setdefault(week, []).append(
                (amount, index)
            )
    built: dict[Block, dict[int, tuple[list[float], list[int]]]] = {}
    for block, weeks in grouped.items():
        built[block] = {}
        for week, entries in weeks.items():
            entries.sort()
            built[block][week] = ([amount for amount, _ in entries], [i for _, i in entries])
    return built


def _weeks(item: Prepared, date_rule: DateWindowRule | None, max_span: int) -> list[int]:
    """The week buckets the date window touches, the item's own week first."""
    if date_rule is None:
        return [0]
    first = (item.start - date_rule.days_after - max_span) // BUCKET_DAYS
    last = (item.end + date_rule.days_before) // BUCKET_DAYS
    own = item.start // BUCKET_DAYS
    return [own + offset for offset in _nearest_offsets(first - own, last - own)]


@functools.lru_cache(maxsize=1024)
def _nearest_offsets(lowest: int, highest: int) -> tuple[int, ...]:
    """lowest..highest, nearest to 0 first, the lower of two as near first."""
    return tuple(sorted(range(lowest, highest + 1), key=lambda offset: (abs(offset), offset)))


def _amount_window(amount: float, rule: AmountRule | None, extra: float) -> tuple[float, float]:
    if rule is None:
        return 0.0, float("inf")
    absolute = float(rule.abs_tolerance)
    rate = float(rule.rel_tolerance) + extra
    # Relative tolerance is taken of the larger amount, so divide for the upper bound.
    low = amount * (1 - rate) - absolute
    high = (amount + absolute) / (1 - rate) if rate < 1 else float("inf")
    if rule.fee is not None:
        fee_rate = float(rule.fee.max_rate) + extra
        fixed = float(rule.fee.max_fixed)
        if rule.fee.net_side == "left":  # right is gross: up to (net + fixed) / (1 - rate)
            high = max(high, (amount + fixed) / (1 - fee_rate))
        else:  # right is net: down to gross * (1 - rate) - fixed
            low = min(low, amount * (1 - fee_rate) - fixed)
    return low - _EPSILON * (1 + amount), high + _EPSILON * (1 + amount)


def _tight_window(amount: float, rule: AmountRule | None, extra: float) -> tuple[float, float]:
    absolute = float(rule.abs_tolerance) if rule else 0.0
    low = amount * (1 - extra) - absolute
    high = amount / (1 - extra) + absolute
    return low - _EPSILON * (1 + amount), high + _EPSILON * (1 + amount)


def _nearest(
    found: tuple[list[float], list[int]],
    start: int,
    stop: int,
    center: float,
    cap: int,
    taken: set[int],
) -> list[int]:
    """The `cap` items of found[start:stop] (those whose amount lies in the window)
    closest to `center` that are not yet taken."""
    amounts, indexes = found
    picked: list[int] = []
    for index in nearest_first(amounts, indexes, start, stop, center):
        if len(picked) >= cap:
            break
        if index not in taken:
            picked.append(index)
    return picked


def nearest_first(
    values: Sequence[float], indexes: Sequence[int], start: int, stop: int, center: float
) -> Iterator[int]:
    """`indexes[start:stop]`, whose `values` are sorted, the nearest to `center` first."""
    below = bisect_left(values, center, start, stop) - 1
    above = below + 1
    while below >= start or above < stop:
        if below >= start and (above >= stop or center - values[below] <= values[above] - center):
            yield indexes[below]
            below -= 1
        else:
            yield indexes[above]
            above += 1
