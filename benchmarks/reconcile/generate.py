"""Labelled reconciliation data: bank payments (left) against invoices (right).

Deterministic from a seed, any size, with the noise real ledgers have: processor fees,
FX differences, settlement delays, truncated or missing references, batch deposits
paying several invoices, partial payments, duplicated bank lines, unrelated lines,
unpaid invoices, and near-identical amounts for different customers.

    python -m benchmarks.reconcile.generate --invoices 2000 --seed 7
"""

import argparse
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from ledgerbridge.reconcile.matching import (
    AmountRule,
    CounterpartyRule,
    CurrencyRule,
    DateWindowRule,
    ExactKeyRule,
    FeeTolerance,
    GroupRule,
    Item,
    JobConfig,
)

CENT = Decimal("0.01")
START = date(2024, 1, 1)
USD_IN_EUR = Decimal("0.92")
# Plan prices many customers share: the same amount for different payers.
PLAN_PRICES = [Decimal(p) for p in ("49.00", "99.00", "149.00", "199.00", "499.00")]

_FIRST = [
    "Acme",
    "Northwind",
    "Contoso",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Aperture",
    "Gringotts",
    "Oscorp",
    "Pied",
    "Piper",
    "Dunder",
    "Mifflin",
    "Sterling",
    "Cooper",
    "Prestige",
    "Worldwide",
    "Blue",
    "Sun",
    "Monarch",
    "Nakatomi",
    "Oceanic",
    "Virtucon",
    "Buy",
    "More",
    "Bluth",
    "Kramerica",
]
_SECOND = [
    "Trading",
    "Holdings",
    "Logistics",
    "Foods",
    "Media",
    "Systems",
    "Studio",
    "Partners",
    "Retail",
    "Labs",
]
_FORMS = ["Ltd", "Limited", "GmbH", "Inc", "LLC", "SA", "BV", ""]


@dataclass
class Dataset:
    left: list[Item] = field(default_factory=list)  # bank payments
    right: list[Item] = field(default_factory=list)  # invoices
    truth: set[tuple[str, str]] = field(default_factory=set)  # (payment id, invoice id)
    scenarios: Counter[str] = field(default_factory=Counter)


def job_config() -> JobConfig:
    """The job a user would set up for this data: fees, USD invoices paid in EUR."""
    return JobConfig(
        rules=[
            ExactKeyRule(name="invoice number"),
            AmountRule(name="amount", fee=FeeTolerance(max_rate=Decimal("0.035"))),
            DateWindowRule(name="payment terms", days_before=5, days_after=45),
            CounterpartyRule(name="payer"),
            CurrencyRule(
                name="currency",
                rates={"EUR": Decimal(1), "USD": USD_IN_EUR},
                tolerance=Decimal("0.03"),
            ),
            GroupRule(name="batches and part payments"),
        ]
    )


