"""Bank lines as a bank writes them, against sales invoices, with every link labelled
by the scenario that made it; and the accuracy of the engine on them.

    python -m benchmarks.reconcile.realistic [--invoices 3000] [--seed 11] [--show-misses 20]

Scenarios (shares of invoices):

- exact reference: the memo cites the invoice number in one of several spellings, the
  amount is exact; the bank line often carries no payer name at all;
- processor payout: a card processor pays the invoice net of its fee (up to
  3.5 % + 0.50), the memo names the processor and cites the invoice number;
- fx drift: a USD invoice paid in EUR at a rate up to 1.2 % off the job's rate;
- part payment: two lines, each citing the invoice number, summing to it;
- partly paid: one line paying part of the invoice, citing its number (the rest is
  still open);
- batch deposit: one line paying 2 to 4 invoices of one customer, its memo naming only
  the customer as a bank prints it (cut short at 18 characters, upper case, accents
  stripped: ``HARBOUR JOINERY LI``);
- vague memo: the exact amount, a memo naming the customer but no invoice number;
- unpaid: no line at all.

Noise lines (fees, interest, refunds, transfers between own accounts, card sales at
plan prices that equal many invoices' amounts) carry no link. Everything is made here
from word lists and a seed; nothing is copied from another data set.

The job is the one a user would set up for this data: see `job_config`.
"""

import argparse
import random
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

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
    Match,
    MatchStatus,
    reconcile,
)

CENT = Decimal("0.01")
START = date(2025, 1, 6)
USD_IN_EUR = Decimal("0.91")
PLAN_PRICES = [Decimal(p) for p in ("29.00", "59.00", "120.00", "240.00", "480.00")]
BANK_NAME_LENGTH = 18

_TRADES = [
    "Harbour Joinery",
    "Café Lumière",
    "Müller Baustoffe",
    "Nordlicht Optik",
    "Bäckerei Sonnenschein",
    "Blue Heron Studio",
    "Crèmerie Dubois",
    "Fjord Fisheries",
    "Greenfield Dairy",
    "Iron Gate Security",
    "Kestrel Aviation",
    "Lantern Bookshop",
    "Maple & Oak Interiors",
    "Novak Stavby",
    "Olivera Ceramics",
    "Pinecrest Veterinary",
    "Quayside Chandlery",
    "Riverside Physio",
    "Saltmarsh Brewing",
    "Tallis Acoustics",
    "Upland Orchards",
    "Verdant Landscapes",
    "Weißdorn Apotheke",
    "Yarrow Textiles",
    "Zephyr Cycles",
    "Ångström Glas",
    "Brightwater Plumbing",
    "Copperleaf Bakery",
    "Driftwood Surf School",
    "Élan Coiffure",
]
_PLACES = ["", "", "", "North", "London", "Lyon", "Köln", "Praha", "Bristol", "Zürich"]
_FORMS = ["Ltd", "Limited", "GmbH", "SARL", "s.r.o.", "LLP", "& Co", "", ""]
_PROCESSORS = ["STRIPE PAYOUT", "PAYPAL SETTLEMENT", "SUMUP PAYOUT", "ADYEN SETTLEMENT"]
_NOISE_MEMOS = [
    "ACCOUNT FEE",
    "INTEREST",
    "TRANSFER FROM SAVINGS",
    "CARD SALE",
    "REFUND",
    "HMRC",
    "CASH DEPOSIT",
    "POS SETTLEMENT",
]


@dataclass
class Dataset:
    left: list[Item] = field(default_factory=list)  # bank lines
    right: list[Item] = field(default_factory=list)  # invoices
    # (bank line id, invoice id) -> the scenario that made the link
    truth: dict[tuple[str, str], str] = field(default_factory=dict)
    scenarios: Counter[str] = field(default_factory=Counter)


