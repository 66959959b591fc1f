"""Each rule kind, seen through what `reconcile` returns."""

from decimal import Decimal

from ledgerbridge.reconcile.matching import (
    AmountRule,
    CounterpartyRule,
    CurrencyRule,
    DateWindowRule,
    ExactKeyRule,
    FeeTolerance,
    GroupRule,
    JobConfig,
    MatchStatus,
    Result,
    reconcile,
)


def config(**changes: object) -> JobConfig:
    rules = {
        "exact_key": ExactKeyRule(name="reference"),
        "amount": AmountRule(name="amount"),
        "date_window": DateWindowRule(name="date"),
        "counterparty": CounterpartyRule(name="counterparty"),
        "currency": CurrencyRule(name="currency"),
        "group": GroupRule(name="batch"),
    }
    rules.update(changes)  # type: ignore[arg-type]
    return JobConfig(rules=[rule for rule in rules.values() if rule is not None])


def pairs(result: Result, status: MatchStatus | None = None) -> set[tuple[str, ...]]:
    return {
        (*match.left_ids, *match.right_ids)
        for match in result.matches
        if status is None or match.status is status
    }


def test_reference_found_in_memo_auto_matches_and_says_so(pay, inv):
    result = reconcile(
        [pay("p1", "120.00", text="Payment INV-104 thanks", payer="ACME LTD", days=3)],
        [
            inv("INV-104", "120.00", customer="Acme Limited"),
            inv("INV-105", "120.00", customer="Acme Limited"),
        ],
        config(),
    )
    (match,) = result.matches
    assert (match.left_ids, match.right_ids) == (("p1",), ("INV-104",))
    assert match.status is MatchStatus.AUTO_MATCHED
    assert match.rule == "reference"
    assert "reference INV-104 found in memo" in match.explanation
    assert result.unmatched_right == ("INV-105",)


def test_equal_references_match_even_written_differently(pay, inv):
    result = reconcile(
        [pay("p1", "50.00", reference="inv 00104", payer="Beta")],
        [inv("i1", "50.00", reference="INV-00104", customer="Beta")],
        config(),
    )
    assert pairs(result, MatchStatus.AUTO_MATCHED) == {("p1", "i1")}


def test_a_memo_citing_another_invoice_is_evidence_against(pay, inv):
    result = reconcile(
        [pay("p1", "99.00", text="INV-000777", payer="Gamma")],
        [
            inv("INV-000123", "99.00", customer="Gamma"),
            inv("INV-000777", "99.00", customer="Gamma", days=-60),
        ],
        config(),
    )
    assert ("p1", "INV-000123") not in pairs(result, MatchStatus.AUTO_MATCHED)


def test_truncated_reference_counts_for_but_does_not_identify(pay, inv):
    result = reconcile(
        [pay("p1", "75.00", text="PAYMENT INV-0001", days=2)],
        [
            inv("INV-000123", "75.00", customer="Delta"),
            inv("INV-000999", "80.00", customer="Delta"),
        ],
        config(),
    )
    (match,) = result.matches
    assert match.right_ids == ("INV-000123",)
    assert match.status is MatchStatus.SUGGESTED  # a truncated key alone is not proof
    assert "truncated" in match.explanation


def test_amount_within_absolute_tolerance(pay, inv):
    rules = config(amount=AmountRule(name="amount", abs_tolerance=Decimal("0.05")))
    result = reconcile(
        [pay("p1", "10.04", payer="Acme")], [inv("i1", "10.00", customer="Acme")], rules
    )
    assert pairs(result) == {("p1", "i1")}
    beyond = reconcile(
        [pay("p1", "10.06", payer="Acme")], [inv("i1", "10.00", customer="Acme")], rules
    )
    assert pairs(beyond) == set()


def test_amount_within_relative_tolerance(pay, inv):
    rules = config(amount=AmountRule(name="amount", rel_tolerance=Decimal("0.02")))
    result = reconcile(
        [pay("p1", "98.50", payer="Acme")], [inv("i1", "100.00", customer="Acme")], rules
    )
    assert pairs(result) == {("p1", "i1")}
    assert "within the tolerance" in result.matches[0].explanation


