"""Global one-to-one assignment of scored pairs: greedy by score, ties broken by rule
priority and ids, so the outcome is deterministic.

Auto-acceptance is deliberately cautious: a pair is auto-matched only when its score
clears the threshold, a reference or counterparty identifies it (amount and date alone
never do), and no other available candidate of either item comes within the margin.
Everything else that clears the review threshold is suggested.
"""

from collections import defaultdict
from dataclasses import dataclass

MAX_PASSES = 8


@dataclass(frozen=True, slots=True)
class Candidate:
    score: float
    rule_rank: int
    left: int
    right: int
    identified: bool


@dataclass(frozen=True, slots=True)
class Assigned:
    candidate: Candidate
    # The best rival of either item at decision time, when it came within the margin.
    rival: Candidate | None


class Board:
    """Which items are still free, and each item's candidates, best first."""

    def __init__(self, candidates: list[Candidate], left_free: list[bool], right_free: list[bool]):
        self.candidates = candidates  # already in decision order
        self.left_free = left_free
        self.right_free = right_free
        self.by_left: dict[int, list[Candidate]] = defaultdict(list)
        self.by_right: dict[int, list[Candidate]] = defaultdict(list)
        for candidate in candidates:
            self.by_left[candidate.left].append(candidate)
            self.by_right[candidate.right].append(candidate)

    def is_free(self, candidate: Candidate) -> bool:
        return self.left_free[candidate.left] and self.right_free[candidate.right]

    def take(self, candidate: Candidate) -> None:
        self.left_free[candidate.left] = False
        self.right_free[candidate.right] = False

    def rival(self, candidate: Candidate) -> Candidate | None:
        """The best other free candidate sharing an item with this one."""
        best: Candidate | None = None
        for other in self.by_left[candidate.left]:
            if other is not candidate and self.right_free[other.right]:
                best = other
                break
        for other in self.by_right[candidate.right]:
            if other is not candidate and self.left_free[other.left]:
                if best is None or other.score > best.score:
                    best = other
                break
        return best


def assign_auto(board: Board, threshold: float, margin: float) -> list[Assigned]:
    """Auto-accept clear winners; repeat while accepting frees others from ambiguity."""
    accepted: list[Assigned] = []
    pending = [c for c in board.candidates if c.score >= threshold and c.identified]
    for _ in range(MAX_PASSES):
        waiting = []
        for candidate in pending:
            if not board.is_free(candidate):
                continue
            rival = board.rival(candidate)
            if rival is not None and candidate.score - rival.score < margin:
                waiting.append(candidate)
                continue
            board.take(candidate)
            accepted.append(Assigned(candidate, None))
        if not waiting or len(waiting) == len(pending):
            break
        pending = waiting
    return accepted


def assign_suggested(board: Board, threshold: float, margin: float) -> list[Assigned]:
    suggested = []
    for candidate in board.candidates:
        if candidate.score < threshold:
            break
        if not board.is_free(candidate):
            continue
        rival = board.rival(candidate)
        close = rival if rival is not None and candidate.score - rival.score < margin else None
        board.take(candidate)
        suggested.append(Assigned(candidate, close))
    return suggested
