"""Job configuration: ordered, named rules and the score thresholds.

A pydantic model so that the API can accept a job as JSON and reject bad input with
clear messages. See docs/reconciliation.md for how rules turn into scores.
"""

from decimal import Decimal
from typing import Annotated, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
Fraction = Annotated[Decimal, Field(ge=0, lt=1, max_digits=8, decimal_places=6)]
Weight = Annotated[float, Field(ge=0, le=100)]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    # How much this rule's evidence counts in a pair's score.
    weight: Weight = 1.0
    # A pair that violates a required rule is never matched; it may be reported as
    # a discrepancy when its reference agrees.
    required: bool = False


class ExactKeyRule(_Rule):
    """Reference equality, or one side's reference found in the other side's text."""

    kind: Literal["exact_key"] = "exact_key"
    weight: Weight = 4.0
    search_text: bool = True
    min_length: int = Field(
        default=4, ge=1, le=64, description="shortest reference searched in text"
    )
    truncated_min_length: int | None = Field(
        default=5,
        ge=3,
        le=64,
        description="a text ending with this many leading characters of a reference counts as "
        "a truncated reference; null disables",
    )


class FeeTolerance(BaseModel):
    """A processor fee: the net side may fall short of the gross by up to rate * gross + fixed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    net_side: Literal["left", "right"] = "left"
    max_rate: Fraction = Decimal("0.035")
    max_fixed: Money = Decimal("0.50")


class AmountRule(_Rule):
    kind: Literal["amount"] = "amount"
    weight: Weight = 3.0
    required: bool = True
    abs_tolerance: Money = Decimal("0.01")
    rel_tolerance: Fraction = Decimal("0")
    fee: FeeTolerance | None = None


class DateWindowRule(_Rule):
    """How far apart the two dates may be.

    `days_before`: how many days the left item may precede the right one;
    `days_after`: how many days it may follow it. With `use_due_date`, an item that has
    a due date spans [date, due_date], so a payment anywhere within the payment terms is
    zero days away.
    """

    kind: Literal["date_window"] = "date_window"
    weight: Weight = 1.0
    required: bool = True
    days_before: int = Field(default=7, ge=0, le=3660)
    days_after: int = Field(default=30, ge=0, le=3660)
    use_due_date: bool = True


class CounterpartyRule(_Rule):
    """Similarity (0-100) of normalised counterparty names."""

    kind: Literal["counterparty"] = "counterparty"
    weight: Weight = 2.0
    threshold: float = Field(default=85.0, ge=0, le=100)
    # When a counterparty is missing, compare with the other item's text instead.
    use_text: bool = True


class CurrencyRule(_Rule):
    """Same currency, or a conversion at the given rates within a tolerance.

    `rates` gives the value of one unit of each currency in a common base, e.g.
    {"EUR": "1", "USD": "0.92"}.
    """

    kind: Literal["currency"] = "currency"
    weight: Weight = 0.5
    required: bool = True
    rates: dict[str, Annotated[Decimal, Field(gt=0)]] = Field(default_factory=dict)
    tolerance: Fraction = Decimal("0.02")


class GroupRule(_Rule):
    """One-to-many and many-to-one matches by a bounded subset-sum search.

    `one_to_many`: one left item (a deposit) against several right items (invoices);
    `many_to_one`: several left items (part payments) against one right item. The
    search stays inside a tight block (same counterparty, within `window_days`), looks
    at no more than `max_candidates` items and `budget` search steps per target, and
    never auto-accepts when more than one combination fits.
    """

    kind: Literal["group"] = "group"
    direction: Literal["one_to_many", "many_to_one", "both"] = "both"
    max_items: int = Field(default=4, ge=2, le=8)
    max_candidates: int = Field(default=12, ge=2, le=30)
    budget: int = Field(default=5000, ge=10, le=1_000_000)
    window_days: int = Field(default=31, ge=0, le=3660)
    abs_tolerance: Money = Decimal("0.01")
    name_threshold: float = Field(default=90.0, ge=0, le=100)
    # Lines citing an item's reference in full that pay less than it become a partial
    # match showing the open balance, instead of an amount discrepancy. On by default:
    # a part payment is a bookkeeping fact, not an error; off makes it a discrepancy.
    partial_payments: bool = True


R = TypeVar("R", bound=_Rule)

Rule = Annotated[
    ExactKeyRule | AmountRule | DateWindowRule | CounterpartyRule | CurrencyRule | GroupRule,
    Field(discriminator="kind"),
]


def default_rules() -> list[Rule]:
    return [
        ExactKeyRule(name="reference"),
        AmountRule(name="amount"),
        DateWindowRule(name="date"),
        CounterpartyRule(name="counterparty"),
        CurrencyRule(name="currency"),
        GroupRule(name="batch"),
    ]


class JobConfig(BaseModel):
    """Rules in priority order: earlier rules win score ties and name the match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[Rule] = Field(default_factory=default_rules, min_length=1)
    auto_accept: float = Field(default=0.9, ge=0, le=1)
    review: float = Field(default=0.6, ge=0, le=1)
    # The best candidate must lead the runner-up by this much to be auto-accepted.
    min_margin: float = Field(default=0.05, ge=0, le=1)
    # "same": both items carry the same sign (bank credit vs invoice); "opposite": a
    # debit against a bill entered as positive; "any": signs are ignored.
    sign_convention: Literal["same", "opposite", "any"] = "same"
    # Blocking never yields more than this many candidates per item and key.
    max_block_size: int = Field(default=20, ge=1, le=10_000)

    @model_validator(mode="after")
    def _check(self) -> Self:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique: {', '.join(duplicates)}")
        kinds = [rule.kind for rule in self.rules]
        repeated = sorted({kind for kind in kinds if kinds.count(kind) > 1})
        if repeated:
            raise ValueError(f"at most one rule of each kind: {', '.join(repeated)}")
        if self.review > self.auto_accept:
            raise ValueError("review threshold must not exceed auto_accept")
        return self

    def find(self, rule_type: type[R]) -> R | None:
        return next((rule for rule in self.rules if isinstance(rule, rule_type)), None)
