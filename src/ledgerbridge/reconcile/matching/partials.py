"""Partly paid items: lines whose memos cite an item's reference in full, paying less
than it in total, become one *partial* match that shows the balance still open, instead
of a discrepancy.

Only the left side's memos are read (bank lines citing invoice numbers); the lines must
be free, in the item's currency and sign, inside the date window, and cite no other
reference.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from ledgerbridge.reconcile.matching.config import AmountRule, DateWindowRule, JobConfig
from ledgerbridge.reconcile.matching.explain import money
from ledgerbridge.reconcile.matching.prepare import Prepared
from ledgerbridge.reconcile.matching.results import Evidence
from ledgerbridge.reconcile.matching.scoring import Outcome, check_date, signs_agree

# A partial match is sure of its link (the reference is cited in full) but not of the
# amount: it scores below a full match.
PARTIAL_SCORE = 0.92


@dataclass(frozen=True, slots=True)
class Partial:
    parts: tuple[int, ...]  # left indexes
    target: int  # right index
    remaining: Decimal
    evidence: tuple[Evidence, ...]


def find_partials(
    config: JobConfig,
    left: list[Prepared],
    right: list[Prepared],
    left_free: list[bool],
    right_free: list[bool],
    rejected: set[tuple[int, int]],
) -> Iterator[Partial]:
    amount_rule = config.find(AmountRule)
    date_rule = config.find(DateWindowRule)
    tolerance = amount_rule.abs_tolerance if amount_rule else Decimal(0)
    citing: dict[str, list[int]] = defaultdict(list)
    for index, line in enumerate(left):
        if left_free[index] and len(line.mentions) == 1:
            citing[next(iter(line.mentions))].append(index)
    for ri, target in enumerate(right):
        if not right_free[ri] or not target.reference or target.reference not in citing:
            continue
        parts = [
            li
            for li in citing[target.reference]
            if left_free[li]
            and (li, ri) not in rejected
            and left[li].currency == target.currency
            and signs_agree(config, left[li], target)
            and left[li].magnitude > 0
            and (
                date_rule is None
                or check_date(date_rule, left[li], target).outcome is not Outcome.MISMATCH
            )
        ]
        paid = sum((left[li].magnitude for li in parts), Decimal(0))
        if not parts or paid >= target.magnitude - tolerance:
            continue
        parts.sort(key=lambda li: (left[li].start, left[li].item.id))
        for li in parts:
            left_free[li] = False
        right_free[ri] = False
        yield Partial(
            tuple(parts), ri, target.magnitude - paid, _evidence(config, parts, target, paid)
        )


def _evidence(
    config: JobConfig, parts: list[int], target: Prepared, paid: Decimal
) -> tuple[Evidence, ...]:
    amount_rule = config.find(AmountRule)
    rule_name = amount_rule.name if amount_rule else "amount"
    label = target.item.reference or target.item.id
    lines = "1 line" if len(parts) == 1 else f"{len(parts)} lines"
    remaining = target.magnitude - paid
    return (
        Evidence(
            "reference", rule_name, "match", 1.0, f"reference {label} found in memo ({lines})"
        ),
        Evidence(
            "amount",
            rule_name,
            "partial",
            round(float(paid / target.magnitude), 4),
            f"partly paid: {money(paid, target.currency)} of "
            f"{money(target.magnitude, target.currency)}; "
            f"{money(remaining, target.currency)} remains open",
        ),
    )
