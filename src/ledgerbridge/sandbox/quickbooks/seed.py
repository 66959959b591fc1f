"""Deterministic, realistic QuickBooks companies: two realms with different home currencies.

Everything but the timestamps comes from ``rng``; records were created over the past
year, so change data capture (30 days back at most) sees the recent ones. Amounts are
worked in integer cents, for speed: 100,000 records per entity take seconds.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ledgerbridge.collector import collector_paused
from ledgerbridge.sandbox.quickbooks.building import ACCOUNT_CLASSIFICATION, DELETED_SUFFIX
from ledgerbridge.sandbox.quickbooks.company import (
    PROVIDER,
    Company,
    Realm,
    Shelf,
    companies,
    name_key,
    shelf,
)
from ledgerbridge.sandbox.quickbooks.dates import format_date
from ledgerbridge.sandbox.quickbooks.entities import PEOPLE, Record, currency_ref, exchange_rate
from ledgerbridge.sandbox.settings import account_profiles
from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.store import Account
from ledgerbridge.unified import currency_exponent

DAY_MS = 86_400_000
HISTORY_MS = 365 * DAY_MS
DEACTIVATED_EVERY = 30  # one name-list record in 30 has been deactivated

REALM_ID_BASE = 9341453000000000  # realm n is 9341453000000000 + n
REALMS = (
    Realm(
        realm_id="9341453000000001",
        name="Harbourview Outfitters LLC",
        currency="USD",
        country="US",
        time_zone="America/Los_Angeles",
        offset_minutes=-7 * 60,
        tax_rate=Decimal("0.0825"),
        address={
            "Line1": "2500 García Avenue",
            "City": "Mountain View",
            "CountrySubDivisionCode": "CA",
            "PostalCode": "94043",
            "Country": "US",
        },
        foreign_currencies=("CAD", "EUR", "GBP"),
    ),
    Realm(
        realm_id="9341453000000002",
        name="Kōwhai & Wattle Café Supplies Pty Ltd",
        currency="AUD",
        country="AU",
        time_zone="Australia/Sydney",
        offset_minutes=10 * 60,
        tax_rate=Decimal("0.10"),
        address={
            "Line1": "88 Crown Street",
            "City": "Surry Hills",
            "CountrySubDivisionCode": "NSW",
            "PostalCode": "2010",
            "Country": "AU",
        },
        foreign_currencies=("NZD", "USD", "JPY"),
    ),
)

# (role or "", Name, AccountType, AccountSubType)
CHART = (
    ("bank", "Checking", "Bank", "Checking"),
    ("", "Savings", "Bank", "Savings"),
    ("ar", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("undeposited", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("inventory", "Inventory Asset", "Other Current Asset", "Inventory"),
    ("", "Office Equipment", "Fixed Asset", "MachineryAndEquipment"),
    ("ap", "Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("", "Visa Business Card", "Credit Card", "CreditCard"),
    ("tax", "Sales Tax Payable", "Other Current Liability", "GlobalTaxPayable"),
    ("", "Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
    ("", "Retained Earnings", "Equity", "RetainedEarnings"),
    ("income", "Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("", "Services", "Income", "ServiceFeeIncome"),
    ("cogs", "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("expense", "Purchases", "Expense", "SuppliesMaterials"),
    ("", "Advertising & Marketing", "Expense", "AdvertisingPromotional"),
    ("", "Rent or Lease", "Expense", "RentOrLeaseOfBuildings"),
    ("", "Utilities", "Expense", "Utilities"),
    ("", "Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses"),
    ("", "Travel — Déplacements", "Expense", "Travel"),
    ("", "Bank Charges", "Expense", "BankCharges"),
    ("", "Interest Earned", "Other Income", "InterestEarned"),
    ("", "Petty Cash", "Bank", "CashOnHand"),  # deactivated below
)
# fmt: off
EXPENSE_ROLES_FOR_BILLS = (
    "Advertising & Marketing", "Rent or Lease", "Utilities", "Office Expenses",
    "Travel — Déplacements", "Bank Charges", "Purchases",
)
GIVEN = (
    "Amélie", "Björn", "Chloé", "Dmitri", "Élodie", "François", "Günther", "Hana", "Ingrid",
    "José", "Kenji", "Léa", "Maëlle", "Nikolaj", "Øystein", "Priya", "Renée", "Søren", "Tomás",
    "Văn", "Wojciech", "Xiùyīng", "Yusuf", "Zoë", "Aroha", "Liam", "Olivia", "Noah", "Emma",
    "Mateo", "Aisha", "Mei", "Oliver", "Grace", "Ruby", "Sione",
)
FAMILY = (
    "Müller", "Nguyễn", "O'Brien", "Søndergaard", "García", "Kowalski", "Tanaka", "Smith",
    "Patel", "Dubois", "Rossi", "Björklund", "Papadopoulos", "Fernández", "Haddad", "Kim",
    "Wang", "Johansson", "MacDonald", "Ōtsuka", "Brown", "Wilson", "Taylor", "Martin", "Lee",
    "Walker", "Te Rangi", "Ngata",
)
BUSINESS_WORDS = (
    "Golden", "Northern", "Blue Harbour", "Kiwi", "Maple", "Summit", "Coastal", "Urban",
    "Rivière", "Fjord", "Sakura", "Alpine", "Copper", "Emerald", "Silver Fern", "Red Rock",
    "Evergreen", "Zürich", "São Paulo", "Kōwhai",
)
BUSINESS_KINDS = (
    "Bakery", "Hardware", "Outfitters", "Design Studio", "Plumbing", "Logistics", "Florist",
    "Coffee Roasters", "Bicycles", "Books", "Brewing Co.", "Dental", "Consulting", "Electrical",
    "Landscaping", "Catering", "Pâtisserie", "Tischlerei", "Textiles", "Ceramics",
)
BUSINESS_FORMS = (
    "LLC", "Inc.", "Ltd", "Pty Ltd", "GmbH", "& Co.", "S.à r.l.", "AB", "KK",
)
PRODUCTS = (
    "Espresso beans", "Café au lait mugs", "Crème brûlée torch", "Smørrebrød board", "Piñata",
    "Jalapeño sauce", "Hiking boots", "Rain shell", "Wool beanie", "Trail map", "Water bottle",
    "Headlamp", "Camp stove", "Sleeping bag", "Consulting hour", "Installation",
    "Gift wrapping", "Delivery", "Repair service", "Barista training", "Matcha whisk",
    "Tea towel", "Ceramic bowl", "Bento box",
)
PRODUCT_STYLES = (
    "Classic", "Deluxe", "Mini", "Pro", "Eco", "Grande", "Petit", "Heritage", "Kids'", "Trail",
)
# fmt: on


# Nested objects many records have in common are shared, not copied: records are never
# changed in place (writes build new ones), and sharing keeps 100,000 invoices small.
TAXED = {"value": "TAX"}
NOT_TAXED = {"value": "NON"}
NO_TAX = {"TotalTax": 0}
SUBTOTAL_DETAIL: Record = {}


@lru_cache(maxsize=4096)
def _email_slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isascii() and c.isalnum())[:20] or "contact"


@dataclass
class _Seeder:
    """Builds one company's records; the lists hold what later records refer to."""

    state: SandboxState
    rng: random.Random
    company: Company
    size: int
    now_ms: int
    accounts: dict[str, Record] = field(default_factory=dict)  # by Name
    items: list[Record] = field(default_factory=list)
    customers: list[Record] = field(default_factory=list)
    vendors: list[Record] = field(default_factory=list)
    balances: dict[tuple[str, str], int] = field(default_factory=dict)  # (entity, Id) -> cents
    name_counts: dict[tuple[str, str], int] = field(default_factory=dict)  # base name -> taken
    shelves: dict[str, Shelf] = field(default_factory=dict)
    refs: dict[Any, dict[str, str]] = field(default_factory=dict)  # shared reference objects

    @property
    def realm(self) -> Realm:
        return self.company.realm

    def timeline(self, count: int) -> Iterator[int]:
        """``count`` creation times spread over the past year, oldest first."""
        step = HISTORY_MS // max(count, 1)
        start = self.now_ms - HISTORY_MS - DAY_MS
        for i in range(count):
            yield start + i * step + int(self.rng.random() * step)

    def later(self, ms: int, max_days: int) -> int:
        """A moment after ``ms``, still in the past."""
        latest = min(ms + max_days * DAY_MS, self.now_ms - 1000)
        return ms + 1000 + int(self.rng.random() * max(latest - ms - 1000, 0))

    def shelf(self, entity: str) -> Shelf:
        found = self.shelves.get(entity)
        if found is None:
            found = self.shelves[entity] = shelf(self.state, self.realm.realm_id, entity)
        return found

    def store(self, entity: str, record: Record, created_ms: int, updated_ms: int) -> None:
        record["domain"] = "QBO"
        record["sparse"] = False
        created = self.company.time(created_ms)
        updated = created if updated_ms == created_ms else self.company.time(updated_ms)
        record["MetaData"] = {"CreateTime": created, "LastUpdatedTime": updated}
        if entity in PEOPLE:
            self.company.names[name_key(entity, record["DisplayName"])] = (entity, record["Id"])
        elif entity in ("Item", "Account"):
            self.company.names[name_key(entity, record["Name"])] = (entity, record["Id"])
        self.shelf(entity).put(record, updated_ms)

    def store_deleted(self, entity: str, record_id: str, created_ms: int) -> None:
        """A transaction someone deleted recently: only its stub remains."""
        deleted_ms = max(self.later(created_ms, 400), self.now_ms - 25 * DAY_MS)
        stub = {
            "Id": record_id,
            "status": "Deleted",
            "domain": "QBO",
            "MetaData": {"LastUpdatedTime": self.company.time(deleted_ms)},
        }
        self.shelf(entity).put(stub, deleted_ms)

    def ref(self, record: Record) -> dict[str, str]:
        name = str(record.get("DisplayName") or record.get("Name"))
        key = (record["Id"], name)
        found = self.refs.get(key)
        if found is None:
            found = self.refs[key] = {"value": record["Id"], "name": name}
        return found

    def currency_ref(self, code: str) -> dict[str, str]:
        found = self.refs.get(code)
        if found is None:
            found = self.refs[code] = currency_ref(code)
        return found

    def date(self, ms: int) -> str:
        return format_date(ms, self.realm.offset_minutes)

    def unique_name(self, base: str, entity: str) -> str:
        """``base``, or ``base #n`` when that name is taken (names are unique per company)."""
        key = name_key(entity, base)
        n = self.name_counts.get(key, 0)
        name = base
        while name_key(entity, name) in self.company.names:
            n += 1
            name = f"{base} #{n + 1}"
        self.name_counts[key] = n
        return name

    def currency(self) -> str:
        if self.rng.random() < 0.8:
            return self.realm.currency
        return self.rng.choice(self.realm.foreign_currencies)

    def rate(self, currency: str) -> float:
        return float(exchange_rate(currency, self.realm.currency))

    @staticmethod
    def scale(currency: str) -> int:
        """Minor units per unit of ``currency``: amounts are whole minor units (yen have none)."""
        return int(10 ** currency_exponent(currency))

    # --- name lists --------------------------------------------------------------------

    def seed_accounts(self) -> None:
        created = self.now_ms - HISTORY_MS - 2 * DAY_MS
        for number, (role, name, account_type, sub_type) in enumerate(CHART, start=1):
            active = name != "Petty Cash"
            record: Record = {
                "Id": str(number),
                "SyncToken": "0" if active else "1",
                "Name": name if active else name + DELETED_SUFFIX,
                "SubAccount": False,
                "FullyQualifiedName": name if active else name + DELETED_SUFFIX,
                "Active": active,
                "Classification": ACCOUNT_CLASSIFICATION[account_type],
                "AccountType": account_type,
                "AccountSubType": sub_type,
                "CurrentBalance": 0,
                "CurrentBalanceWithSubAccounts": 0,
                "CurrencyRef": self.currency_ref(self.realm.currency),
            }
            if role:
                self.company.default_accounts[role] = record["Id"]
            self.accounts[name] = record
            updated = created if active else self.later(created, 300)
            self.store("Account", record, created, updated)
        self.company.next_ids["Account"] = len(CHART) + 1

    def seed_items(self) -> None:
        income, expense = self.accounts["Sales of Product Income"], self.accounts["Purchases"]
        for i, created in enumerate(self.timeline(self.size), start=1):
            base = f"{self.rng.choice(PRODUCT_STYLES)} {self.rng.choice(PRODUCTS)}"
            name = self.unique_name(base, "Item")
            price = self.rng.randrange(200, 25_000)
            active = i % DEACTIVATED_EVERY != 0
            shown = name if active else name + DELETED_SUFFIX
            record: Record = {
                "Id": str(i),
                "SyncToken": "0" if active else "1",
                "Name": shown,
                "FullyQualifiedName": shown,
                "Sku": f"SKU-{i:06d}",
                "Description": f"{name}, sold by {self.realm.name}",
                "Active": active,
                "Taxable": self.rng.random() < 0.6,
                "UnitPrice": price / 100,
                "Type": "Service" if "service" in name.lower() else "NonInventory",
                "IncomeAccountRef": self.ref(income),
                "PurchaseCost": round(price * 0.55) / 100,
                "ExpenseAccountRef": self.ref(expense),
                "TrackQtyOnHand": False,
            }
            if active:
                self.items.append(record)
            updated = created if active else self.later(created, 300)
            self.store("Item", record, created, updated)
        self.company.next_ids["Item"] = self.size + 1

    def seed_people(self, entity: str) -> None:
        people = self.customers if entity == "Customer" else self.vendors
        for i, created in enumerate(self.timeline(self.size), start=1):
            record = self.person(entity, i)
            if record["Active"]:
                people.append(record)
                updated = created if self.rng.random() < 0.9 else self.later(created, 365)
            else:
                record["SyncToken"] = "1"
                updated = self.later(created, 365)
            self.store(entity, record, created, updated)
        self.company.next_ids[entity] = self.size + 1

    def person(self, entity: str, number: int) -> Record:
        rng = self.rng
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        business = rng.random() < 0.6
        if business:
            company = (
                f"{rng.choice(BUSINESS_WORDS)} {rng.choice(BUSINESS_KINDS)} "
                f"{rng.choice(BUSINESS_FORMS)}"
            )
            name = self.unique_name(company, entity)
        else:
            company = ""
            name = self.unique_name(f"{given} {family}", entity)
        active = number % DEACTIVATED_EVERY != 0
        shown = name if active else name + DELETED_SUFFIX
        slug = _email_slug(given if not business else company)
        record: Record = {
            "Id": str(number),
            "SyncToken": "0",
            "GivenName": given,
            "FamilyName": family,
            "DisplayName": shown,
            "FullyQualifiedName": shown,
            "PrintOnCheckName": name,
            "Active": active,
            "PrimaryEmailAddr": {"Address": f"{slug}{number}@example.com"},
            "PrimaryPhone": {"FreeFormNumber": f"(555) {rng.randrange(100, 999)}-{number:04d}"},
            "BillAddr": {
                "Id": str(number + 1000),
                "Line1": f"{rng.randrange(1, 999)} {rng.choice(FAMILY)} Street",
                "City": rng.choice(("Portland", "Québec", "München", "Auckland", "Sydney")),
                "PostalCode": f"{rng.randrange(1000, 99999)}",
            },
            "CurrencyRef": self.currency_ref(self.currency()),
            "Balance": 0,
        }
        if company:
            record["CompanyName"] = company
        if entity == "Customer":
            record.update(
                BalanceWithJobs=0,
                Taxable=rng.random() < 0.7,
                Job=False,
                BillWithParent=False,
                PreferredDeliveryMethod=rng.choice(("Print", "Email", "None")),
            )
            if rng.random() < 0.1:
                record["Notes"] = "Prefers invoices in their own language — merci / danke."
        else:
            record["AcctNum"] = f"V-{number:06d}"
            if self.realm.country == "US":
                record["Vendor1099"] = rng.random() < 0.2
        return record

    # --- transactions ------------------------------------------------------------------

    def sales_lines(self, customer: Record) -> tuple[list[Record], int, int]:
        """Item lines, maybe a discount, and the subtotal line; (lines, subtotal, tax)."""
        rng = self.rng
        scale = self.scale(customer["CurrencyRef"]["value"])
        lines: list[Record] = []
        subtotal = taxable = 0
        for n in range(1, rng.choice((1, 1, 2, 2, 3, 4)) + 1):
            item = rng.choice(self.items)
            qty = rng.randrange(1, 10)
            price = round(item["UnitPrice"] * 100)
            taxed = bool(item["Taxable"] and customer.get("Taxable"))
            amount = qty * price
            subtotal += amount
            taxable += amount if taxed else 0
            lines.append(
                {
                    "Id": str(n),
                    "LineNum": n,
                    "Description": item["Description"],
                    "Amount": amount / scale,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": self.ref(item),
                        "UnitPrice": price / scale,
                        "Qty": qty,
                        "TaxCodeRef": TAXED if taxed else NOT_TAXED,
                    },
                }
            )
        if rng.random() < 0.05:
            discount = subtotal // 10
            subtotal -= discount
            lines.append(
                {
                    "Id": str(len(lines) + 1),
                    "LineNum": len(lines) + 1,
                    "Amount": discount / scale,
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
                }
            )
        lines.append(
            {
                "Amount": subtotal / scale,
                "DetailType": "SubTotalLineDetail",
                "SubTotalLineDetail": SUBTOTAL_DETAIL,
            }
        )
        tax = round(taxable * float(self.realm.tax_rate))
        return lines, subtotal, tax

    def tax_detail(self, tax: int, scale: int) -> Record:
        if not tax:
            return NO_TAX
        return {
            "TxnTaxCodeRef": {"value": "2"},
            "TotalTax": tax / scale,
            "TaxLine": [
                {
                    "Amount": tax / scale,
                    "DetailType": "TaxLineDetail",
                    "TaxLineDetail": {
                        "TaxRateRef": {"value": "3"},
                        "PercentBased": True,
                        "TaxPercent": float(self.realm.tax_rate * 100),
                    },
                }
            ],
        }

    def seed_invoices_and_payments(self) -> None:
        rng = self.rng
        payments: list[tuple[int, Record]] = []  # (received ms, payment without Id)
        undeposited = self.ref(self.accounts["Undeposited Funds"])
        for i, created in enumerate(self.timeline(self.size), start=1):
            roll = rng.random()
            if roll < 0.015:
                self.store_deleted("Invoice", str(i), created)
                continue
            customer = rng.choice(self.customers)
            lines, subtotal, tax = self.sales_lines(customer)
            amount = subtotal + tax
            currency = customer["CurrencyRef"]["value"]
            rate, scale = self.rate(currency), self.scale(currency)
            record: Record = {
                "Id": str(i),
                "SyncToken": "0",
                "DocNumber": str(1000 + i),
                "TxnDate": self.date(created),
                "DueDate": self.date(created + 30 * DAY_MS),
                "CurrencyRef": self.currency_ref(currency),
                "ExchangeRate": rate,
                "CustomerRef": self.ref(customer),
                "Line": lines,
                "TxnTaxDetail": self.tax_detail(tax, scale),
                "TotalAmt": amount / scale,
                "Balance": amount / scale,
                "EmailStatus": rng.choice(("NotSet", "EmailSent", "NeedToSend")),
                "PrintStatus": "NotSet",
                "ApplyTaxAfterDiscount": False,
            }
            if customer.get("PrimaryEmailAddr"):
                record["BillEmail"] = customer["PrimaryEmailAddr"]
            updated, balance = created, amount
            if roll < 0.035:  # voided
                record.update(
                    TotalAmt=0,
                    Balance=0,
                    PrivateNote="Voided",
                    Line=[{**line, "Amount": 0} for line in lines],
                    TxnTaxDetail=NO_TAX,
                    SyncToken="1",
                )
                updated, balance = self.later(created, 60), 0
            elif roll < 0.55 and amount:  # paid: in full, in two instalments, or in part
                if roll < 0.3:
                    instalments = [amount]
                elif roll < 0.4:
                    instalments = [amount // 2, amount - amount // 2]
                else:
                    instalments = [round(amount * rng.uniform(0.2, 0.8))]
                for paid in instalments:
                    received = self.later(updated, 45)
                    payments.append((received, self.payment(customer, paid, record, undeposited)))
                    balance -= paid
                    updated = received
                record["SyncToken"] = str(len(instalments))
                record["Balance"] = balance / scale
            if currency != self.realm.currency:
                record["HomeTotalAmt"] = round(record["TotalAmt"] * rate, 2)
                record["HomeBalance"] = round(balance / scale * rate, 2)
            key = ("Customer", customer["Id"])
            self.balances[key] = self.balances.get(key, 0) + balance
            self.store("Invoice", record, created, updated)
        self.company.next_ids["Invoice"] = self.size + 1
        self.company.next_doc_numbers["Invoice"] = 1001 + self.size
        self.seed_payments(payments)

    def payment(self, customer: Record, cents: int, invoice: Record, account: Record) -> Record:
        scale = self.scale(customer["CurrencyRef"]["value"])
        return {
            "CustomerRef": self.ref(customer),
            "CurrencyRef": customer["CurrencyRef"],
            "ExchangeRate": invoice["ExchangeRate"],
            "DepositToAccountRef": account,
            "TotalAmt": cents / scale,
            "UnappliedAmt": 0,
            "ProcessPayment": False,
            "Line": [
                {
                    "Amount": cents / scale,
                    "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                }
            ],
        }

    def seed_payments(self, payments: list[tuple[int, Record]]) -> None:
        """Store payments in the order they were received, and link invoices back to them."""
        invoices = self.state.store.collection(PROVIDER, self.realm.realm_id, "Invoice")
        payments.sort(key=lambda pair: pair[0])
        for number, (received, payment) in enumerate(payments, start=1):
            payment_id = str(number)
            payment.update(
                Id=payment_id,
                SyncToken="0",
                TxnDate=self.date(received),
                PaymentRefNum=f"P{number:06d}",
            )
            if number % 25 == 0:  # a deposit received but never applied to an invoice
                payment["UnappliedAmt"] = payment["TotalAmt"]
                payment.pop("Line")
                invoice_id = None
            else:
                invoice_id = payment["Line"][0]["LinkedTxn"][0]["TxnId"]
            self.store("Payment", payment, received, received)
            if invoice_id is not None:
                invoice = invoices.get(invoice_id)
                if invoice is not None:
                    invoice.setdefault("LinkedTxn", []).append(
                        {"TxnId": payment_id, "TxnType": "Payment"}
                    )
        self.company.next_ids["Payment"] = len(payments) + 1

    def expense_lines(self, by_item: bool, scale: int) -> tuple[list[Record], int]:
        rng = self.rng
        lines: list[Record] = []
        total = 0
        for n in range(1, rng.choice((1, 1, 2, 3)) + 1):
            if by_item:
                item = rng.choice(self.items)
                qty = rng.randrange(1, 20)
                price = round(item["PurchaseCost"] * 100)
                amount = qty * price
                detail: Record = {
                    "ItemRef": self.ref(item),
                    "UnitPrice": price / scale,
                    "Qty": qty,
                    "BillableStatus": "NotBillable",
                    "TaxCodeRef": NOT_TAXED,
                }
                kind = "ItemBasedExpenseLineDetail"
            else:
                account = self.accounts[rng.choice(EXPENSE_ROLES_FOR_BILLS)]
                amount = rng.randrange(500, 250_000)
                detail = {
                    "AccountRef": self.ref(account),
                    "BillableStatus": "NotBillable",
                    "TaxCodeRef": NOT_TAXED,
                }
                kind = "AccountBasedExpenseLineDetail"
            total += amount
            lines.append(
                {
                    "Id": str(n),
                    "LineNum": n,
                    "Amount": amount / scale,
                    "DetailType": kind,
                    kind: detail,
                }
            )
        return lines, total

    def seed_purchases(self, entity: str) -> None:
        rng = self.rng
        ap = self.ref(self.accounts["Accounts Payable (A/P)"])
        for i, created in enumerate(self.timeline(self.size), start=1):
            if rng.random() < 0.015:
                self.store_deleted(entity, str(i), created)
                continue
            vendor = rng.choice(self.vendors)
            by_item = entity == "PurchaseOrder" or rng.random() < 0.3
            currency = vendor["CurrencyRef"]["value"]
            rate, scale = self.rate(currency), self.scale(currency)
            lines, amount = self.expense_lines(by_item, scale)
            record: Record = {
                "Id": str(i),
                "SyncToken": "0",
                "TxnDate": self.date(created),
                "CurrencyRef": self.currency_ref(currency),
                "ExchangeRate": rate,
                "VendorRef": self.ref(vendor),
                "APAccountRef": ap,
                "Line": lines,
                "TotalAmt": amount / scale,
            }
            updated = created
            if entity == "Bill":
                record["DocNumber"] = f"INV-{rng.randrange(10_000, 99_999)}"
                record["DueDate"] = self.date(created + 30 * DAY_MS)
                balance = amount if rng.random() < 0.5 else rng.choice((0, amount // 2))
                record["Balance"] = balance / scale
                if balance != amount:
                    record["SyncToken"] = "1"
                    updated = self.later(created, 30)
                key = ("Vendor", vendor["Id"])
                self.balances[key] = self.balances.get(key, 0) + balance
                if currency != self.realm.currency:
                    record["HomeBalance"] = round(balance / scale * rate, 2)
            else:
                record["DocNumber"] = str(2000 + i)
                closed = created < self.now_ms - 60 * DAY_MS and rng.random() < 0.7
                record["POStatus"] = "Closed" if closed else "Open"
                record["EmailStatus"] = "NotSet"
                record["PrintStatus"] = "NotSet"
            self.store(entity, record, created, updated)
        self.company.next_ids[entity] = self.size + 1
        if entity == "PurchaseOrder":
            self.company.next_doc_numbers[entity] = 2001 + self.size

    def settle_balances(self) -> None:
        """Give customers and vendors the balance of their open invoices and bills."""
        for (entity, party_id), cents in self.balances.items():
            collection = self.state.store.collection(PROVIDER, self.realm.realm_id, entity)
            record, stamp = collection.get(party_id), collection.stamp_of(party_id)
            if record is None or stamp is None:
                continue
            scale = self.scale(record["CurrencyRef"]["value"])
            record["Balance"] = cents / scale
            if entity == "Customer":
                record["BalanceWithJobs"] = cents / scale


def seed(state: SandboxState, rng: random.Random, size: int) -> None:
    """Create the QuickBooks companies and ``size`` records per entity in each."""
    # Millions of long-lived objects: the cycle collector would rescan them again and again
    # while they are built, and on every full collection while the sandbox serves. Pause it,
    # then freeze what exists (records have no cycles; refcounting still frees them).
    with collector_paused():
        gc.unfreeze()
        try:
            _seed_companies(state, rng, max(size, 1))
        finally:
            gc.freeze()


def _numbered(realm: Realm, n: int) -> Realm:
    return replace(realm, realm_id=str(REALM_ID_BASE + n), name=f"{realm.name} {n}")


def _seed_companies(state: SandboxState, rng: random.Random, size: int) -> None:
    found = companies(state)
    found.clear()
    now_ms = state.clock.time_ms()
    for realm in account_profiles(REALMS, state.settings.accounts, _numbered):
        state.store.add_account(Account(PROVIDER, realm.realm_id, realm.name, realm.currency))
        company = Company(realm=realm, created_ms=now_ms - HISTORY_MS - 2 * DAY_MS)
        found[realm.realm_id] = company
        seeder = _Seeder(state, rng, company, size, now_ms)
        seeder.seed_accounts()
        seeder.seed_items()
        seeder.seed_people("Customer")
        seeder.seed_people("Vendor")
        seeder.seed_invoices_and_payments()
        seeder.seed_purchases("Bill")
        seeder.seed_purchases("PurchaseOrder")
        seeder.settle_balances()
