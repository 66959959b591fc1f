"""Learning from decisions: aliases and payers' habits, and their bounds."""

from datetime import date
from decimal import Decimal

from ledgerbridge.reconcile.matching import (
    Alias,
    Learned,
    MatchStatus,
    PayerHabit,
    lesson,
    reconcile,
)
from ledgerbridge.reconcile.matching.learning import alias_words

ON = date(2026, 5, 2)


def statuses(result):
    return {(*m.left_ids, *m.right_ids): m.status for m in result.matches}


def test_a_learned_alias_names_the_payer_and_says_where_it_came_from(pay, inv):
    payments = [pay("p1", "100.00", text="ZX TRADING 4471", days=3)]
    invoices = [
        inv("INV-1", "100.00", customer="Harbour Joinery Ltd"),
        inv("INV-2", "100.00", customer="Sun Foods"),
    ]
    before = reconcile(payments, invoices)
    assert MatchStatus.AUTO_MATCHED not in statuses(before).values()  # amount and date only

    taught = Learned(aliases=[Alias(("zx", "trading"), "Harbour Joinery Ltd", "123", ON)])
    after = reconcile(payments, invoices, learned=taught)
    assert statuses(after) == {("p1", "INV-1"): MatchStatus.AUTO_MATCHED}
    (match,) = after.matches
    assert "alias learned from match 123 on 2026-05-02" in match.explanation
    assert "memo words 'zx trading' name 'Harbour Joinery Ltd'" in match.explanation


def test_a_confirmed_match_teaches_an_alias_and_the_payers_fee_and_delay(pay, inv):
    taught = lesson(
        [pay("p1", "97.10", text="ZX TRADING 4471", days=12)],
        [inv("INV-1", "100.00", customer="Harbour Joinery Ltd")],
    )
    assert taught.aliases == ((("zx", "trading"), "Harbour Joinery Ltd"),)
    assert (taught.counterparty, taught.fee_rate, taught.delay_days) == (
        "Harbour Joinery Ltd",
        Decimal("0.0290"),
        12,
    )
    # A memo that names the contact already teaches no alias.
    named = lesson(
        [pay("p1", "100.00", text="HARBOUR JOINERY 77")],
        [inv("INV-1", "100.00", customer="Harbour Joinery Ltd")],
    )
    assert named.aliases == ()


def test_a_payers_usual_fee_explains_a_short_payment(pay, inv):
    payments = [pay("p1", "97.10", text="INV-1", days=20)]
    invoices = [inv("INV-1", "100.00", customer="Harbour Joinery Ltd", terms=0)]
    before = reconcile(payments, invoices)
    assert before.matches[0].remaining == Decimal("2.90")  # taken for a part payment

    habit = PayerHabit("Harbour Joinery Ltd", Decimal("0.029"), 21, "77", ON)
    after = reconcile(payments, invoices, learned=Learned(payers=[habit]))
    (match,) = after.matches
    assert match.status is MatchStatus.AUTO_MATCHED and match.remaining is None
    assert "the payer's usual fee of 2.90 % (learned from match 77 on 2026-05-02)" in (
        match.explanation
    )
    assert "as this payer usually does (21 days; learned from match 77" in match.explanation


def test_hostile_or_mistaken_confirmations_teach_nothing_broad(pay, inv):
    # Words on any bank line, short words and bare numbers are no alias.
    for memo in ("CARD SALE", "PAYMENT 4471", "TRANSFER FROM SAVINGS", "ABC", "POS 12"):
        assert alias_words(memo) is None, memo
        taught = lesson([pay("p1", "10.00", text=memo)], [inv("INV-1", "10.00", customer="Sun")])
        assert taught.aliases == ()

    # An alias that fits many lines is too broad to use: "stripe" on 60 payouts.
    payments = [pay(f"p{n}", f"{10 + n}.00", text="STRIPE", days=n % 20) for n in range(60)]
    invoices = [inv(f"INV-{n}", f"{10 + n}.00", customer="Sun Foods") for n in range(60)]
    broad = Learned(aliases=[Alias(("stripe",), "Sun Foods", "9", ON)])
    result = reconcile(payments, invoices, learned=broad)
    assert "alias learned" not in " ".join(m.explanation for m in result.matches)
    assert MatchStatus.AUTO_MATCHED not in statuses(result).values()

    # Two aliases with the same words and different contacts cancel out.
    torn = Learned(
        aliases=[
            Alias(("zx", "trading"), "Harbour Joinery Ltd", "1", ON),
            Alias(("zx", "trading"), "Sun Foods", "2", ON),
        ]
    )
    lines = [pay("p1", "100.00", text="ZX TRADING", days=3)]
    invoices = [
        inv("INV-1", "100.00", customer="Harbour Joinery Ltd"),
        inv("INV-2", "100.00", customer="Sun Foods"),
    ]
    result = reconcile(lines, invoices, learned=torn)
    assert MatchStatus.AUTO_MATCHED not in statuses(result).values()
