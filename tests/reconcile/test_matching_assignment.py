"""The one-to-one constraint, ambiguity between pairs, determinism and blocking."""

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerbridge.reconcile.matching import (
    Item,
    JobConfig,
    MatchStatus,
    Result,
    reconcile,
)

ACCEPTED = (MatchStatus.AUTO_MATCHED, MatchStatus.CONFIRMED)


def test_each_item_is_accepted_at_most_once(pay, inv):
    payments = [
        pay("p1", "100.00", text="INV-1", payer="Acme"),
        pay("p2", "100.00", text="INV-1", payer="Acme"),
    ]
    result = reconcile(payments, [inv("INV-1", "100.00", customer="Acme")], JobConfig())
    (match,) = result.matches
    assert match.right_ids == ("INV-1",)
    assert len(result.unmatched_left) == 1


def test_duplicated_bank_line_is_not_auto_matched(pay, inv):
    """Two identical lines for one invoice: whichever is right, a person must decide."""
    payments = [
        pay("p1", "100.00", text="INV-1", payer="Acme"),
        pay("p2", "100.00", text="INV-1", payer="Acme"),
    ]
    result = reconcile(payments, [inv("INV-1", "100.00", customer="Acme")], JobConfig())
    (match,) = result.matches
    assert match.status is MatchStatus.SUGGESTED
    assert "almost as likely" in match.explanation


def test_clear_winner_is_auto_matched_beside_a_weaker_rival(pay, inv):
    result = reconcile(
        [
            pay("p1", "100.00", text="INV-1", payer="Acme"),
            pay("p2", "100.00", payer="Acme", days=20),
        ],
        [inv("INV-1", "100.00", customer="Acme")],
        JobConfig(),
    )
    (match,) = result.matches
    assert (match.left_ids, match.status) == (("p1",), MatchStatus.AUTO_MATCHED)


def test_output_is_deterministic_and_independent_of_input_order(pay, inv):
    payments = [pay(f"p{n}", "50.00", payer="Acme", days=n % 3) for n in range(6)]
    invoices = [inv(f"i{n}", "50.00", customer="Acme", days=n % 2) for n in range(6)]
    first = reconcile(payments, invoices, JobConfig())
    again = reconcile(payments, invoices, JobConfig())
    shuffled = reconcile(list(reversed(payments)), list(reversed(invoices)), JobConfig())
    assert first == again
    assert {m.key for m in first.matches} == {m.key for m in shuffled.matches}


def test_candidate_generation_stays_far_below_all_pairs():
    start = date(2024, 1, 1)
    left = [
        Item(
            f"p{n}",
            Decimal(10 + n % 500),
            "EUR",
            start + timedelta(days=n % 300),
            text=f"c{n % 97}",
        )
        for n in range(3000)
    ]
    right = [
        Item(
            f"i{n}",
            Decimal(10 + n % 500),
            "EUR",
            start + timedelta(days=n % 300),
            counterparty=f"c{n % 97}",
        )
        for n in range(3000)
    ]
    result = reconcile(left, right, JobConfig())
    assert 0 < result.candidate_pairs < 3000 * 3000 // 100


def test_repeated_ids_are_refused(pay, inv):
    try:
        reconcile([pay("p1", "1.00"), pay("p1", "2.00")], [inv("i1", "1.00")])
    except ValueError as error:
        assert "p1" in str(error)
    else:
        raise AssertionError("repeated ids were accepted")


def test_progress_is_reported_up_to_completion(pay, inv):
    seen: list[tuple[int, int]] = []
    reconcile(
        [pay("p1", "1.00")],
        [inv("i1", "1.00")],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (100, 100)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def _accounting(result: Result, left: list[Item], right: list[Item]) -> None:
    """Every item sits in exactly one place; no item is in two accepted matches."""
    left_places = Counter(i for m in result.matches for i in m.left_ids)
    left_places.update(result.unmatched_left)
    left_places.update(d.left_id for d in result.discrepancies)
    right_places = Counter(i for m in result.matches for i in m.right_ids)
    right_places.update(result.unmatched_right)
    right_places.update(d.right_id for d in result.discrepancies)
    assert left_places == Counter(item.id for item in left)
    assert right_places == Counter(item.id for item in right)
    for match in result.matches:
        assert 0.0 <= match.score <= 1.0
        assert match.left_ids and match.right_ids


amounts = st.sampled_from(["10.00", "10.01", "25.00", "50.00", "75.00", "100.00", "-10.00"])
names = st.sampled_from([None, "Acme", "ACME LTD", "Beta GmbH", "Gamma"])
texts = st.sampled_from(["", "INV-1", "INV-2 INV-3", "PAYMENT INV-0", "refund"])


@st.composite
def sides(draw: st.DrawFn) -> tuple[list[Item], list[Item]]:
    start = date(2024, 1, 1)
    left = [
        Item(
            f"p{n}",
            Decimal(draw(amounts)),
            "EUR",
            start + timedelta(days=draw(st.integers(0, 40))),
            text=draw(texts),
            counterparty=draw(names),
        )
        for n in range(draw(st.integers(0, 12)))
    ]
    right = [
        Item(
            f"INV-{n}",
            Decimal(draw(amounts)),
            draw(st.sampled_from(["EUR", "EUR", "USD"])),
            start + timedelta(days=draw(st.integers(0, 40))),
            reference=f"INV-{n}",
            counterparty=draw(names),
            due_date=start + timedelta(days=60),
        )
        for n in range(draw(st.integers(0, 12)))
    ]
    return left, right


@settings(max_examples=150, deadline=None)
@given(sides())
def test_every_item_is_accounted_for_exactly_once(data: tuple[list[Item], list[Item]]) -> None:
    left, right = data
    _accounting(reconcile(left, right, JobConfig()), left, right)


@settings(max_examples=60, deadline=None)
@given(sides())
def test_rerunning_with_everything_confirmed_changes_nothing(
    data: tuple[list[Item], list[Item]],
) -> None:
    from ledgerbridge.reconcile.matching import Decisions

    left, right = data
    first = reconcile(left, right, JobConfig())
    accepted = [(m.left_ids, m.right_ids) for m in first.matches]
    second = reconcile(left, right, JobConfig(), Decisions(confirmed=accepted))
    assert {m.key for m in second.matches} >= {m.key for m in first.matches}
    assert all(
        m.status is MatchStatus.CONFIRMED
        for m in second.matches
        if m.key in dict.fromkeys(accepted)
    )
    _accounting(second, left, right)
