"""One-to-many and many-to-one matches: a target item (a deposit, or an invoice paid in
parts) against a few items of the other side whose amounts add up to it.

Parts are looked for only inside a tight block: free items of the same counterparty
(or cited by reference in the target's memo), the same currency and sign, within the
rule's date window; at most `max_candidates` of them, nearest in date first.
"""

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from ledgerbridge.reconcile.matching.batch import Column, member
from ledgerbridge.reconcile.matching.blocking import nearest_first
from ledgerbridge.reconcile.matching.config import (
    AmountRule,
    CounterpartyRule,
    DateWindowRule,
    ExactKeyRule,
    GroupRule,
    JobConfig,
)
from ledgerbridge.reconcile.matching.explain import money
from ledgerbridge.reconcile.matching.normalise import (
    name_similarities,
    name_similarity,
    pairwise_ratios,
)
from ledgerbridge.reconcile.matching.prepare import Prepared
from ledgerbridge.reconcile.matching.results import Evidence
from ledgerbridge.reconcile.matching.scoring import MISSING_SHARE, name_in_memo, names_in_memos
from ledgerbridge.reconcile.matching.subset_sum import SubsetSearch, find_subsets

# How many items per name key the search for a target's parts looks at, per candidate.
SCAN_FACTOR = 4
TARGET_CHUNK = 8192


@dataclass(frozen=True, slots=True)
class Side:
    """One orientation of the search: targets on one side, parts on the other."""

    targets: list[Prepared]
    parts: list[Prepared]
    targets_free: list[bool]
    parts_free: list[bool]
    rejected: set[tuple[int, int]]  # (target, part) pairs a reviewer rejected
    target_is_left: bool
    target_columns: Column
    part_columns: Column
    # (target, parts) groups a reviewer rejected as a whole
    rejected_groups: frozenset[tuple[int, frozenset[int]]] = frozenset()


@dataclass(frozen=True, slots=True)
class GroupProposal:
    target: int
    parts: tuple[int, ...]
    score: float
    unique: bool
    cited: bool  # every part is tied to the target by a reference
    evidence: tuple[Evidence, ...]


def propose_groups(config: JobConfig, rule: GroupRule, side: Side) -> Iterator[GroupProposal]:
    """Proposals for free targets, largest first; the caller takes the items it accepts
    before the next target is searched."""
    free = [index for index, is_free in enumerate(side.parts_free) if is_free]
    order = sorted(
        (index for index, is_free in enumerate(side.targets_free) if is_free),
        key=lambda i: (-side.targets[i].magnitude, side.targets[i].item.id),
    )
    candidates = _candidates(config, rule, side, order, free)
    for target_index in order:
        if not side.targets_free[target_index]:
            continue
        target = side.targets[target_index]
        parts = [p for p in candidates.get(target_index, ()) if side.parts_free[p]]
        parts = parts[: rule.max_candidates]
        if len(parts) < 2:
            continue
        scale = _scale(target, [side.parts[p] for p in parts])
        search = find_subsets(
            [int(side.parts[p].magnitude * scale) for p in parts],
            int((target.magnitude - rule.abs_tolerance) * scale),
            int((target.magnitude + rule.abs_tolerance) * scale),
            rule.max_items,
            rule.budget,
        )
        solutions = [
            solution
            for solution in search.solutions
            if (target_index, frozenset(parts[i] for i in solution)) not in side.rejected_groups
        ]
        if not solutions:
            continue
        chosen = tuple(parts[i] for i in solutions[0])
        proposal = _proposal(config, rule, side, target_index, chosen, search)
        if len(solutions) < len(search.solutions):
            # The search stopped at two answers, so this one is not shown to be the only
            # one left once the rejected one is set aside: a person decides.
            note = Evidence(
                "review", rule.name, "partial", 0.0, "a reviewer rejected another combination"
            )
            proposal = GroupProposal(
                proposal.target,
                proposal.parts,
                proposal.score,
                False,
                proposal.cited,
                (*(e for e in proposal.evidence if e.field != "review"), note),
            )
        yield proposal


