"""Bounded subset-sum: which few amounts add up to a target, and is the answer unique?"""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SubsetSearch:
    # At most two solutions: one is an answer, two make it ambiguous.
    solutions: tuple[tuple[int, ...], ...]
    # The step budget ran out, so a single solution is not proven unique.
    exhausted: bool

    @property
    def unique(self) -> bool:
        return len(self.solutions) == 1 and not self.exhausted


class _Stop(Exception):
    pass


def find_subsets(
    amounts: Sequence[int], low: int, high: int, max_items: int, budget: int
) -> SubsetSearch:
    """Index sets of 2..max_items positive amounts whose sum lies in [low, high].

    Depth-first over the amounts in ascending order, so a branch stops as soon as its
    sum passes `high`, and is skipped when even the largest remaining amounts cannot
    reach `low`. Each examined amount costs one step of the budget.
    """
    order = sorted(range(len(amounts)), key=lambda index: (amounts[index], index))
    values = [amounts[index] for index in order]
    suffix = [0] * (len(values) + 1)
    for position in range(len(values) - 1, -1, -1):
        suffix[position] = suffix[position + 1] + values[position]
    solutions: list[tuple[int, ...]] = []
    chosen: list[int] = []
    steps = 0

    def largest_sum(start: int, count: int) -> int:
        first = max(start, len(values) - count)
        return suffix[first]

    def visit(start: int, total: int) -> None:
        nonlocal steps
        slots_left = max_items - len(chosen) - 1
        for position in range(start, len(values)):
            steps += 1
            if steps > budget:
                raise _Stop
            reached = total + values[position]
            if reached > high:
                return
            chosen.append(position)
            if reached >= low and len(chosen) >= 2:
                solutions.append(tuple(sorted(order[p] for p in chosen)))
                if len(solutions) == 2:
                    raise _Stop
            if slots_left > 0 and reached + largest_sum(position + 1, slots_left) >= low:
                visit(position + 1, reached)
            chosen.pop()

    exhausted = False
    try:
        visit(0, 0)
    except _Stop:
        exhausted = steps > budget
    return SubsetSearch(tuple(solutions), exhausted)
