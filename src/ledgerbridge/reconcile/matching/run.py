"""The entry point: `reconcile(left, right, config, decisions)` -> Result.

Order of work, strongest evidence first:
1. confirmed decisions are matched as they are;
2. blocking yields candidate pairs, each scored rule by rule;
3. pairs that clear the auto-accept bar unambiguously are auto-matched;
4. groups (one-to-many, many-to-one) whose combination is unique are auto-matched;
5. remaining pairs, then remaining groups, above the review bar are suggested;
   lines citing an item's reference in full that pay less than it become a partial
   match showing the balance still open;
6. leftover pairs whose reference agrees but whose amount, date or currency does not
   are reported as discrepancies; everything else is unmatched.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ledgerbridge.collector import collector_paused
from ledgerbridge.reconcile.matching.assignment import (
    Assigned,
    Board,
    Candidate,
    assign_auto,
    assign_suggested,
)
from ledgerbridge.reconcile.matching.batch import Columns, score_pairs
from ledgerbridge.reconcile.matching.blocking import candidate_pairs
from ledgerbridge.reconcile.matching.config import GroupRule, JobConfig
from ledgerbridge.reconcile.matching.discrepancies import find_discrepancies
from ledgerbridge.reconcile.matching.explain import pair_evidence
from ledgerbridge.reconcile.matching.groups import Side, propose_groups
from ledgerbridge.reconcile.matching.items import Item
from ledgerbridge.reconcile.matching.learning import Learned
from ledgerbridge.reconcile.matching.partials import PARTIAL_SCORE, find_partials
from ledgerbridge.reconcile.matching.prepare import Prepared, prepare_sides
from ledgerbridge.reconcile.matching.results import (
    Decisions,
    Evidence,
    Match,
    MatchStatus,
    Result,
)
from ledgerbridge.reconcile.matching.scoring import score_pair

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class _State:
    config: JobConfig
    left: list[Prepared]
    right: list[Prepared]
    left_free: list[bool]
    right_free: list[bool]
    rejected: set[tuple[int, int]]
    # (left indexes, right indexes) of groups a reviewer rejected as a whole
    rejected_groups: list[tuple[frozenset[int], frozenset[int]]]
    columns: Columns


# Millions of pairs, items and candidates live through a run, and none is in a cycle.
@collector_paused()
def reconcile(
    left: Sequence[Item],
    right: Sequence[Item],
    config: JobConfig | None = None,
    decisions: Decisions | None = None,
    progress: Progress | None = None,
    learned: Learned | None = None,
) -> Result:
    """Match `left` against `right`. `progress(done, total)` is called as work advances
    (in percent); `learned` holds what earlier decisions taught (aliases, payers' habits).
    Raises ValueError when ids repeat within a side."""
    config = config or JobConfig()
    decisions = decisions or Decisions()
    report = progress or (lambda done, total: None)
    _require_unique_ids(left, "left")
    _require_unique_ids(right, "right")

    prepared_left, prepared_right = prepare_sides(left, right, config, learned)
    left_at = {item.id: index for index, item in enumerate(left)}
    right_at = {item.id: index for index, item in enumerate(right)}
    state = _State(
        config=config,
        left=prepared_left,
        right=prepared_right,
        left_free=[True] * len(left),
        right_free=[True] * len(right),
        rejected={
            (left_at[l_id], right_at[r_id])
            for l_id, r_id in decisions.rejected
            if l_id in left_at and r_id in right_at
        },
        rejected_groups=[
            (frozenset(left_at[i] for i in l_ids), frozenset(right_at[i] for i in r_ids))
            for l_ids, r_ids in decisions.rejected_groups
            if all(i in left_at for i in l_ids) and all(i in right_at for i in r_ids)
        ],
        columns=Columns(config, prepared_left, prepared_right),
    )
    matches = _confirmed(state, decisions, left_at, right_at)
    report(5, 100)

    pairs = candidate_pairs(prepared_left, prepared_right, config)
    report(25, 100)
    candidates, troubled = _score(state, pairs, report)
    report(75, 100)

    board = Board(candidates, state.left_free, state.right_free)
    for assigned in assign_auto(board, config.auto_accept, config.min_margin):
        matches.append(_pair_match(state, assigned, MatchStatus.AUTO_MATCHED))
    group_rule = config.find(GroupRule)
    if group_rule is not None:
        matches += _groups(state, group_rule, auto=True, board=board)
    report(85, 100)
    if group_rule is not None and group_rule.partial_payments:
        for partial in find_partials(
            config, state.left, state.right, state.left_free, state.right_free, state.rejected
        ):
            matches.append(
                Match(
                    left_ids=tuple(state.left[li].item.id for li in partial.parts),
                    right_ids=(state.right[partial.target].item.id,),
                    score=PARTIAL_SCORE,
                    status=MatchStatus.AUTO_MATCHED,
                    rule="partial payment",
                    evidence=partial.evidence,
                    remaining=partial.remaining,
                )
            )
    for assigned in assign_suggested(board, config.review, config.min_margin):
        matches.append(_pair_match(state, assigned, MatchStatus.SUGGESTED))
    if group_rule is not None:
        matches += _groups(state, group_rule, auto=False)
    report(95, 100)

    discrepancies = find_discrepancies(
        config, state.left, state.right, troubled, state.left_free, state.right_free
    )
    report(100, 100)
    return Result(
        matches=tuple(matches),
        unmatched_left=tuple(
            p.item.id for p, free in zip(state.left, state.left_free, strict=True) if free
        ),
        unmatched_right=tuple(
            p.item.id for p, free in zip(state.right, state.right_free, strict=True) if free
        ),
        discrepancies=discrepancies,
        candidate_pairs=len(pairs),
    )


def _require_unique_ids(items: Sequence[Item], side: str) -> None:
    repeated = [item_id for item_id, count in Counter(i.id for i in items).items() if count > 1]
    if repeated:
        raise ValueError(f"{side} item ids must be unique; repeated: {', '.join(repeated[:5])}")


def _confirmed(
    state: _State, decisions: Decisions, left_at: dict[str, int], right_at: dict[str, int]
) -> list[Match]:
    matches = []
    for left_ids, right_ids in decisions.confirmed:
        lefts = [left_at.get(item_id) for item_id in left_ids]
        rights = [right_at.get(item_id) for item_id in right_ids]
        known_lefts = [index for index in lefts if index is not None]
        known_rights = [index for index in rights if index is not None]
        if (
            len(known_lefts) != len(lefts)
            or len(known_rights) != len(rights)
            or not lefts
            or not rights
        ):
            continue  # an item has gone, or the decision is empty
        if not all(state.left_free[i] for i in known_lefts) or not all(
            state.right_free[i] for i in known_rights
        ):
            continue
        for index in known_lefts:
            state.left_free[index] = False
        for index in known_rights:
            state.right_free[index] = False
        evidence: tuple[Evidence, ...] = ()
        if len(known_lefts) == len(known_rights) == 1:
            left, right = state.left[known_lefts[0]], state.right[known_rights[0]]
            evidence = pair_evidence(
                state.config, left, right, score_pair(state.config, left, right).checks
            )
        review = Evidence("review", "", "match", 1.0, "confirmed by a reviewer")
        matches.append(
            Match(
                left_ids=tuple(left_ids),
                right_ids=tuple(right_ids),
                score=1.0,
                status=MatchStatus.CONFIRMED,
                rule="confirmed",
                evidence=(review, *evidence),
            )
        )
    return matches


def _score(
    state: _State, pairs: npt.NDArray[np.int64], report: Progress
) -> tuple[list[Candidate], list[tuple[float, int, int]]]:
    """Scored candidates in decision order, and the pairs that break a required rule
    although their reference agrees (possible discrepancies)."""
    config = state.config
    floor = config.review - config.min_margin
    left, right = np.divmod(pairs, max(len(state.right), 1))
    free = np.array(state.left_free, bool)[left] & np.array(state.right_free, bool)[right]
    if state.rejected:
        rejected = [li * len(state.right) + ri for li, ri in state.rejected]
        free &= ~np.isin(pairs, rejected)
    left, right = left[free], right[free]
    report(30, 100)
    scored = score_pairs(config, state.columns, left, right, floor)
    report(70, 100)
    kept = np.flatnonzero(scored.eligible & (scored.score >= floor))
    # Ties are broken by id, not by input position, so that input order does not matter.
    left_rank = _id_ranks(state.left)[left[kept]]
    right_rank = _id_ranks(state.right)[right[kept]]
    order = kept[np.lexsort((right_rank, left_rank, scored.rule_rank[kept], -scored.score[kept]))]
    candidates = [
        Candidate(score, rank, li, ri, identified)
        for score, rank, li, ri, identified in zip(
            scored.score[order].tolist(),
            scored.rule_rank[order].tolist(),
            left[order].tolist(),
            right[order].tolist(),
            scored.identified[order].tolist(),
            strict=True,
        )
    ]
    trouble = np.flatnonzero(~scored.eligible & scored.key_agrees)
    troubled = list(
        zip(
            scored.score[trouble].tolist(),
            left[trouble].tolist(),
            right[trouble].tolist(),
            strict=True,
        )
    )
    return candidates, troubled


def _id_ranks(items: list[Prepared]) -> npt.NDArray[np.int64]:
    ranks = np.zeros(len(items), np.int64)
    ranks[sorted(range(len(items)), key=lambda i: items[i].item.id)] = np.arange(len(items))
    return ranks


def _pair_match(state: _State, assigned: Assigned, status: MatchStatus) -> Match:
    candidate = assigned.candidate
    left, right = state.left[candidate.left], state.right[candidate.right]
    scored = score_pair(state.config, left, right)
    evidence = list(pair_evidence(state.config, left, right, scored.checks))
    if status is MatchStatus.SUGGESTED:
        evidence += _review_notes(state, assigned)
    return Match(
        left_ids=(left.item.id,),
        right_ids=(right.item.id,),
        score=candidate.score,
        status=status,
        rule=state.config.rules[candidate.rule_rank].name,
        evidence=tuple(evidence),
    )


def _review_notes(state: _State, assigned: Assigned) -> list[Evidence]:
    candidate, rival = assigned.candidate, assigned.rival
    notes = []
    if rival is not None:
        other = (
            state.right[rival.right].item.id
            if rival.left == candidate.left
            else state.left[rival.left].item.id
        )
        notes.append(
            Evidence(
                "review",
                "",
                "partial",
                rival.score,
                f"{other} is almost as likely (score {rival.score:.2f}); review needed",
            )
        )
    if not candidate.identified:
        notes.append(
            Evidence(
                "review",
                "",
                "partial",
                0.0,
                "only amount and date agree; no reference or counterparty identifies the pair",
            )
        )
    return notes


def _has_pair(board: Board, side: Side, target: int) -> bool:
    """Whether the target still has a free one-to-one candidate that a reference or a
    name identifies."""
    if side.target_is_left:
        found = board.by_left.get(target, [])
        return any(c.identified and board.right_free[c.right] for c in found)
    found = board.by_right.get(target, [])
    return any(c.identified and board.left_free[c.left] for c in found)


def _side(state: _State, *, target_is_left: bool) -> Side:
    """The search with its targets on the left (one left item, many right) or the right."""
    if target_is_left:
        targets, parts = state.left, state.right
        targets_free, parts_free = state.left_free, state.right_free
        columns = state.columns.left, state.columns.right
        rejected, groups = state.rejected, state.rejected_groups
    else:
        targets, parts = state.right, state.left
        targets_free, parts_free = state.right_free, state.left_free
        columns = state.columns.right, state.columns.left
        rejected = {(ri, li) for li, ri in state.rejected}
        groups = [(rights, lefts) for lefts, rights in state.rejected_groups]
    one_target = frozenset((next(iter(ts)), ps) for ts, ps in groups if len(ts) == 1)
    return Side(
        targets, parts, targets_free, parts_free, rejected, target_is_left, *columns, one_target
    )


def _groups(
    state: _State, rule: GroupRule, *, auto: bool, board: Board | None = None
) -> list[Match]:
    config = state.config
    sides = []
    if rule.direction in ("one_to_many", "both"):
        sides.append(_side(state, target_is_left=True))
    if rule.direction in ("many_to_one", "both"):
        sides.append(_side(state, target_is_left=False))
    matches = []
    for side in sides:
        for proposal in propose_groups(config, rule, side):
            if auto and not (proposal.unique and proposal.score >= config.auto_accept):
                continue
            if (
                auto
                and board is not None
                and not proposal.cited
                and _has_pair(board, side, proposal.target)
            ):
                continue  # a single identified item also fits the target: a person decides
            if proposal.score < config.review:
                continue
            side.targets_free[proposal.target] = False
            for part in proposal.parts:
                side.parts_free[part] = False
            target_ids = (side.targets[proposal.target].item.id,)
            part_ids = tuple(side.parts[part].item.id for part in proposal.parts)
            matches.append(
                Match(
                    left_ids=target_ids if side.target_is_left else part_ids,
                    right_ids=part_ids if side.target_is_left else target_ids,
                    score=proposal.score,
                    status=MatchStatus.AUTO_MATCHED if auto else MatchStatus.SUGGESTED,
                    rule=rule.name,
                    evidence=proposal.evidence,
                )
            )
    return matches
