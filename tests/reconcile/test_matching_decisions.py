"""Reviewer decisions survive reruns; a dry run shows matches gained and lost."""

from decimal import Decimal

from ledgerbridge.reconcile.matching import (
    AmountRule,
    Decisions,
    JobConfig,
    MatchStatus,
    default_rules,
    diff,
    reconcile,
)


def test_confirmed_match_is_honoured_first_and_marked(pay, inv):
    payments = [pay("p1", "100.00", text="INV-1", payer="Acme"), pay("p2", "100.00", payer="Acme")]
    invoices = [inv("INV-1", "100.00", customer="Acme")]
    decisions = Decisions(confirmed=[(["p2"], ["INV-1"])])
    result = reconcile(payments, invoices, JobConfig(), decisions)
    (match,) = result.matches
    assert (match.left_ids, match.right_ids, match.status) == (
        ("p2",),
        ("INV-1",),
        MatchStatus.CONFIRMED,
    )
    assert match.score == 1.0
    assert match.evidence[0].text == "confirmed by a reviewer"
    assert result.unmatched_left == ("p1",)


def test_confirmed_group_and_vanished_items(pay, inv):
    payments = [pay("p1", "30.00"), pay("p2", "70.00")]
    invoices = [inv("i1", "100.00")]
    decisions = Decisions(confirmed=[(["p1", "p2"], ["i1"]), (["gone"], ["i1"])])
    result = reconcile(payments, invoices, JobConfig(), decisions)
    assert [(m.left_ids, m.right_ids, m.status) for m in result.matches] == [
        (("p1", "p2"), ("i1",), MatchStatus.CONFIRMED)
    ]


def test_rejected_pair_is_never_proposed_again(pay, inv):
    payments = [pay("p1", "100.00", text="INV-1", payer="Acme")]
    invoices = [inv("INV-1", "100.00", customer="Acme")]
    first = reconcile(payments, invoices, JobConfig())
    assert first.matches[0].status is MatchStatus.AUTO_MATCHED
    rejected = Decisions(rejected={("p1", "INV-1")})
    for _ in range(2):  # and on every later run
        again = reconcile(payments, invoices, JobConfig(), rejected)
        assert again.matches == ()
        assert again.discrepancies == ()
        assert (again.unmatched_left, again.unmatched_right) == (("p1",), ("INV-1",))


def test_rejected_pair_is_kept_out_of_groups(pay, inv):
    payments = [pay("d1", "300.00", payer="Gamma")]
    invoices = [inv("i1", "100.00", customer="Gamma"), inv("i2", "200.00", customer="Gamma")]
    result = reconcile(payments, invoices, JobConfig(), Decisions(rejected={("d1", "i2")}))
    assert result.matches == ()


def test_decisions_survive_a_rule_change(pay, inv):
    payments = [pay("p1", "95.00", payer="Acme"), pay("p2", "100.00", text="INV-2", payer="Beta")]
    invoices = [inv("INV-1", "100.00", customer="Acme"), inv("INV-2", "100.00", customer="Beta")]
    decisions = Decisions(confirmed=[(["p1"], ["INV-1"])], rejected={("p2", "INV-2")})
    strict = JobConfig()
    loose = JobConfig(
        rules=[
            AmountRule(name="amount", rel_tolerance=Decimal("0.1")) if r.kind == "amount" else r
            for r in default_rules()
        ]
    )
    for config in (strict, loose):
        result = reconcile(payments, invoices, config, decisions)
        assert [(m.left_ids, m.status) for m in result.matches] == [
            (("p1",), MatchStatus.CONFIRMED)
        ]


def test_dry_run_diff_shows_matches_gained_and_lost(pay, inv):
    payments = [
        pay("p1", "98.00", text="INV-1", payer="Acme"),
        pay("p2", "50.00", text="INV-2", payer="Beta"),
    ]
    invoices = [inv("INV-1", "100.00", customer="Acme"), inv("INV-2", "50.00", customer="Beta")]
    before = reconcile(payments, invoices, JobConfig())
    looser = JobConfig(
        rules=[
            AmountRule(name="amount", rel_tolerance=Decimal("0.03")) if r.kind == "amount" else r
            for r in default_rules()
        ]
    )
    after = reconcile(payments, invoices, looser)
    change = diff(before.matches, after.matches)
    assert [(m.left_ids, m.right_ids) for m in change.gained] == [(("p1",), ("INV-1",))]
    # Partial payments are on by default: 98.00 of 100.00 was a partial match before.
    assert [(m.left_ids, m.right_ids, m.remaining) for m in change.lost] == [
        (("p1",), ("INV-1",), Decimal("2.00"))
    ]
    assert diff(after.matches, before.matches).lost == change.gained
    assert (
        diff(after.matches, after.matches).gained == diff(after.matches, after.matches).lost == ()
    )
