"""Sentences a reviewer reads: why a pair matched, or why it did not."""

from decimal import Decimal

from ledgerbridge.reconcile.matching import config as rules
from ledgerbridge.reconcile.matching.learning import Alias, PayerHabit
from ledgerbridge.reconcile.matching.prepare import Prepared
from ledgerbridge.reconcile.matching.results import Evidence
from ledgerbridge.reconcile.matching.scoring import Check

FIELDS = {
    "exact_key": "reference",
    "amount": "amount",
    "date_window": "date",
    "counterparty": "counterparty",
    "currency": "currency",
}


def money(amount: object, currency: str) -> str:
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return f"{value:.2f} {currency}"


def pair_evidence(
    config: rules.JobConfig, left: Prepared, right: Prepared, checks: tuple[Check, ...]
) -> tuple[Evidence, ...]:
    evidence = []
    for rule, check in zip(config.rules, checks, strict=True):
        if rule.kind in FIELDS:
            evidence.append(
                Evidence(
                    field=FIELDS[rule.kind],
                    rule=rule.name,
                    outcome=str(check.outcome),
                    similarity=round(check.similarity, 4),
                    text=describe(rule, check, left, right),
                )
            )
    return tuple(evidence)


def describe(rule: rules.Rule, check: Check, left: Prepared, right: Prepared) -> str:
    if isinstance(rule, rules.ExactKeyRule):
        return _key_sentence(check)
    if isinstance(rule, rules.AmountRule):
        return _amount_sentence(check, left, right)
    if isinstance(rule, rules.DateWindowRule):
        return _date_sentence(check, left, right)
    if isinstance(rule, rules.CounterpartyRule):
        return _counterparty_sentence(check, left, right)
    if isinstance(rule, rules.CurrencyRule):
        return _currency_sentence(check)
    return ""


def _key_sentence(check: Check) -> str:
    values = check.values
    match check.detail:
        case "equal":
            return f"reference {values[0]} on both sides"
        case "in_left_text" | "in_right_text":
            return f"reference {values[0]} found in memo"
        case "truncated_in_left" | "truncated_in_right":
            return f"memo ends with {values[0]}, the start of reference {values[1]} (truncated)"
        case "differs":
            return f"references differ: {values[0]} vs {values[1]}"
        case "left_cites_other" | "right_cites_other":
            return f"memo cites another item's reference, not {values[0]}"
    return "no reference to compare"


def _amount_sentence(check: Check, left: Prepared, right: Prepared) -> str:
    currency = left.currency
    prefix = "" if left.currency == right.currency else f"after converting {right.currency}, "
    values = check.values
    if check.detail == "usual_fee":
        short, habit = values
        assert isinstance(habit, PayerHabit)
        rate = float(habit.fee_rate or 0) * 100
        return (
            f"amount short by {money(short, currency)}, the payer's usual fee of {rate:.2f} % "
            f"({habit.note})"
        )
    if check.detail in ("within_abs", "within_rel", "fee", "beyond"):
        differs = f"{prefix}amount differs by {money(abs(Decimal(str(values[0]))), currency)}"
        match check.detail:
            case "within_abs":
                return f"{differs}, within tolerance"
            case "within_rel":
                return f"{differs}, within the tolerance of {money(values[1], currency)}"
            case "fee":
                return f"{differs}, within the fee tolerance"
        return f"{differs}, beyond the tolerance of {money(values[1], currency)}"
    match check.detail:
        case "equal":
            return f"{prefix}amount equal: {money(left.magnitude, currency)}"
        case "sign":
            return f"signs disagree: {values[0]} vs {values[1]}"
        case "incomparable":
            return f"amounts in {values[0]} and {values[1]} cannot be compared without a rate"
    return "no amount to compare"


def _date_sentence(check: Check, left: Prepared, right: Prepared) -> str:
    left_date, right_date = left.item.date.isoformat(), right.item.date.isoformat()
    match check.detail:
        case "usual_delay":
            delay, habit = check.values
            assert isinstance(habit, PayerHabit)
            return (
                f"paid {delay} days after the invoice, as this payer usually does "
                f"({habit.delay_days} days; {habit.note})"
            )
        case "same":
            return f"same date ({left_date})"
        case "within_terms":
            due = right.item.due_date.isoformat() if right.item.due_date else right_date
            return f"{left_date} is within the terms {right_date} to {due}"
        case "before" | "after":
            gap, limit = check.values
            anchor = (
                right.item.due_date if check.detail == "after" and right.end > right.start else None
            )
            other = f"due date {anchor.isoformat()}" if anchor else right_date
            verdict = "within" if check.outcome != "mismatch" else "outside"
            where = f"{gap} days {check.detail} {other}"
            return f"{left_date} is {where}, {verdict} the {limit}-day window"
    return "no date to compare"


def _counterparty_sentence(check: Check, left: Prepared, right: Prepared) -> str:
    if not check.values:
        return "no counterparty to compare"
    if check.detail == "alias":
        ratio, alias = check.values
        assert isinstance(alias, Alias)
        return (
            f"memo words '{' '.join(alias.words)}' name '{alias.counterparty}' "
            f"(similarity {ratio:.0f}): {alias.note}"
        )
    (ratio,) = check.values
    agrees = check.outcome == "match"
    left_name = left.item.counterparty or left.item.text
    right_name = right.item.counterparty or right.item.text
    match check.detail:
        case "names":
            verb = "matches" if agrees else "differs from"
            return f"counterparty '{left_name}' {verb} '{right_name}' (similarity {ratio:.0f})"
        case "left_name_in_right_text" | "right_name_in_left_text":
            name = left_name if check.detail.startswith("left") else right_name
            verb = "found in" if agrees else "not found in"
            return f"counterparty '{name}' {verb} memo (similarity {ratio:.0f})"
    verb = "similar" if agrees else "dissimilar"
    return f"memos {verb}: '{left_name}' vs '{right_name}' (similarity {ratio:.0f})"


def _currency_sentence(check: Check) -> str:
    values = check.values
    match check.detail:
        case "same":
            return f"same currency ({values[0]})"
        case "converted":
            return f"{values[1]} converted to {values[0]} at the job's rates"
        case "no_rate":
            return f"currencies differ ({values[0]} vs {values[1]}) and no rate is configured"
    return "no currency to compare"