def test_fee_aware_amount_accepts_a_deposit_net_of_a_processor_fee(pay, inv):
    fee = AmountRule(
        name="amount", fee=FeeTolerance(max_rate=Decimal("0.03"), max_fixed=Decimal("0.30"))
    )
    result = reconcile(
        [pay("p1", "97.50", text="INV-104", payer="Acme")],
        [inv("INV-104", "100.00", customer="Acme")],
        config(amount=fee),
    )
    (match,) = result.matches
    assert match.status is MatchStatus.AUTO_MATCHED
    assert "amount differs by 2.50 EUR, within the fee tolerance" in match.explanation
    # A deposit larger than the invoice is not explained by a fee.
    larger = reconcile(
        [pay("p1", "102.50", text="INV-104", payer="Acme")],
        [inv("INV-104", "100.00", customer="Acme")],
        config(amount=fee),
    )
    assert larger.matches == ()


def test_date_window_and_payment_terms(pay, inv):
    window = DateWindowRule(name="date", days_before=2, days_after=5, use_due_date=True)
    inside_terms = reconcile(
        [pay("p1", "10.00", payer="Acme", days=20)],
        [inv("i1", "10.00", customer="Acme", terms=30)],
        config(date_window=window),
    )
    assert pairs(inside_terms) == {("p1", "i1")}
    late = reconcile(
        [pay("p1", "10.00", payer="Acme", days=36)],
        [inv("i1", "10.00", customer="Acme", terms=30)],
        config(date_window=window),
    )
    assert pairs(late) == set()
    early = reconcile(
        [pay("p1", "10.00", payer="Acme", days=-2)],
        [inv("i1", "10.00", customer="Acme", terms=30)],
        config(date_window=window),
    )
    assert pairs(early) == {("p1", "i1")}


def test_date_window_without_due_dates_is_measured_from_the_date(pay, inv):
    window = DateWindowRule(name="date", days_before=0, days_after=3, use_due_date=False)
    result = reconcile(
        [pay("p1", "10.00", payer="Acme", days=5)],
        [inv("i1", "10.00", customer="Acme", terms=30)],
        config(date_window=window),
    )
    assert pairs(result) == set()


def test_counterparty_similarity_separates_customers_with_the_same_amount(pay, inv):
    result = reconcile(
        [pay("p1", "49.00", payer="NORTHWIND TRADING LTD", days=2)],
        [
            inv("i1", "49.00", customer="Contoso Media"),
            inv("i2", "49.00", customer="Northwind Trading Limited"),
        ],
        config(),
    )
    assert pairs(result, MatchStatus.AUTO_MATCHED) == {("p1", "i2")}
    assert "counterparty 'NORTHWIND TRADING LTD' matches" in result.matches[0].explanation


def test_counterparty_found_in_the_memo_when_the_bank_gives_no_name(pay, inv):
    result = reconcile(
        [pay("p1", "49.00", text="SEPA CREDIT NORTHWIND TRADING", days=2)],
        [
            inv("i1", "49.00", customer="Contoso Media"),
            inv("i2", "49.00", customer="Northwind Trading"),
        ],
        config(),
    )
    assert pairs(result, MatchStatus.AUTO_MATCHED) == {("p1", "i2")}


def test_amount_and_date_alone_are_only_suggested(pay, inv):
    result = reconcile([pay("p1", "10.00")], [inv("i1", "10.00")], config())
    (match,) = result.matches
    assert match.status is MatchStatus.SUGGESTED
    assert "only amount and date agree" in match.explanation


def test_currency_conversion_within_tolerance(pay, inv):
    currency = CurrencyRule(
        name="currency",
        rates={"EUR": Decimal("1"), "USD": Decimal("0.92")},
        tolerance=Decimal("0.02"),
    )
    result = reconcile(
        [pay("p1", "92.50", text="INV-9", payer="Acme")],
        [inv("INV-9", "100.00", customer="Acme", currency="USD")],
        config(currency=currency),
    )
    (match,) = result.matches
    assert match.status is MatchStatus.AUTO_MATCHED
    assert "USD converted to EUR" in match.explanation


def test_currency_without_a_rate_is_a_discrepancy_when_the_reference_agrees(pay, inv):
    result = reconcile(
        [pay("p1", "100.00", text="INV-9", payer="Acme")],
        [inv("INV-9", "100.00", customer="Acme", currency="USD")],
        config(),
    )
    assert result.matches == ()
    (discrepancy,) = result.discrepancies
    assert discrepancy.kind == "currency"
    assert (discrepancy.left_value, discrepancy.right_value) == ("EUR", "USD")
    assert result.unmatched_left == result.unmatched_right == ()


