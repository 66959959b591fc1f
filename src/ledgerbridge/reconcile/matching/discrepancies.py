"""Likely pairs that disagree: the reference ties them, but the amount, date or
currency is beyond what the job tolerates."""

from ledgerbridge.reconcile.matching.config import (
    AmountRule,
    CurrencyRule,
    DateWindowRule,
    ExactKeyRule,
    JobConfig,
)
from ledgerbridge.reconcile.matching.explain import describe, money
from ledgerbridge.reconcile.matching.prepare import Prepared
from ledgerbridge.reconcile.matching.results import Discrepancy
from ledgerbridge.reconcile.matching.scoring import Check, Outcome, score_pair


def find_discrepancies(
    config: JobConfig,
    left: list[Prepared],
    right: list[Prepared],
    troubled: list[tuple[float, int, int]],
    left_free: list[bool],
    right_free: list[bool],
) -> tuple[Discrepancy, ...]:
    """At most one discrepancy per item, best-scored pairs first; its items leave the
    unmatched lists."""
    found = []
    ordered = sorted(troubled, key=lambda t: (-t[0], left[t[1]].item.id, right[t[2]].item.id))
    for _, li, ri in ordered:
        if not (left_free[li] and right_free[ri]):
            continue
        discrepancy = _describe(config, left[li], right[ri])
        if discrepancy is None:
            continue
        left_free[li] = right_free[ri] = False
        found.append(discrepancy)
    return tuple(found)


def _describe(config: JobConfig, left: Prepared, right: Prepared) -> Discrepancy | None:
    checks = score_pair(config, left, right).checks
    key_sentence = ""
    failures: list[tuple[str, Check, str]] = []
    for rule, check in zip(config.rules, checks, strict=True):
        if isinstance(rule, ExactKeyRule) and check.outcome is Outcome.MATCH:
            key_sentence = describe(rule, check, left, right)
        elif rule.required and check.outcome is Outcome.MISMATCH:
            failures.append((_kind(rule, check), check, describe(rule, check, left, right)))
    if not key_sentence or not failures:
        return None
    kind, _, _ = failures[0]
    left_value, right_value = _values(kind, left, right)
    reasons = " and ".join(sentence for _, _, sentence in failures)
    return Discrepancy(
        kind=kind,
        left_id=left.item.id,
        right_id=right.item.id,
        left_value=left_value,
        right_value=right_value,
        explanation=f"{key_sentence}, but {reasons}",
    )


def _kind(rule: object, check: Check) -> str:
    if isinstance(rule, AmountRule):
        return {"sign": "sign", "incomparable": "currency"}.get(check.detail, "amount")
    if isinstance(rule, DateWindowRule):
        return "date"
    if isinstance(rule, CurrencyRule):
        return "currency"
    return "counterparty"


def _values(kind: str, left: Prepared, right: Prepared) -> tuple[str, str]:
    if kind == "date":
        return left.item.date.isoformat(), right.item.date.isoformat()
    if kind == "currency":
        return left.currency, right.currency
    if kind == "counterparty":
        return left.item.counterparty or "", right.item.counterparty or ""
    return money(left.item.amount, left.currency), money(right.item.amount, right.currency)