def _candidates(
    config: JobConfig, rule: GroupRule, side: Side, targets: list[int], free: list[int]
) -> dict[int, list[int]]:
    """Each target's possible parts, nearest in date first, found for all targets at
    once: everything but whether a part is still free, which changes as groups are
    taken, is known before the first target is searched."""
    by_key = _by_date(side.parts, free)
    by_reference: dict[str, list[int]] = defaultdict(list)
    by_mention: dict[str, list[int]] = defaultdict(list)
    for index in free:
        if side.parts[index].reference:
            by_reference[side.parts[index].reference].append(index)
        for key in side.parts[index].mentions:
            by_mention[key].append(index)
    span = max((side.parts[index].end - side.parts[index].start for index in free), default=0)
    found: dict[int, list[int]] = defaultdict(list)
    # In chunks of targets, so that the pairs of a chunk, not of all targets, are held.
    for first in range(0, len(targets), TARGET_CHUNK):
        pair_targets: list[int] = []
        pair_parts: list[int] = []
        for target_index in targets[first : first + TARGET_CHUNK]:
            target = side.targets[target_index]
            looked = _looked(rule, target, by_key, by_reference, by_mention, span)
            pair_targets += [target_index] * len(looked)
            pair_parts += looked
        for target_index, part_index in _fitting(config, rule, side, pair_targets, pair_parts):
            found[target_index].append(part_index)
    for target_index, parts in found.items():
        target = side.targets[target_index]
        parts.sort(key=lambda index: (_gap(target, side.parts[index]), side.parts[index].item.id))
    return found


def _by_date(parts: list[Prepared], indexes: list[int]) -> dict[str, tuple[list[int], list[int]]]:
    """Parts by blocking key, each list sorted by date for a window lookup."""
    grouped: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for index in indexes:
        for key in parts[index].block_keys:
            grouped[key].append((parts[index].start, index))
    built = {}
    for key, entries in grouped.items():
        entries.sort()
        built[key] = ([start for start, _ in entries], [index for _, index in entries])
    return built


def _looked(
    rule: GroupRule,
    target: Prepared,
    by_key: dict[str, tuple[list[int], list[int]]],
    by_reference: dict[str, list[int]],
    by_mention: dict[str, list[int]],
    span: int,
) -> list[int]:
    """The parts a target's search looks at: those its references tie to it, and by
    name, nearest in date first, the most specific key first, and no more than
    SCAN_FACTOR * max_candidates items per key, so that a common word shared by
    thousands of items costs no more than a rare one."""
    earliest = target.start - rule.window_days - span
    latest = target.end + rule.window_days
    found = {index for key in target.text_keys for index in by_reference.get(key, ())}
    if target.reference:  # parts whose memo cites the target's reference
        found.update(by_mention.get(target.reference, ()))
    limit = SCAN_FACTOR * rule.max_candidates
    for key in target.block_keys:
        starts, indexes = by_key.get(key, ([], []))
        low, high = bisect_left(starts, earliest), bisect_right(starts, latest)
        if high - low <= limit:  # the scan would look at every one of them
            found.update(indexes[low:high])
            continue
        looked = 0
        for index in nearest_first(starts, indexes, low, high, target.start):
            if looked >= limit:
                break
            if index in found:
                continue
            found.add(index)
            looked += 1
    return list(found)


def _fitting(
    config: JobConfig, rule: GroupRule, side: Side, pair_targets: list[int], pair_parts: list[int]
) -> list[tuple[int, int]]:
    """The (target, part) pairs whose part may belong to the target's group: in its
    currency and sign, no larger than it, within the window, citing no other item, and
    tied to it by a reference or a name. All on arrays but the names' similarity, and
    the amounts a float cannot tell apart from the ceiling, which are compared exactly."""
    if not pair_targets:
        return []
    targets, parts = side.target_columns, side.part_columns
    t, p = np.array(pair_targets, np.int64), np.array(pair_parts, np.int64)
    window = rule.window_days
    magnitude = parts.magnitude[p]
    ceiling = targets.magnitude[t] + float(rule.abs_tolerance)
    margin = 1e-9 * (1 + ceiling)
    reference, cited_reference = targets.reference[t], parts.reference[p]
    keep = (
        (parts.currency[p] == targets.currency[t])
        & (parts.start[p] <= targets.end[t] + window)
        & (parts.end[p] >= targets.start[t] - window)
        & (magnitude >= 0)
        & (magnitude <= ceiling + margin)
        # The part's memo cites references, but not the target's: it pays something else.
        & ~(parts.has_mentions[p] & ~member(parts.mentions, p, reference))
    )
    if config.sign_convention != "any":
        same = parts.negative[p] == targets.negative[t]
        agree = same if config.sign_convention == "same" else ~same
        keep &= agree | (targets.magnitude[t] == 0)
    unsure = np.flatnonzero(keep & ((magnitude <= margin) | (magnitude >= ceiling - margin)))
    tolerance = rule.abs_tolerance
    for at, target_index, part_index in zip(
        unsure.tolist(), t[unsure].tolist(), p[unsure].tolist(), strict=True
    ):
        part_magnitude = side.parts[part_index].magnitude
        keep[at] = 0 < part_magnitude <= side.targets[target_index].magnitude + tolerance
    if side.rejected:
        for at in np.flatnonzero(keep).tolist():
            keep[at] = (int(t[at]), int(p[at])) not in side.rejected
    # Mentions are the memo's words that are references of the other side's items.
    cited = (
        (cited_reference > 0)
        & ((cited_reference == reference) | member(targets.mentions, t, cited_reference))
    ) | member(parts.mentions, p, reference)
    named = np.flatnonzero(keep & ~cited)
    similarity = _names_of_pairs(side, t[named], p[named])
    keep[named[similarity < rule.name_threshold]] = False
    return list(zip(t[keep].tolist(), p[keep].tolist(), strict=True))


