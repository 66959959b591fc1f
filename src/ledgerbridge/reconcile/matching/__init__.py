"""The reconciliation matching engine: pure functions, inputs in, results out.

result = reconcile(left_items, right_items, JobConfig(), Decisions())
"""

from ledgerbridge.reconcile.matching.config import (
    AmountRule,
    CounterpartyRule,
    CurrencyRule,
    DateWindowRule,
    ExactKeyRule,
    FeeTolerance,
    GroupRule,
    JobConfig,
    Rule,
    default_rules,
)
from ledgerbridge.reconcile.matching.items import Item
from ledgerbridge.reconcile.matching.learning import Alias, Learned, PayerHabit, lesson
from ledgerbridge.reconcile.matching.results import (
    Decisions,
    Discrepancy,
    Evidence,
    Match,
    MatchStatus,
    Result,
    ResultDiff,
    diff,
)
from ledgerbridge.reconcile.matching.run import reconcile

__all__ = [
    "Alias",
    "AmountRule",
    "CounterpartyRule",
    "CurrencyRule",
    "DateWindowRule",
    "Decisions",
    "Discrepancy",
    "Evidence",
    "ExactKeyRule",
    "FeeTolerance",
    "GroupRule",
    "Item",
    "JobConfig",
    "Learned",
    "Match",
    "MatchStatus",
    "PayerHabit",
    "Result",
    "ResultDiff",
    "Rule",
    "default_rules",
    "diff",
    "lesson",
    "reconcile",
]