def generate(invoices: int = 4000, seed: int = 7) -> Dataset:
    rng = random.Random(seed)
    customers = _customers(rng, max(20, invoices // 6))
    data = Dataset()
    open_by_customer: dict[str, list[Item]] = {}
    for number in range(1, invoices + 1):
        name, currency = rng.choice(customers)
        issued = START + timedelta(days=rng.randrange(0, 330))
        amount = (
            rng.choice(PLAN_PRICES)
            if rng.random() < 0.25
            else Decimal(str(round(rng.lognormvariate(5.5, 1.1), 2))).quantize(CENT)
        )
        invoice = Item(
            id=f"inv-{number}",
            amount=max(amount, Decimal("5.00")),
            currency=currency,
            date=issued,
            reference=f"INV-{number:06d}",
            counterparty=name,
            due_date=issued + timedelta(days=rng.choice((14, 30, 30, 45))),
            kind="invoice",
        )
        data.right.append(invoice)
        open_by_customer.setdefault(name, []).append(invoice)

    payments = _Payments(rng, data)
    handled: set[str] = set()
    for invoice in data.right:
        if invoice.id in handled:
            continue
        handled.add(invoice.id)
        roll = rng.random()
        siblings = [
            other
            for other in open_by_customer[invoice.counterparty or ""]
            if other.id not in handled
            and other.currency == invoice.currency
            and abs((other.date - invoice.date).days) <= 21
        ]
        if roll < 0.05:
            data.scenarios["unpaid"] += 1
        elif roll < 0.10 and siblings and invoice.currency == "EUR":
            group = [invoice, *rng.sample(siblings, min(len(siblings), rng.choice((1, 1, 2))))]
            handled.update(other.id for other in group)
            payments.batch(group)
        elif roll < 0.14 and invoice.currency == "EUR":
            payments.in_parts(invoice)
        else:
            payments.single(invoice)
    payments.unrelated(len(data.right) // 30)
    payments.duplicates(len(data.left) // 100)
    rng.shuffle(data.left)
    return data


def _customers(rng: random.Random, count: int) -> list[tuple[str, str]]:
    names: set[str] = set()
    while len(names) < count:
        words = [rng.choice(_FIRST)]
        if rng.random() < 0.7:
            words.append(rng.choice(_SECOND))
        if rng.random() < 0.3:
            words.append(f"{rng.choice('ABCDEFGHJKLMNPRSTUVWZ')}{rng.randrange(2, 99)}")
        form = rng.choice(_FORMS)
        names.add(" ".join([*words, form]).strip())
    return [(name, "USD" if rng.random() < 0.1 else "EUR") for name in sorted(names)]


class _Payments:
    """Writes bank lines for invoices, with the noise of each scenario."""

    def __init__(self, rng: random.Random, data: Dataset) -> None:
        self.rng = rng
        self.data = data
        self.count = 0

    def _add(self, amount: Decimal, paid: date, text: str, payer: str | None, *links: str) -> Item:
        self.count += 1
        payment = Item(
            id=f"pay-{self.count}",
            amount=amount.quantize(CENT),
            currency="EUR",
            date=paid,
            text=text,
            counterparty=payer,
            kind="bank_line",
        )
        self.data.left.append(payment)
        self.data.truth.update((payment.id, invoice_id) for invoice_id in links)
        return payment

    def _paid_on(self, invoice: Item) -> date:
        rng = self.rng
        due = invoice.due_date or invoice.date
        span = (due - invoice.date).days
        intended = invoice.date + timedelta(days=rng.randrange(0, span + 1))
        if rng.random() < 0.1:
            intended = due + timedelta(days=rng.randrange(1, 25))  # paid late
        return intended + timedelta(days=rng.choice((0, 0, 1, 1, 2, 3, 5)))  # settlement delay

    def _payer(self, name: str | None) -> str | None:
        rng = self.rng
        if name is None or rng.random() < 0.15:
            return None  # bank line without the payer's name
        variant = rng.random()
        if variant < 0.3:
            return name.upper()
        if variant < 0.45:
            return name.replace("Limited", "Ltd").replace("Ltd", "LTD")
        if variant < 0.55:
            return " ".join(name.split()[:-1]) or name  # legal form dropped
        if variant < 0.62 and len(name) > 8:
            cut = rng.randrange(1, len(name) - 1)
            return name[:cut] + name[cut + 1 :]  # a typo
        return name

    def _memo(self, invoice: Item, payer: str | None) -> tuple[str, str]:
        rng = self.rng
        reference = invoice.reference or ""
        roll = rng.random()
        who = "" if payer else f" {invoice.counterparty}"
        if roll < 0.12:
            return f"PAYMENT{who}".strip(), "missing reference"
        if roll < 0.22:
            text = f"PAYMENT {reference}{who}"
            keep = rng.randrange(len("PAYMENT ") + 6, len("PAYMENT ") + len(reference) - 1)
            return text[:keep], "truncated reference"
        style = rng.choice(
            (
                f"{reference}",
                f"Payment {reference}",
                reference.replace("-", ""),
                f"inv {reference[4:]}",
            )
        )
        return f"{style}{who}", "reference in memo"

    def single(self, invoice: Item) -> None:
        rng = self.rng
        payer = self._payer(invoice.counterparty)
        text, scenario = self._memo(invoice, payer)
        amount = invoice.amount
        if invoice.currency == "USD":
            drift = Decimal(str(1 + rng.uniform(-0.012, 0.012)))
            amount = amount * USD_IN_EUR * drift
            scenario = "fx difference"
        elif rng.random() < 0.12:
            fee = amount * Decimal("0.029") + Decimal("0.30")
            amount = amount - fee
            scenario = "processor fee"
        self.data.scenarios[scenario] += 1
        self._add(amount, self._paid_on(invoice), text, payer, invoice.id)

    def batch(self, invoices: list[Item]) -> None:
        payer = self._payer(invoices[0].counterparty) or invoices[0].counterparty
        total = sum((invoice.amount for invoice in invoices), Decimal(0))
        cited = " ".join(invoice.reference or "" for invoice in invoices)
        text = cited if self.rng.random() < 0.5 else "BATCH PAYMENT"
        paid = max(self._paid_on(invoice) for invoice in invoices)
        self.data.scenarios["batch deposit"] += 1
        self._add(total, paid, text, payer, *(invoice.id for invoice in invoices))

    def in_parts(self, invoice: Item) -> None:
        payer = self._payer(invoice.counterparty) or invoice.counterparty
        first = (invoice.amount * Decimal(str(self.rng.choice((0.3, 0.4, 0.5))))).quantize(CENT)
        self.data.scenarios["partial payments"] += 1
        for part, amount in enumerate((first, invoice.amount - first), start=1):
            text = f"{invoice.reference} part {part}"
            self._add(amount, self._paid_on(invoice), text, payer, invoice.id)

    def unrelated(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            other = rng.choice(self.data.right)
            amount = (
                other.amount
                + Decimal(rng.choice((-1, 1))) * Decimal(rng.randrange(300, 5000)) / 100
            )
            payer = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} Refund"
            paid = other.date + timedelta(days=rng.randrange(0, 30))
            self.data.scenarios["unrelated line"] += 1
            self._add(max(amount, Decimal("1.00")), paid, "TRANSFER", payer)

    def duplicates(self, count: int) -> None:
        for original in self.rng.sample(self.data.left, count):
            self.count += 1
            duplicate = Item(
                id=f"pay-{self.count}",
                amount=original.amount,
                currency=original.currency,
                date=original.date,
                text=original.text,
                counterparty=original.counterparty,
                kind="bank_line",
            )
            self.data.left.append(duplicate)
            self.data.scenarios["duplicated line"] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--invoices", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    data = generate(args.invoices, args.seed)
    print(f"{len(data.left)} payments, {len(data.right)} invoices, {len(data.truth)} true links")
    for scenario, count in sorted(data.scenarios.items()):
        print(f"  {scenario:20} {count}")


if __name__ == "__main__":
    main()
