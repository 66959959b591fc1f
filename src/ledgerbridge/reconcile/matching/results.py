"""What a reconciliation produces, the reviewer's decisions it honours, and run diffs."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class MatchStatus(StrEnum):
    AUTO_MATCHED = "auto_matched"
    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One rule's finding about a match, with a sentence a reviewer can read."""

    field: str  # reference, amount, date, counterparty, currency, group, review
    rule: str  # the job's name for the rule
    outcome: str  # match, partial, mismatch, missing
    similarity: float
    text: str


@dataclass(frozen=True, slots=True)
class Match:
    left_ids: tuple[str, ...]
    right_ids: tuple[str, ...]
    score: float
    status: MatchStatus
    rule: str
    evidence: tuple[Evidence, ...]
    # A partial match: what is still open on the item paid in part.
    remaining: Decimal | None = None

    @property
    def explanation(self) -> str:
        return "; ".join(item.text for item in self.evidence if item.outcome != "missing")

    @property
    def key(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.left_ids, self.right_ids


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """A likely pair (its reference agrees) that disagrees beyond tolerance."""

    kind: str  # amount, date, currency, sign
    left_id: str
    right_id: str
    left_value: str
    right_value: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Result:
    """Every input item appears exactly once: in a match, a discrepancy, or unmatched."""

    matches: tuple[Match, ...]
    unmatched_left: tuple[str, ...]
    unmatched_right: tuple[str, ...]
    discrepancies: tuple[Discrepancy, ...]
    candidate_pairs: int


@dataclass(frozen=True, slots=True)
class Decisions:
    """A reviewer's word, honoured by every later run.

    `confirmed`: (left ids, right ids) groups that are always matched, before anything
    else; `rejected`: (left id, right id) pairs that are never proposed again;
    `rejected_groups`: (left ids, right ids) groups never proposed again as that group,
    while their items stay free to match otherwise (alone, or in another group).
    """

    confirmed: Sequence[tuple[Sequence[str], Sequence[str]]] = ()
    rejected: Collection[tuple[str, str]] = field(default_factory=frozenset)
    rejected_groups: Collection[tuple[Sequence[str], Sequence[str]]] = ()


@dataclass(frozen=True, slots=True)
class ResultDiff:
    gained: tuple[Match, ...]
    lost: tuple[Match, ...]


def diff(previous: Sequence[Match], current: Sequence[Match]) -> ResultDiff:
    """Matches gained and lost between two runs; a change of status, or between a
    partial and a full match, counts as both."""

    def keyed(matches: Sequence[Match]) -> dict[tuple[object, ...], Match]:
        return {(*match.key, match.status, match.remaining): match for match in matches}

    before, after = keyed(previous), keyed(current)
    return ResultDiff(
        gained=tuple(match for key, match in after.items() if key not in before),
        lost=tuple(match for key, match in before.items() if key not in after),
    )
