"""Deterministic, realistic Xero data: two organisations in different currencies.

Per organisation: a chart of accounts (with bank accounts in foreign currencies and an
archived account), up to 1,000 Items, ``size`` Contacts (some archived, non-ASCII
names) and ``size`` Invoices (ACCREC and ACCPAY, multi-line, taxed, several currencies,
every status, partly and fully paid), Payments for them (a few deleted), and
BankTransactions, CreditNotes (some allocated to invoices) and PurchaseOrders in
proportion. Dates fall in the two years before the day the sandbox started.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ledgerbridge.sandbox.settings import account_profiles
from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.store import Account
from ledgerbridge.sandbox.xero.amounts import basis_points, default_tax_type, line_tax, totals
from ledgerbridge.sandbox.xero.data import Organisation, XeroData, collection
from ledgerbridge.sandbox.xero.dates import DAY_MS, day_ms, ms_date
from ledgerbridge.sandbox.xero.resources import RESOURCES

Record = dict[str, Any]
T = TypeVar("T")
YEAR_MS = 365 * DAY_MS

# name, currency, country, tax rate, short code, foreign currencies with their rates
_Profile = tuple[str, str, str, float, str, dict[str, float]]
_ORGANISATIONS: tuple[_Profile, ...] = (
    ("Kōwhai Crafts Ltd", "NZD", "NZ", 0.15, "!kW3xQ", {"AUD": 1.08, "USD": 1.65}),
    ("Hartley & Søn Trading Ltd", "GBP", "GB", 0.20, "!hT9qL", {"EUR": 0.86, "USD": 0.79}),
)

# Code, Name, Type, extra fields
_CHART: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("090", "Business Bank Account", "BANK", {"BankAccountNumber": "0102030405060"}),
    ("091", "Business Savings Account", "BANK", {"BankAccountNumber": "0102030405061"}),
    ("200", "Sales", "REVENUE", {}),
    ("260", "Other Revenue", "REVENUE", {}),
    ("270", "Interest Income", "REVENUE", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", {}),
    ("400", "Advertising", "OVERHEADS", {}),
    ("404", "Bank Fees", "OVERHEADS", {}),
    ("412", "Consulting & Accounting", "EXPENSE", {}),
    ("420", "Entertainment", "OVERHEADS", {}),
    ("429", "General Expenses", "OVERHEADS", {}),
    ("453", "Office Expenses", "OVERHEADS", {}),
    ("469", "Rent", "OVERHEADS", {}),
    ("489", "Telephone & Internet", "OVERHEADS", {}),
    ("493", "Travel - National", "OVERHEADS", {}),
    ("494", "Travel - International", "OVERHEADS", {}),
    ("610", "Accounts Receivable", "CURRENT", {"SystemAccount": "DEBTORS"}),
    ("630", "Inventory", "INVENTORY", {}),
    ("710", "Office Equipment", "FIXED", {}),
    ("800", "Accounts Payable", "CURRLIAB", {"SystemAccount": "CREDITORS"}),
    ("820", "Sales Tax", "CURRLIAB", {"SystemAccount": "GST"}),
    ("960", "Retained Earnings", "EQUITY", {"SystemAccount": "RETAINEDEARNINGS"}),
    ("477", "Wages and Salaries", "EXPENSE", {"Status": "ARCHIVED"}),
)
_CLASS = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "CURRLIAB": "LIABILITY",
    "EQUITY": "EQUITY",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "REVENUE": "REVENUE",
}
_EXPENSE_CODES = ("400", "404", "412", "420", "429", "453", "469", "489", "493", "494")

_COMPANY_FIRST = (
    "Ahi",
    "Bäckerei",
    "Blue",
    "Café",
    "Coastal",
    "Crème",
    "Eastside",
    "Fjord",
    "Golden",
    "Harbour",
    "Highland",
    "Hōkio",
    "Kauri",
    "København",
    "Laneway",
    "Lumière",
    "Māra",
    "Northern",
    "Olé",
    "Pōhutukawa",
    "Quay",
    "Riverside",
    "São Paulo",
    "Señor",
    "Silver",
    "Smørrebrød",
    "Summit",
    "Tūī",
    "Urban",
    "Vineyard",
    "Wharf",
    "Zürich",
)
_COMPANY_SECOND = (
    "Bakery",
    "Builders",
    "Catering",
    "Ceramics",
    "Coffee",
    "Consulting",
    "Design",
    "Electrical",
    "Florists",
    "Freight",
    "Furniture",
    "Gardens",
    "Hardware",
    "Imports",
    "Joinery",
    "Kitchens",
    "Landscaping",
    "Motors",
    "Plumbing",
    "Printing",
    "Stationery",
    "Studios",
    "Supplies",
    "Textiles",
)
_COMPANY_SUFFIX = ("Ltd", "Limited", "& Co.", "Group", "Partners", "GmbH", "SARL", "Pty Ltd")
_FIRST_NAMES = (
    "Aroha",
    "Ben",
    "Chloé",
    "Dmitri",
    "Émile",
    "Freya",
    "Giulia",
    "Hēmi",
    "Ingrid",
    "José",
    "Kiri",
    "Łukasz",
    "Mereana",
    "Nguyễn",
    "Oisín",
    "Priya",
    "Quentin",
    "Renée",
    "Søren",
    "Tāne",
    "Ümit",
    "Vikram",
    "Wiremu",
    "Xiao",
    "Yusuf",
    "Zoë",
)
_LAST_NAMES = (
    "Anderson",
    "Brontë",
    "Castañeda",
    "Dubois",
    "Eriksson",
    "Fernández",
    "García",
    "Håkansson",
    "Ihaia",
    "Jäger",
    "Kowalczyk",
    "Lefèvre",
    "Müller",
    "Ngata",
    "O'Brien",
    "Peña",
    "Quiñones",
    "Rāwiri",
    "Schröder",
    "Tuhiwai",
    "Ueda",
    "Vázquez",
    "Walker",
    "Yılmaz",  # noqa: RUF001
    "Żukowski",
)
_PRODUCTS = (
    "Ceramic mug",
    "Crème brûlée kit",
    "Espresso beans 1kg",
    "Flax throw",
    "Harakeke basket",
    "Jalapeño sauce",
    "Linen napkins (set of 4)",
    "Mānuka honey 500g",
    "Oak serving board",
    "Pottery class",
    "Reusable cup",
    "Smørrebrød platter",
    "Tea towel",
    "Wool blanket",
    "Consulting hour",
    "Delivery",
    "Gift voucher",
    "Repair service",
    "Workshop seat",
)
_CITIES = ("Auckland", "Wellington", "Ōtautahi", "London", "Manchester", "Edinburgh", "Zürich")


@dataclass
class _Org:
    """What one organisation's seeding needs while it builds records."""

    rng: random.Random
    org: Organisation
    foreign: dict[str, float]
    start_ms: int
    end_ms: int
    accounts: list[Record] = field(default_factory=list)
    items: list[Record] = field(default_factory=list)
    contacts: list[Record] = field(default_factory=list)
    invoices: list[Record] = field(default_factory=list)
    stamps: dict[str, dict[str, int]] = field(default_factory=dict)  # resource -> id -> stamp
    banks: dict[str, Record] = field(default_factory=dict)  # by currency
    # (Description, ItemCode, UnitAmount in cents, AccountCode) of item lines, sold or bought
    item_lines: dict[bool, list[tuple[str, str, int, str]]] = field(default_factory=dict)

    def new_id(self) -> str:
        """A version-4 UUID drawn from the seeded generator (uuid.UUID is slow at this scale)."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    # The generator's own choice() and randrange() cost several times more.
    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.rng.random() * len(options))]

    def between(self, low: int, high: int) -> int:
        """A whole number in [low, high)."""
        return low + int(self.rng.random() * (high - low))

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def day(self) -> int:
        """A random day in the seeded period."""
        return day_ms(self.between(self.start_ms, self.end_ms - DAY_MS))

    def later(self, ms: int, max_days: int = 45) -> int:
        """A moment after ``ms`` (but before the period ends): when a record last changed."""
        return min(ms + self.between(60_000, max_days * DAY_MS), self.end_ms)

    def bank(self, currency: str) -> Record:
        """A bank account in ``currency``, or the main one when there is none."""
        return self.banks.get(currency) or self.banks[self.org.currency]

    def currency(self) -> tuple[str, float]:
        if self.chance(0.85):
            return self.org.currency, 1.0
        code = self.pick(sorted(self.foreign))
        return code, round(1 / self.foreign[code] * self.rng.uniform(0.97, 1.03), 6)


def seed(state: SandboxState, rng: random.Random, size: int) -> None:
    data = state.provider_data["xero"] = XeroData()
    end_ms = day_ms(state.clock.time_ms()) - 60_000
    profiles = account_profiles(_ORGANISATIONS, state.settings.accounts, _numbered)
    for name, currency, country, tax_rate, short_code, foreign in profiles:
        # Each organisation draws from its own generator: its ids and data do not
        # depend on how much the others drew (i.e. on ``size``).
        org_rng = random.Random(rng.getrandbits(64))
        tenant_id = str(uuid.UUID(int=org_rng.getrandbits(128), version=4))
        org = Organisation(
            tenant_id, name, currency, country, short_code, tax_rate, end_ms - 3 * YEAR_MS
        )
        data.organisations[tenant_id] = org
        state.store.add_account(Account("xero", tenant_id, name, currency))
        seeding = _Org(org_rng, org, foreign, end_ms - 2 * YEAR_MS, end_ms)
        _seed_organisation(state, seeding, size)


def _numbered(profile: _Profile, n: int) -> _Profile:
    name, currency, country, tax_rate, short_code, foreign = profile
    return f"{name} {n}", currency, country, tax_rate, f"{short_code}{n}", foreign


def _seed_organisation(state: SandboxState, s: _Org, size: int) -> None:
    records: dict[str, list[Record]] = {name: [] for name in RESOURCES}
    s.stamps = {name: {} for name in RESOURCES}
    records["Accounts"] = s.accounts = _accounts(s)
    records["Items"] = s.items = [_item(s, n) for n in range(max(3, min(size, 1000)))]
    s.item_lines = {
        sold: [
            (i["Name"], i["Code"], round(d["UnitPrice"] * 100), d["AccountCode"])
            for i in s.items
            for d in [i["SalesDetails"] if sold else i["PurchaseDetails"]]
        ]
        for sold in (True, False)
    }
    records["Contacts"] = s.contacts = _contacts(s, max(3, size))
    records["Invoices"] = s.invoices = [_invoice(s, n) for n in range(max(3, size))]
    records["Payments"] = _payments(s)
    records["CreditNotes"] = [_credit_note(s, n) for n in range(max(2, size // 10))]
    records["BankTransactions"] = [_bank_transaction(s) for _ in range(max(2, size // 2))]
    records["PurchaseOrders"] = [_purchase_order(s, n) for n in range(max(2, size // 5))]
    for name, resource in RESOURCES.items():
        target = collection(state, s.org.tenant_id, name)
        stamps = s.stamps[name]
        for record in records[name]:
            record_id = record[resource.id_field]
            stamp = stamps[record_id]
            record["UpdatedDateUTC"] = ms_date(stamp)
            target.put(record_id, record, stamp)


def _stamp(s: _Org, resource: str, record_id: str, ms: int) -> None:
    s.stamps[resource][record_id] = max(ms, s.stamps[resource].get(record_id, 0))


def _accounts(s: _Org) -> list[Record]:
    chart = list(_CHART)
    for code, currency in zip(("092", "093"), sorted(s.foreign), strict=False):
        chart.append((code, f"{currency} Account", "BANK", {"CurrencyCode": currency}))
    accounts = []
    for code, name, kind, extra in chart:
        account: Record = {
            "AccountID": s.new_id(),
            "Code": code,
            "Name": name,
            "Status": "ACTIVE",
            "Type": kind,
            "TaxType": "NONE" if kind in ("BANK", "CURRENT", "CURRLIAB", "EQUITY") else "INPUT2",
            "Class": _CLASS[kind],
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": kind in ("EXPENSE", "OVERHEADS"),
            "ReportingCode": _CLASS[kind][:3],
            "ReportingCodeName": _CLASS[kind].title(),
            "HasAttachments": False,
            "AddToWatchlist": False,
        }
        if kind in ("REVENUE",):
            account["TaxType"] = "OUTPUT2"
        if kind == "BANK":
            account["BankAccountType"] = "BANK"
            account["CurrencyCode"] = s.org.currency
            account["BankAccountNumber"] = f"01-0{s.between(100, 999)}-{s.between(10**6, 10**7)}-00"
        account.update(extra)
        accounts.append(account)
        if kind == "BANK":
            s.banks.setdefault(account["CurrencyCode"], account)
        _stamp(s, "Accounts", account["AccountID"], s.start_ms - s.between(DAY_MS, YEAR_MS))
    return accounts


def _item(s: _Org, n: int) -> Record:
    rng = s.rng
    product = _PRODUCTS[n % len(_PRODUCTS)]
    name = product if n < len(_PRODUCTS) else f"{product} #{n // len(_PRODUCTS) + 1}"
    price = round(rng.uniform(3, 400), 2)
    item: Record = {
        "ItemID": s.new_id(),
        "Code": f"{product.split()[0].upper()[:6]}-{n + 1:04d}",
        "Name": name,
        "Description": f"{name} — {s.pick(('standard', 'premium', 'seasonal', 'bulk'))}",
        "PurchaseDescription": f"{name} (supplier)",
        "IsSold": True,
        "IsPurchased": s.chance(0.8),
        "IsTrackedAsInventory": False,
        "SalesDetails": {"UnitPrice": price, "AccountCode": "200", "TaxType": "OUTPUT2"},
        "PurchaseDetails": {
            "UnitPrice": round(price * rng.uniform(0.4, 0.7), 2),
            "AccountCode": "310",
            "TaxType": "INPUT2",
        },
    }
    _stamp(s, "Items", item["ItemID"], s.day() + s.between(0, DAY_MS))
    return item


def _contacts(s: _Org, count: int) -> list[Record]:
    used: dict[str, int] = {}
    contacts = []
    for n in range(count):
        person = s.chance(0.3)
        first, last = s.pick(_FIRST_NAMES), s.pick(_LAST_NAMES)
        if person:
            name = f"{first} {last}"
        else:
            name = " ".join(
                (
                    s.pick(_COMPANY_FIRST),
                    s.pick(_COMPANY_SECOND),
                    s.pick(_COMPANY_SUFFIX),
                )
            )
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:  # Xero requires unique contact names
            name = f"{name} ({used[name]})"
        city = s.pick(_CITIES)
        # Street numbers, post codes and phones follow from n: varied enough, and cheap.
        postcode = str(1000 + n * 37 % 9000)
        email_name = (first if person else name.split()[0]).encode("ascii", "ignore").decode()
        contact: Record = {
            "ContactID": s.new_id(),
            "ContactNumber": f"C{n + 1:06d}",
            "ContactStatus": "ARCHIVED" if s.chance(0.04) else "ACTIVE",
            "Name": name,
            "FirstName": first if person else "",
            "LastName": last if person else "",
            "EmailAddress": f"{email_name.lower() or 'accounts'}{n}@example.com",
            "Addresses": [
                {
                    "AddressType": "POBOX",
                    "AddressLine1": f"PO Box {1 + n * 7 % 9999}",
                    "City": city,
                    "PostalCode": postcode,
                    "Country": "",
                },
                {
                    "AddressType": "STREET",
                    "AddressLine1": f"{1 + n * 13 % 400} {last} Street",
                    "City": city,
                    "PostalCode": postcode,
                    "Country": "",
                },
            ],
            "Phones": [
                {
                    "PhoneType": "DEFAULT",
                    "PhoneNumber": str(1_000_000 + n * 7919 % 8_999_999),
                    "PhoneAreaCode": str(2 + n % 8),
                    "PhoneCountryCode": "64",
                },
                {
                    "PhoneType": "MOBILE",
                    "PhoneNumber": "",
                    "PhoneAreaCode": "",
                    "PhoneCountryCode": "",
                },
            ],
            "IsSupplier": s.chance(0.35),
            "IsCustomer": s.chance(0.8),
            "DefaultCurrency": s.org.currency,
            "ContactGroups": [],
            "ContactPersons": [],
            "HasAttachments": False,
            "HasValidationErrors": False,
        }
        contacts.append(contact)
        _stamp(s, "Contacts", contact["ContactID"], s.day() + s.between(0, DAY_MS))
    return contacts


def _lines(s: _Org, sales: bool, count: int) -> Record:
    """Priced line items and the totals they make, as one partial document."""
    random = s.rng.random  # the hottest loop of the seed: no helper calls here
    roll = random()
    amount_types = "Exclusive" if roll < 0.8 else "Inclusive" if roll < 0.95 else "NoTax"
    rate_bp = 0 if amount_types == "NoTax" else basis_points(s.org.tax_rate)
    tax_type = "NONE" if amount_types == "NoTax" else default_tax_type(sales)
    item_lines = s.item_lines[sales]
    lines = []
    line_total = tax_total = 0
    for _ in range(count):
        if random() < 0.6:
            description, code, unit, account = item_lines[int(random() * len(item_lines))]
            quantity = 1 + int(random() * 11)
        else:
            description = _PRODUCTS[int(random() * len(_PRODUCTS))]
            description += " (services)" if sales else " (supplies)"
            code = ""
            unit = 500 + int(random() * 89_500)
            account = "200" if sales else _EXPENSE_CODES[int(random() * len(_EXPENSE_CODES))]
            quantity = 1 + int(random() * 4)
        amount = quantity * unit
        tax = line_tax(amount, rate_bp, amount_types)
        line = {
            "LineItemID": s.new_id(),
            "Description": description,
            "Quantity": float(quantity),
            "UnitAmount": unit / 100,
            "AccountCode": account,
            "TaxType": tax_type,
            "TaxAmount": tax / 100,
            "LineAmount": amount / 100,
            "Tracking": [],
        }
        if code:
            line["ItemCode"] = code
        lines.append(line)
        line_total += amount
        tax_total += tax
    return {
        "LineAmountTypes": amount_types,
        "LineItems": lines,
        **totals(line_total, tax_total, amount_types),
    }


def _document(s: _Org, sales: bool, lines: int) -> tuple[Record, int]:
    """Fields every transaction shares: contact, lines, totals, currency. And its date."""
    contact = s.pick(s.contacts)
    currency, rate = s.currency()
    date = s.day()
    record: Record = {
        "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
        "Date": ms_date(date),
        **_lines(s, sales, lines),
        "CurrencyCode": currency,
        "CurrencyRate": rate,
    }
    return record, date


def _invoice(s: _Org, n: int) -> Record:
    rng = s.rng
    sales = s.chance(0.7)
    record, date = _document(s, sales, s.pick((1, 1, 2, 2, 3, 4)))
    due = date + s.pick((7, 14, 20, 30)) * DAY_MS
    roll = rng.random()
    status = (
        "DRAFT"
        if roll < 0.05
        else "SUBMITTED"
        if roll < 0.09
        else "DELETED"
        if roll < 0.12
        else "VOIDED"
        if roll < 0.15
        else "PAID"
        if roll < 0.5
        else "AUTHORISED"
    )
    total = record["Total"]
    paid = total if status == "PAID" else 0.0
    if status == "AUTHORISED" and s.chance(0.3):
        paid = round(total * rng.uniform(0.1, 0.9), 2)
    invoice_id = s.new_id()
    record.update(
        {
            "Type": "ACCREC" if sales else "ACCPAY",
            "InvoiceID": invoice_id,
            "InvoiceNumber": f"INV-{n + 1:06d}" if sales else f"SUP-{s.between(1000, 99999)}",
            "Reference": f"PO {s.between(100, 9999)}" if s.chance(0.5) else "",
            "DueDate": ms_date(due),
            "Status": status,
            "SentToContact": sales and status not in ("DRAFT", "DELETED"),
            "AmountDue": round(total - paid, 2),
            "AmountPaid": paid,
            "AmountCredited": 0.0,
            "HasAttachments": False,
            "IsDiscounted": False,
            "Payments": [],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
            "HasErrors": False,
        }
    )
    _stamp(s, "Invoices", invoice_id, s.later(date))
    return record


def _payments(s: _Org) -> list[Record]:
    """Payments for every invoice with ``AmountPaid``, in one or two parts; a few deleted."""
    payments = []
    for invoice in s.invoices:
        paid = invoice["AmountPaid"]
        if paid <= 0:
            continue
        parts = (
            [paid] if s.chance(0.7) or paid < 1 else [round(paid / 2, 2), paid - round(paid / 2, 2)]
        )
        when = s.stamps["Invoices"][invoice["InvoiceID"]]  # paying changed the invoice
        for part in parts:
            payment = _payment(s, invoice, round(part, 2), when, "AUTHORISED")
            payments.append(payment)
            invoice["Payments"].append(_payment_summary(payment))
        if invoice["Status"] == "PAID":
            invoice["FullyPaidOnDate"] = ms_date(day_ms(when))
        if s.chance(0.05):  # a payment entered by mistake and deleted
            payments.append(_payment(s, invoice, round(paid / 3, 2), when, "DELETED"))
    return payments


def _payment(s: _Org, invoice: Record, amount: float, when: int, status: str) -> Record:
    bank = s.bank(invoice["CurrencyCode"])
    payment_id = s.new_id()
    payment: Record = {
        "PaymentID": payment_id,
        "Date": ms_date(day_ms(when)),
        "BankAmount": amount,
        "Amount": amount,
        "CurrencyRate": invoice["CurrencyRate"],
        "Reference": f"{invoice['InvoiceNumber']} payment",
        "IsReconciled": s.chance(0.6),
        "Status": status,
        "PaymentType": "ACCRECPAYMENT" if invoice["Type"] == "ACCREC" else "ACCPAYPAYMENT",
        "HasAccount": True,
        "HasValidationErrors": False,
        "Account": {"AccountID": bank["AccountID"], "Code": bank["Code"]},
        "Invoice": invoice_summary(invoice),
    }
    _stamp(s, "Payments", payment_id, when)
    return payment


def invoice_summary(invoice: Record) -> Record:
    """How a Payment or allocation names its invoice."""
    return {
        "InvoiceID": invoice["InvoiceID"],
        "InvoiceNumber": invoice["InvoiceNumber"],
        "Type": invoice["Type"],
        "Contact": invoice["Contact"],
        "CurrencyCode": invoice["CurrencyCode"],
    }


def _payment_summary(payment: Record) -> Record:
    return {
        "PaymentID": payment["PaymentID"],
        "Date": payment["Date"],
        "Amount": payment["Amount"],
        "Reference": payment["Reference"],
        "CurrencyRate": payment["CurrencyRate"],
        "HasAccount": True,
        "HasValidationErrors": False,
    }


def _credit_note(s: _Org, n: int) -> Record:
    rng = s.rng
    sales = s.chance(0.7)
    record, date = _document(s, sales, s.pick((1, 1, 2)))
    roll = rng.random()
    status = "DRAFT" if roll < 0.05 else "VOIDED" if roll < 0.1 else "AUTHORISED"
    credit_id = s.new_id()
    number = f"CN-{n + 1:05d}"
    record.update(
        {
            "Type": "ACCRECCREDIT" if sales else "ACCPAYCREDIT",
            "CreditNoteID": credit_id,
            "CreditNoteNumber": number,
            "Reference": "Returned goods" if s.chance(0.5) else "Discount agreed",
            "Status": status,
            "RemainingCredit": record["Total"] if status == "AUTHORISED" else 0.0,
            "Allocations": [],
            "Payments": [],
            "SentToContact": False,
            "HasAttachments": False,
            "HasErrors": False,
        }
    )
    stamp = s.later(date)
    if status == "AUTHORISED" and s.chance(0.5):
        stamp = max(stamp, _allocate(s, record, stamp))
    _stamp(s, "CreditNotes", credit_id, stamp)
    return record


def _allocate(s: _Org, credit: Record, when: int) -> int:
    """Apply a credit note to an open invoice of the same side and currency, if one turns up."""
    kind = "ACCREC" if credit["Type"] == "ACCRECCREDIT" else "ACCPAY"
    for _ in range(8):
        invoice = s.pick(s.invoices)
        if (
            invoice["Type"] == kind
            and invoice["Status"] == "AUTHORISED"
            and invoice["CurrencyCode"] == credit["CurrencyCode"]
            and invoice["AmountDue"] >= credit["Total"]
        ):
            break
    else:
        return when
    amount = credit["Total"]
    credit["Allocations"].append(
        {"Amount": amount, "Date": ms_date(day_ms(when)), "Invoice": invoice_summary(invoice)}
    )
    credit["RemainingCredit"] = 0.0
    credit["Status"] = "PAID"
    invoice["AmountCredited"] = round(invoice["AmountCredited"] + amount, 2)
    invoice["AmountDue"] = round(invoice["AmountDue"] - amount, 2)
    invoice["CreditNotes"].append(
        {
            "CreditNoteID": credit["CreditNoteID"],
            "CreditNoteNumber": credit["CreditNoteNumber"],
            "AppliedAmount": amount,
            "Total": credit["Total"],
        }
    )
    if invoice["AmountDue"] <= 0:
        invoice["Status"] = "PAID"
    _stamp(s, "Invoices", invoice["InvoiceID"], when)
    return when


def _bank_transaction(s: _Org) -> Record:
    rng = s.rng
    receive = s.chance(0.4)
    record, date = _document(s, receive, s.pick((1, 1, 2)))
    bank = s.bank(record["CurrencyCode"])
    record["CurrencyCode"] = bank["CurrencyCode"]
    if record["CurrencyCode"] == s.org.currency:
        record["CurrencyRate"] = 1.0
    roll = rng.random()
    transaction_id = s.new_id()
    record.update(
        {
            "Type": "RECEIVE" if receive else "SPEND",
            "BankTransactionID": transaction_id,
            "BankAccount": {
                "AccountID": bank["AccountID"],
                "Code": bank["Code"],
                "Name": bank["Name"],
            },
            "IsReconciled": s.chance(0.7),
            "Reference": f"{'DEP' if receive else 'CARD'}-{s.between(10000, 99999)}",
            "Status": "DELETED" if roll < 0.04 else "VOIDED" if roll < 0.06 else "AUTHORISED",
            "HasAttachments": False,
        }
    )
    _stamp(s, "BankTransactions", transaction_id, s.later(date, 10))
    return record


def _purchase_order(s: _Org, n: int) -> Record:
    rng = s.rng
    record, date = _document(s, False, s.pick((1, 2, 3)))
    roll = rng.random()
    status = (
        "DRAFT"
        if roll < 0.15
        else "SUBMITTED"
        if roll < 0.25
        else "DELETED"
        if roll < 0.3
        else "BILLED"
        if roll < 0.6
        else "AUTHORISED"
    )
    order_id = s.new_id()
    record.update(
        {
            "PurchaseOrderID": order_id,
            "PurchaseOrderNumber": f"PO-{n + 1:05d}",
            "Reference": f"Order {s.between(100, 999)}",
            "DeliveryDate": ms_date(date + s.between(3, 30) * DAY_MS),
            "DeliveryAddress": f"{s.between(1, 400)} Dock Road, {s.pick(_CITIES)}",
            "AttentionTo": s.pick(_FIRST_NAMES),
            "Telephone": str(s.between(1000000, 9999999)),
            "DeliveryInstructions": "Leave at reception",
            "Status": status,
            "SentToContact": status not in ("DRAFT", "DELETED"),
            "HasAttachments": False,
            "TotalDiscount": 0.0,
        }
    )
    _stamp(s, "PurchaseOrders", order_id, s.later(date, 20))
    return record