def job_config() -> JobConfig:
    """What a user would write for this bank account: the invoice number as the key;
    amounts exact, or short by a card processor's fee (3.5 % + 0.50), or 1.6 % off for
    currency drift; paid from 5 days before the invoice to 50 days after its due date;
    the payer's name, looked for in the memo when the bank gives none; USD invoices at
    a fixed rate; batches and part payments within 60 days."""
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
            CurrencyRule(
                name="currency",
                rates={"EUR": Decimal(1), "USD": USD_IN_EUR},
                tolerance=Decimal("0.016"),
            ),
            GroupRule(name="batches and part payments", window_days=60),
        ]
    )


def bank_name(name: str) -> str:
    """How a bank prints a payer: upper case, accents stripped, cut at 18 characters."""
    folded = unicodedata.normalize("NFKD", name)
    ascii_name = "".join(char for char in folded if not unicodedata.combining(char))
    return ascii_name.upper().replace("ß", "SS")[:BANK_NAME_LENGTH].rstrip()


def generate(invoices: int = 3000, seed: int = 11) -> Dataset:
    rng = random.Random(seed)
    customers = _customers(rng, max(12, invoices // 12))
    data = Dataset()
    by_customer: dict[str, list[Item]] = {}
    for number in range(1, invoices + 1):
        name, currency = rng.choice(customers)
        issued = START + timedelta(days=rng.randrange(0, 300))
        if rng.random() < 0.3:
            amount = rng.choice(PLAN_PRICES)
        else:
            amount = Decimal(str(rng.lognormvariate(5.6, 1.0))).quantize(CENT)
        invoice = Item(
            id=f"inv-{number}",
            amount=max(amount, Decimal("12.00")),
            currency=currency,
            date=issued,
            reference=f"INV-{number:05d}",
            counterparty=name,
            due_date=issued + timedelta(days=rng.choice((14, 30, 30, 30, 45))),
            kind="invoice",
        )
        data.right.append(invoice)
        by_customer.setdefault(name, []).append(invoice)

    lines = _Lines(rng, data)
    handled: set[str] = set()
    for invoice in data.right:
        if invoice.id in handled:
            continue
        handled.add(invoice.id)
        siblings = [
            other
            for other in by_customer[invoice.counterparty or ""]
            if other.id not in handled
            and other.currency == invoice.currency
            and 0 <= (other.date - invoice.date).days <= 20
        ]
        roll = rng.random()
        if invoice.currency == "USD":
            lines.fx(invoice) if roll < 0.95 else data.scenarios.update(["unpaid"])
        elif roll < 0.05:
            data.scenarios["unpaid"] += 1
        elif roll < 0.13 and siblings:
            group = [invoice, *rng.sample(siblings, min(len(siblings), rng.randrange(1, 4)))]
            handled.update(other.id for other in group)
            lines.batch(group)
        elif roll < 0.17:
            lines.in_parts(invoice)
        elif roll < 0.19:
            lines.partly(invoice)
        elif roll < 0.30:
            lines.payout(invoice)
        elif roll < 0.40:
            lines.vague(invoice)
        else:
            lines.exact(invoice)
    lines.noise(max(10, len(data.right) // 15))
    rng.shuffle(data.left)
    return data


def _customers(rng: random.Random, count: int) -> list[tuple[str, str]]:
    names: set[str] = set()
    while len(names) < count:
        words = [rng.choice(_TRADES), rng.choice(_PLACES), rng.choice(_FORMS)]
        names.add(" ".join(word for word in words if word))
    return [(name, "USD" if rng.random() < 0.08 else "EUR") for name in sorted(names)]


class _Lines:
    """Writes bank lines for invoices, each in the way its scenario looks at a bank."""

    def __init__(self, rng: random.Random, data: Dataset) -> None:
        self.rng = rng
        self.data = data
        self.count = 0

    def _add(
        self, scenario: str, amount: Decimal, paid: date, text: str, payer: str | None, *links: str
    ) -> None:
        self.count += 1
        line = Item(
            id=f"line-{self.count}",
            amount=amount.quantize(CENT, rounding=ROUND_HALF_UP),
            currency="EUR",
            date=paid,
            text=text,
            counterparty=payer,
            kind="bank_line",
        )
        self.data.left.append(line)
        for invoice_id in links:
            self.data.truth[(line.id, invoice_id)] = scenario
        self.data.scenarios[scenario] += 1

    def _paid_on(self, invoice: Item) -> date:
        rng = self.rng
        due = invoice.due_date or invoice.date
        if rng.random() < 0.12:
            paid = due + timedelta(days=rng.randrange(1, 40))  # late
        else:
            paid = invoice.date + timedelta(days=rng.randrange(0, (due - invoice.date).days + 1))
        return paid + timedelta(days=rng.choice((0, 1, 1, 2, 3)))  # settlement

    def _payer(self, invoice: Item) -> str | None:
        """The payer field: often empty, else as the bank prints it."""
        if self.rng.random() < 0.5:
            return None
        return bank_name(invoice.counterparty or "")

    def _cite(self, reference: str) -> str:
        number = reference.split("-")[1]
        return self.rng.choice(
            (
                reference,
                reference.lower(),
                reference.replace("-", ""),
                f"INV {number}",
                f"inv.{number}",
                f"Invoice {reference}",
            )
        )

    def exact(self, invoice: Item) -> None:
        rng = self.rng
        cited = self._cite(invoice.reference or "")
        text = rng.choice((cited, f"PAYMENT {cited}", f"{cited} THANK YOU", f"SEPA CT {cited}"))
        self._add(
            "exact reference",
            invoice.amount,
            self._paid_on(invoice),
            text,
            self._payer(invoice),
            invoice.id,
        )

    def payout(self, invoice: Item) -> None:
        rng = self.rng
        rate = Decimal(rng.choice(("0.014", "0.019", "0.025", "0.029", "0.034")))
        fixed = Decimal(rng.choice(("0.25", "0.30", "0.35", "0.50")))
        fee = (invoice.amount * rate + fixed).quantize(CENT)
        processor = rng.choice(_PROCESSORS)
        text = f"{processor} {self._cite(invoice.reference or '')}"
        paid = self._paid_on(invoice) + timedelta(days=rng.randrange(1, 4))
        self._add("processor payout", invoice.amount - fee, paid, text, None, invoice.id)

    def fx(self, invoice: Item) -> None:
        drift = Decimal(str(1 + self.rng.uniform(-0.012, 0.012)))
        amount = invoice.amount * USD_IN_EUR * drift
        text = f"FX {self._cite(invoice.reference or '')}"
        self._add(
            "fx drift", amount, self._paid_on(invoice), text, self._payer(invoice), invoice.id
        )

    def in_parts(self, invoice: Item) -> None:
        rng = self.rng
        first = (invoice.amount * Decimal(rng.choice(("0.25", "0.4", "0.5", "0.6")))).quantize(CENT)
        reference = invoice.reference or ""
        payer = self._payer(invoice)
        for part, amount in enumerate((first, invoice.amount - first), start=1):
            text = rng.choice(
                (f"{reference} PART {part}", f"PART PAYMENT {self._cite(reference)}", reference)
            )
            paid = self._paid_on(invoice) + timedelta(days=14 * (part - 1))
            self._add("part payment", amount, paid, text, payer, invoice.id)

    def partly(self, invoice: Item) -> None:
        share = Decimal(self.rng.choice(("0.3", "0.5", "0.7")))
        amount = (invoice.amount * share).quantize(CENT)
        text = f"PART PAYMENT {self._cite(invoice.reference or '')}"
        self._add(
            "partly paid", amount, self._paid_on(invoice), text, self._payer(invoice), invoice.id
        )

    def batch(self, invoices: list[Item]) -> None:
        rng = self.rng
        total = sum((invoice.amount for invoice in invoices), Decimal(0))
        name = bank_name(invoices[0].counterparty or "")
        text = rng.choice((name, f"{name} BATCH", f"BGC {name}"))
        payer = name if rng.random() < 0.5 else None
        paid = max(self._paid_on(invoice) for invoice in invoices)
        self._add("batch deposit", total, paid, text, payer, *(i.id for i in invoices))

    def vague(self, invoice: Item) -> None:
        rng = self.rng
        name = bank_name(invoice.counterparty or "")
        text = rng.choice((name, f"PAYMENT {name}", f"{name} THANKS"))
        self._add("vague memo", invoice.amount, self._paid_on(invoice), text, None, invoice.id)

    def noise(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            model = rng.choice(self.data.right)
            if rng.random() < 0.4:
                amount = rng.choice(PLAN_PRICES)  # equals many invoices' amounts
            else:
                amount = Decimal(str(rng.lognormvariate(4.0, 1.2))).quantize(CENT)
            paid = model.date + timedelta(days=rng.randrange(0, 30))
            self.count += 1
            self.data.left.append(
                Item(
                    id=f"line-{self.count}",
                    amount=max(amount, CENT),
                    currency="EUR",
                    date=paid,
                    text=rng.choice(_NOISE_MEMOS),
                    kind="bank_line",
                )
            )
            self.data.scenarios["noise line"] += 1


def links(matches: list[Match]) -> set[tuple[str, str]]:
    return {(left, right) for m in matches for left in m.left_ids for right in m.right_ids}


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--show-misses", type=int, default=0)
    args = parser.parse_args()

    data = generate(args.invoices, args.seed)
    started = time.perf_counter()
    result = reconcile(data.left, data.right, job_config())
    elapsed = time.perf_counter() - started

    auto = links([m for m in result.matches if m.status is MatchStatus.AUTO_MATCHED])
    proposed = links(list(result.matches))
    truth = set(data.truth)
    print(f"{len(data.left)} bank lines vs {len(data.right)} invoices, {len(truth)} true links")
    print(f"candidate pairs: {result.candidate_pairs}   time: {elapsed:.2f} s")
    print(f"auto-matched precision  {ratio(len(auto & truth), len(auto)):.4f}  ({len(auto)} links)")
    print(f"auto-matched recall     {ratio(len(auto & truth), len(truth)):.4f}")
    print(f"overall recall          {ratio(len(proposed & truth), len(truth)):.4f}")
    print(f"overall precision       {ratio(len(proposed & truth), len(proposed)):.4f}")
    statuses = Counter(str(m.status) for m in result.matches)
    print(f"matches: {dict(statuses)}   discrepancies: {len(result.discrepancies)}")
    print("scenario            links   auto   overall")
    for scenario in sorted(set(data.truth.values())):
        mine = {link for link, name in data.truth.items() if name == scenario}
        print(
            f"  {scenario:17} {len(mine):6}  {ratio(len(mine & auto), len(mine)):.3f}"
            f"   {ratio(len(mine & proposed), len(mine)):.3f}"
        )
    if args.show_misses:
        by_id = {item.id: item for item in [*data.left, *data.right]}
        for match in result.matches:
            if match.status is MatchStatus.AUTO_MATCHED and links([match]) - truth:
                print("FALSE AUTO", match.left_ids, match.right_ids, match.explanation)
        auto_missed = sorted(truth - auto)
        rng = random.Random(0)
        for left, right in rng.sample(auto_missed, min(args.show_misses, len(auto_missed))):
            print(f"NOT AUTO [{data.truth[(left, right)]}]", by_id[left], "\n      ", by_id[right])
            found = [m for m in result.matches if left in m.left_ids or right in m.right_ids]
            for match in found:
                print(
                    "     ->",
                    match.status,
                    match.left_ids,
                    match.right_ids,
                    match.score,
                    match.explanation,
                )


if __name__ == "__main__":
    main()