def _gap(first: Prepared, second: Prepared) -> int:
    return max(0, first.start - second.end, second.start - first.end)


def _cited(target: Prepared, part: Prepared) -> bool:
    return (
        bool(part.reference)
        and (part.reference in target.text_keys or part.reference == target.reference)
    ) or (bool(target.reference) and target.reference in part.text_keys)


def _name_similarity(first: Prepared, second: Prepared) -> float:
    """0-100; a name cut short by a bank, upper-cased or accent-stripped still counts."""
    if first.name and second.name:
        return name_similarity(first.name, first.full_name, second.name, second.full_name)
    for named, memo in ((first, second), (second, first)):
        if named.name and memo.memo_name:
            in_memo = name_in_memo(named.name, named.full_name, memo.memo_name)
            learned = (
                name_similarity(named.name, named.full_name, memo.alias_name, memo.alias_full)
                if memo.alias is not None
                else 0.0
            )
            return max(in_memo, learned)
    if first.memo_name and second.memo_name:
        return float(fuzz.token_sort_ratio(first.memo_name, second.memo_name))
    return 0.0


def _names_of_pairs(
    side: Side, targets: npt.NDArray[np.int64], parts: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """`_name_similarity` of the pairs (targets[i], parts[i]), computed once per distinct
    pair of names and memos (a learned alias makes a pair one of its own)."""
    target_names = _dense(side.target_columns.name[targets], side.target_columns.memo[targets])
    part_names = _dense(side.part_columns.name[parts], side.part_columns.memo[parts])
    keys = _dense(target_names, part_names)
    own = side.target_columns.alias[targets] | side.part_columns.alias[parts]
    keys[own] = -1 - np.flatnonzero(own)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    found = _name_similarities(
        [side.targets[i] for i in targets[first].tolist()],
        [side.parts[i] for i in parts[first].tolist()],
    )
    return np.asarray(found[inverse.ravel()])


def _dense(first: npt.NDArray[np.int64], second: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """One whole number per distinct (first, second) pair of non-negative codes."""
    _, dense = np.unique(first * (second.max(initial=0) + 1) + second, return_inverse=True)
    return np.asarray(dense.ravel(), np.int64)


def _name_similarities(firsts: list[Prepared], seconds: list[Prepared]) -> npt.NDArray[np.float64]:
    """`_name_similarity` of many pairs at once, with the same results."""
    found = np.zeros(len(firsts))
    both: list[int] = []
    in_memo: list[tuple[int, Prepared, Prepared]] = []  # (position, named, memo)
    memos: list[int] = []
    for at, (first, second) in enumerate(zip(firsts, seconds, strict=True)):
        if first.name and second.name:
            both.append(at)
        elif first.name and second.memo_name:
            in_memo.append((at, first, second))
        elif second.name and first.memo_name:
            in_memo.append((at, second, first))
        elif first.memo_name and second.memo_name:
            memos.append(at)
    found[both] = name_similarities(
        [firsts[at].name for at in both],
        [firsts[at].full_name for at in both],
        [seconds[at].name for at in both],
        [seconds[at].full_name for at in both],
    )
    found[[at for at, _, _ in in_memo]] = names_in_memos(
        [named.name for _, named, _ in in_memo],
        [named.full_name for _, named, _ in in_memo],
        [memo.memo_name for _, _, memo in in_memo],
    )
    aliased = [(at, named, memo) for at, named, memo in in_memo if memo.alias is not None]
    learned = [at for at, _, _ in aliased]
    found[learned] = np.maximum(
        found[learned],
        name_similarities(
            [named.name for _, named, _ in aliased],
            [named.full_name for _, named, _ in aliased],
            [memo.alias_name for _, _, memo in aliased],
            [memo.alias_full for _, _, memo in aliased],
        ),
    )
    found[memos] = pairwise_ratios(
        fuzz.token_sort_ratio,
        [firsts[at].memo_name for at in memos],
        [seconds[at].memo_name for at in memos],
    )
    return found


def _scale(target: Prepared, parts: list[Prepared]) -> int:
    """A power of ten that turns every amount involved into a whole number."""
    places = 0
    for amount in (target.magnitude, *(part.magnitude for part in parts)):
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    return int(10**places)


def _proposal(
    config: JobConfig,
    rule: GroupRule,
    side: Side,
    target_index: int,
    chosen: tuple[int, ...],
    search: SubsetSearch,
) -> GroupProposal:
    target = side.targets[target_index]
    parts = [side.parts[index] for index in chosen]
    total = sum((part.magnitude for part in parts), Decimal(0))
    gaps = [_gap(target, part) for part in parts]
    cited = [_cited(target, part) for part in parts]
    # A part cited by reference needs no name: a name missing there is absent evidence.
    names = []
    for part, is_cited in zip(parts, cited, strict=True):
        similarity = _name_similarity(target, part) / 100
        if not is_cited or 100 * similarity >= rule.name_threshold:
            names.append(similarity)
    # References count only when some are cited, or the memo cites other items' ones.
    has_references = any(cited) or bool(target.mentions) or any(p.mentions for p in parts)

    weights = {type(r): r.weight for r in config.rules}
    name_weight = weights.get(CounterpartyRule, 2.0)
    components = [
        (weights.get(AmountRule, 3.0), 1.0),
        (name_weight, sum(names) / len(names)) if names else (name_weight * MISSING_SHARE, 0.5),
        (weights.get(DateWindowRule, 1.0), 1 - 0.5 * max(gaps) / max(rule.window_days, 1)),
    ]
    if has_references:
        components.append((weights.get(ExactKeyRule, 4.0), sum(cited) / len(cited)))
    score = sum(w * s for w, s in components) / sum(w for w, _ in components)
    names = names or [0.0]

    labels = ", ".join(part.item.reference or part.item.id for part in parts)
    target_label = target.item.reference or target.item.id
    evidence = [
        Evidence(
            "group",
            rule.name,
            "match",
            1.0,
            f"{len(parts)} items ({labels}) sum to {money(total, target.currency)}, "
            f"against {money(target.magnitude, target.currency)} on {target_label}",
        ),
        Evidence(
            "counterparty",
            rule.name,
            "match",
            round(min(names), 4),
            f"all from the same counterparty (lowest similarity {100 * min(names):.0f})",
        ),
        Evidence(
            "date",
            rule.name,
            "match",
            1.0,
            f"all dated within the {rule.window_days}-day window (furthest {max(gaps)} days)",
        ),
    ]
    for alias in dict.fromkeys(p.alias for p in (target, *parts) if p.alias is not None):
        evidence.append(
            Evidence(
                "counterparty",
                rule.name,
                "match",
                1.0,
                f"memo words '{' '.join(alias.words)}' name '{alias.counterparty}': {alias.note}",
            )
        )
    if has_references:
        evidence.append(
            Evidence(
                "reference",
                rule.name,
                "match" if all(cited) else "partial",
                sum(cited) / len(cited),
                f"{sum(cited)} of {len(parts)} references found in memos",
            )
        )
    if len(search.solutions) > 1:
        evidence.append(
            Evidence(
                "review", rule.name, "partial", 0.0, "another combination also fits; review it"
            )
        )
    elif search.exhausted:
        evidence.append(
            Evidence(
                "review",
                rule.name,
                "partial",
                0.0,
                "search budget ran out before this combination was shown to be the only one",
            )
        )
    return GroupProposal(
        target_index, chosen, round(score, 4), search.unique, all(cited), tuple(evidence)
    )