def test_a_part_payment_is_a_partial_match_by_default(pay, inv):
    result = reconcile(
        [pay("p1", "80.00", text="INV-7", payer="Acme")],
        [inv("INV-7", "100.00", customer="Acme")],
        config(),
    )
    (match,) = result.matches
    assert (match.left_ids, match.right_ids, match.rule) == (("p1",), ("INV-7",), "partial payment")
    assert match.remaining == Decimal("20.00") and result.discrepancies == ()
    assert "partly paid: 80.00 EUR of 100.00 EUR; 20.00 EUR remains open" in match.explanation


def test_amount_discrepancy_names_both_values(pay, inv):
    result = reconcile(
        [pay("p1", "80.00", text="INV-7", payer="Acme")],
        [inv("INV-7", "100.00", customer="Acme")],
        config(group=GroupRule(name="batch", partial_payments=False)),
    )
    (discrepancy,) = result.discrepancies
    assert (discrepancy.kind, discrepancy.left_value, discrepancy.right_value) == (
        "amount",
        "80.00 EUR",
        "100.00 EUR",
    )
    assert discrepancy.explanation.startswith("reference INV-7 found in memo, but amount differs")


def test_sign_convention(pay, inv):
    refund = [pay("p1", "-10.00", text="INV-1", payer="Acme")]
    invoices = [inv("INV-1", "10.00", customer="Acme")]
    assert reconcile(refund, invoices, config()).matches == ()
    opposite = JobConfig(rules=config().rules, sign_convention="opposite")
    assert pairs(reconcile(refund, invoices, opposite)) == {("p1", "INV-1")}


def test_one_deposit_paying_several_invoices(pay, inv):
    result = reconcile(
        [pay("d1", "300.00", text="BATCH", payer="Gamma SA", days=10)],
        [
            inv("i1", "100.00", customer="Gamma"),
            inv("i2", "200.00", customer="Gamma", days=1),
            inv("i3", "250.00", customer="Gamma", days=2),
            inv("i4", "200.00", customer="Other Co"),
        ],
        config(),
    )
    (match,) = result.matches
    assert (match.left_ids, set(match.right_ids)) == (("d1",), {"i1", "i2"})
    assert match.status is MatchStatus.AUTO_MATCHED
    assert match.rule == "batch"
    assert "sum to 300.00 EUR" in match.explanation


def test_one_invoice_paid_in_parts(pay, inv):
    result = reconcile(
        [
            pay("p1", "40.00", text="INV-5 part 1", payer="Delta", days=3),
            pay("p2", "60.00", text="INV-5 part 2", payer="Delta", days=12),
        ],
        [inv("INV-5", "100.00", customer="Delta")],
        config(),
    )
    (match,) = result.matches
    assert (set(match.left_ids), match.right_ids) == ({"p1", "p2"}, ("INV-5",))
    assert match.status is MatchStatus.AUTO_MATCHED


def test_more_than_one_exact_combination_is_ambiguous_and_only_suggested(pay, inv):
    result = reconcile(
        [pay("d1", "300.00", payer="Gamma", days=10)],
        [
            inv("i1", "100.00", customer="Gamma"),
            inv("i2", "200.00", customer="Gamma"),
            inv("i3", "150.00", customer="Gamma"),
            inv("i4", "150.00", customer="Gamma"),
        ],
        config(),
    )
    (match,) = result.matches
    assert match.status is MatchStatus.SUGGESTED
    assert "another combination also fits" in match.explanation


def test_group_search_respects_its_budget(pay, inv):
    tight = GroupRule(name="batch", budget=10)
    invoices = [inv(f"i{n}", f"{10 + n}.00", customer="Gamma") for n in range(12)]
    result = reconcile([pay("d1", "64.00", payer="Gamma")], invoices, config(group=tight))
    assert all(match.status is not MatchStatus.AUTO_MATCHED for match in result.matches)


def test_without_a_group_rule_no_groups_are_formed(pay, inv):
    result = reconcile(
        [pay("d1", "300.00", payer="Gamma")],
        [inv("i1", "100.00", customer="Gamma"), inv("i2", "200.00", customer="Gamma")],
        config(group=None),
    )
    assert result.matches == ()
