"""Pairs scored all at once score exactly as the pairwise scorer scores them one by one."""

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerbridge.reconcile.matching import (
    Alias,
    AmountRule,
    CounterpartyRule,
    CurrencyRule,
    DateWindowRule,
    ExactKeyRule,
    FeeTolerance,
    GroupRule,
    Item,
    JobConfig,
    Learned,
    PayerHabit,
)
from ledgerbridge.reconcile.matching.batch import Columns, score_pairs
from ledgerbridge.reconcile.matching.normalise import _cut_within, _cuts_within
from ledgerbridge.reconcile.matching.prepare import prepare_sides
from ledgerbridge.reconcile.matching.scoring import pair_scorer

DAY = date(2024, 3, 1)
REFERENCES = ["INV-00104", "inv 00104", "INV-001", "INV-0010", "INV-002914", "SO-7", "4471"]
NAMES = [
    "Harbour Joinery Ltd",
    "HARBOUR JOINERY LI",
    "Sun Foods",
    "Sun",
    "Zephyr Cycles Zürich LLP",
    "Müller GmbH",
    "Acme",
]
WORDS = [*REFERENCES, *NAMES, "PAYMENT", "ZX TRADING", "INV-002700", "INV-00", "THANK YOU"]
AMOUNTS = ["100.00", "99.00", "96.00", "-100.00", "0", "100.004", "92.00", "108.70", "1234.5"]

items = st.builds(
    lambda amount, currency, days, due, reference, words, name: (
        amount,
        currency,
        days,
        due,
        reference,
        words,
        name,
    ),
    st.sampled_from(AMOUNTS),
    st.sampled_from(["EUR", "EUR", "USD", "GBP"]),
    st.integers(-40, 60),
    st.none() | st.integers(0, 30),
    st.none() | st.sampled_from(REFERENCES),
    st.lists(st.sampled_from(WORDS), max_size=3),
    st.none() | st.sampled_from(NAMES),
)


def make(prefix: str, drawn: list[tuple[object, ...]]) -> list[Item]:
    made = []
    for number, (amount, currency, days, due, reference, words, name) in enumerate(drawn):
        assert isinstance(days, int) and isinstance(words, list)
        made.append(
            Item(
                id=f"{prefix}{number}",
                amount=Decimal(str(amount)),
                currency=str(currency),
                date=DAY + timedelta(days=days),
                reference=reference if isinstance(reference, str) else None,
                text=" ".join(words),
                counterparty=name if isinstance(name, str) else None,
                due_date=DAY + timedelta(days=days + due) if isinstance(due, int) else None,
            )
        )
    return made


configs = st.builds(
    lambda fee, net_side, rel, rates, signs, search_text, truncated, use_text, due: JobConfig(
        rules=[
            ExactKeyRule(name="reference", search_text=search_text, truncated_min_length=truncated),
            AmountRule(
                name="amount",
                rel_tolerance=Decimal(rel),
                fee=FeeTolerance(net_side=net_side) if fee else None,
            ),
            DateWindowRule(name="date", days_before=5, days_after=30, use_due_date=due),
            CounterpartyRule(name="counterparty", use_text=use_text),
            CurrencyRule(
                name="currency",
                rates={"EUR": Decimal(1), "USD": Decimal("0.92")} if rates else {},
            ),
            GroupRule(name="batch"),
        ],
        sign_convention=signs,
    ),
    st.booleans(),
    st.sampled_from(["left", "right"]),
    st.sampled_from(["0", "0", "0.05"]),
    st.booleans(),
    st.sampled_from(["same", "opposite", "any"]),
    st.booleans(),
    st.sampled_from([5, 3, None]),
    st.booleans(),
    st.booleans(),
)

LEARNED = Learned(
    aliases=[Alias(("zx", "trading"), "Harbour Joinery Ltd", "1", DAY)],
    payers=[PayerHabit("Sun Foods", Decimal("0.04"), 12, "2", DAY)],
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(items, min_size=1, max_size=8),
    st.lists(items, min_size=1, max_size=8),
    configs,
    st.booleans(),
)
def test_every_pair_scores_as_the_pairwise_scorer_scores_it(
    left_drawn: list[tuple[object, ...]],
    right_drawn: list[tuple[object, ...]],
    config: JobConfig,
    learn: bool,
) -> None:
    left, right = prepare_sides(
        make("L", left_drawn), make("R", right_drawn), config, LEARNED if learn else None
    )
    pairs = [(li, ri) for li in range(len(left)) for ri in range(len(right))]
    left_at = np.array([li for li, _ in pairs], np.int64)
    right_at = np.array([ri for _, ri in pairs], np.int64)
    scores = score_pairs(config, Columns(config, left, right), left_at, right_at, floor=0.0)
    score = pair_scorer(config)
    for at, (li, ri) in enumerate(pairs):
        expected = score(left[li], right[ri])
        found = (
            float(scores.score[at]),
            bool(scores.eligible[at]),
            bool(scores.identified[at]),
            bool(scores.key_agrees[at]),
            int(scores.rule_rank[at]),
        )
        assert found == (
            expected.score,
            expected.eligible,
            expected.identified,
            expected.key_agrees,
            expected.rule_rank,
        ), (left[li].item, right[ri].item)


def test_amounts_too_fine_for_whole_numbers_still_score_exactly() -> None:
    config = JobConfig(rules=[AmountRule(name="amount"), ExactKeyRule(name="reference")])
    payment = Item("p", Decimal("100.0000000000000001"), "EUR", DAY, reference="INV-1")
    invoice = Item("i", Decimal("100"), "EUR", DAY, reference="INV-1")
    left, right = prepare_sides([payment], [invoice], config)
    columns = Columns(config, left, right)
    assert not columns.fits
    scores = score_pairs(config, columns, np.array([0]), np.array([0]), floor=0.0)
    expected = pair_scorer(config)(left[0], right[0])
    assert (float(scores.score[0]), bool(scores.eligible[0])) == (
        expected.score,
        expected.eligible,
    )


name_words = st.lists(
    st.sampled_from(["harbour", "harb", "joinery", "joine", "li", "limited", "zephyr", "z", "cyc"]),
    max_size=5,
)


@settings(max_examples=400, deadline=None)
@given(name_words, name_words, st.data())
def test_names_cut_short_are_found_in_batch_as_one_by_one(
    text: list[str], name: list[str], data: st.DataObject
) -> None:
    full = " ".join(name)
    cut = full[: data.draw(st.integers(0, len(full)))].strip()
    texts = [" ".join(text), " ".join([*text, cut]).strip(), f"{cut} {' '.join(text)}".strip()]
    found = _cuts_within(texts, [full] * len(texts))
    assert found.tolist() == [_cut_within(t, full) for t in texts]
