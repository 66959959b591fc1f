"""Absent evidence is not contrary evidence; batches, part payments and partial matches;
a rejected group is rejected as that group only."""

from decimal import Decimal

from ledgerbridge.reconcile.matching import (
    AmountRule,
    CounterpartyRule,
    CurrencyRule,
    DateWindowRule,
    Decisions,
    ExactKeyRule,
    FeeTolerance,
    GroupRule,
    JobConfig,
    MatchStatus,
    reconcile,
)
from ledgerbridge.reconcile.matching.normalise import name_similarity


def user_job() -> JobConfig:
    """The job a user writes for a bank account (as in docs/reconciliation.md)."""
    return JobConfig(
        rules=[
            ExactKeyRule(name="invoice number"),
            AmountRule(
                name="amount",
                rel_tolerance=Decimal("0.016"),
                fee=FeeTolerance(max_rate=Decimal("0.035"), max_fixed=Decimal("0.50")),
            ),
            DateWindowRule(name="payment terms", days_before=5, days_after=50),
            CounterpartyRule(name="payer", use_text=True),
            CurrencyRule(name="currency"),
            GroupRule(name="batches", window_days=60, partial_payments=True),
        ]
    )


def test_unique_reference_and_exact_amount_auto_match_without_a_name(pay, inv):
    result = reconcile(
        [pay("p1", "623.08", text="SEPA CT inv.02957", days=33)],
        [
            inv("INV-02957", "623.08", customer="Novak Stavby Zürich"),
            inv("INV-02958", "623.08", customer="Novak Stavby Zürich"),
        ],
        user_job(),
    )
    (match,) = result.matches
    assert (match.left_ids, match.right_ids) == (("p1",), ("INV-02957",))
    assert match.status is MatchStatus.AUTO_MATCHED
    # The name not being in the memo is absent evidence: it is not held against the pair.
    (payer,) = [e for e in match.evidence if e.field == "counterparty"]
    assert payer.outcome == "missing"
    assert "not found in memo" not in match.explanation


def test_a_fee_net_payout_citing_the_number_auto_matches(pay, inv):
    fee = Decimal("162.28") * Decimal("0.029") + Decimal("0.30")
    net = str((Decimal("162.28") - fee).quantize(Decimal("0.01")))
    result = reconcile(
        [pay("p1", net, text="STRIPE PAYOUT INV-00887", days=40)],
        [inv("INV-00887", "162.28", customer="Novak Stavby London")],
        user_job(),
    )
    (match,) = result.matches
    assert match.status is MatchStatus.AUTO_MATCHED
    assert "within the fee tolerance" in match.explanation


def test_amount_and_date_alone_never_auto_match(pay, inv):
    result = reconcile(
        [pay("p1", "240.00", text="CARD SALE", days=3)],
        [inv("INV-1", "240.00", customer="Iron Gate Security")],
        user_job(),
    )
    (match,) = result.matches
    assert match.status is MatchStatus.SUGGESTED
    assert "only amount and date agree" in match.explanation


def test_a_name_the_bank_cut_short_identifies_the_payer(pay, inv):
    result = reconcile(
        [pay("p1", "99.50", payer="BACKEREI SONNENSCH", days=2)],
        [inv("INV-1", "99.50", customer="Bäckerei Sonnenschein North GmbH")],
        user_job(),
    )
    (match,) = result.matches
    (payer,) = [e for e in match.evidence if e.field == "counterparty"]
    assert payer.outcome == "match"
    assert match.status is MatchStatus.AUTO_MATCHED


def test_a_batch_deposit_naming_only_a_truncated_customer_is_grouped(pay, inv):
    invoices = [
        inv("INV-1", "120.00", customer="Harbour Joinery Limited"),
        inv("INV-2", "245.10", customer="Harbour Joinery Limited", days=6),
        inv("INV-3", "77.35", customer="Harbour Joinery Limited", days=12),
        inv("INV-4", "245.10", customer="Saltmarsh Brewing"),
        inv("INV-5", "120.00", customer="Kestrel Aviation"),
    ]
    result = reconcile(
        [pay("d1", "442.45", text="BGC HARBOUR JOINERY LI", days=30)], invoices, user_job()
    )
    (match,) = result.matches
    assert (match.left_ids, set(match.right_ids)) == (("d1",), {"INV-1", "INV-2", "INV-3"})
    assert match.rule == "batches"


def test_part_payments_citing_the_number_join_as_one_group(pay, inv):
    result = reconcile(
        [
            pay("p1", "233.44", text="PART PAYMENT INV-00360", days=10),
            pay("p2", "350.17", text="INV-00360 PART 2", days=24),
            pay("p3", "350.17", text="CARD SALE", days=24),
        ],
        [inv("INV-00360", "583.61", customer="Saltmarsh Brewing")],
        user_job(),
    )
    (match,) = result.matches
    assert (set(match.left_ids), match.right_ids) == ({"p1", "p2"}, ("INV-00360",))
    assert match.status is MatchStatus.AUTO_MATCHED


def test_an_invoice_paid_in_part_is_a_partial_match_with_the_balance_open(pay, inv):
    result = reconcile(
        [pay("p1", "144.00", text="PART PAYMENT INV00278", days=5)],
        [inv("INV-00278", "480.00", customer="Driftwood Surf School")],
        user_job(),
    )
    assert result.discrepancies == ()
    (match,) = result.matches
    assert (match.left_ids, match.right_ids) == (("p1",), ("INV-00278",))
    assert match.remaining == Decimal("336.00")
    assert "partly paid: 144.00 EUR of 480.00 EUR; 336.00 EUR remains open" in match.explanation


def test_rejecting_a_group_rejects_only_that_group(pay, inv):
    payments = [pay("d1", "300.00", payer="Gamma Trading")]
    invoices = [
        inv("i1", "100.00", customer="Gamma Trading"),
        inv("i2", "200.00", customer="Gamma Trading", days=1),
        inv("i5", "200.00", customer="Gamma Trading", days=2),
    ]
    first = reconcile(payments, invoices, user_job())
    (proposed,) = first.matches
    assert proposed.right_ids == ("i1", "i2")

    decisions = Decisions(rejected_groups=[(proposed.left_ids, proposed.right_ids)])
    again = reconcile(payments, invoices, user_job(), decisions)
    (match,) = again.matches
    # i1 was in the rejected group, but only the group was rejected: it may pair again.
    assert (match.left_ids, match.right_ids) == (("d1",), ("i1", "i5"))
    assert match.status is MatchStatus.SUGGESTED
    assert "a reviewer rejected another combination" in match.explanation


def test_a_name_cut_short_inside_a_longer_memo_still_names_the_customer():
    memo, name = "zephyr cycles zuri batch", "zephyr cycles zurich llp"
    assert name_similarity(memo, memo, "zephyr cycles zurich", name) == 100
    # Another customer sharing the first word is not taken for it.
    assert name_similarity(memo, memo, "zephyr media", "zephyr media gmbh") < 85
