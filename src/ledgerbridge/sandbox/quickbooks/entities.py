"""What the emulator knows about each QuickBooks entity: kind, filterable fields, money.

Records are stored exactly as QuickBooks serialises them in JSON (the field names of
Intuit's XSD: ``Id``, ``SyncToken``, ``MetaData``, ``Line``, ``CustomerRef`` ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

Record = dict[str, Any]

NAME_LISTS = ("Customer", "Vendor", "Item", "Account")
TRANSACTIONS = ("Invoice", "Bill", "Payment", "PurchaseOrder")
OBJECT_TYPES = NAME_LISTS + TRANSACTIONS
VOIDABLE = ("Invoice", "Payment")
# Customers and vendors share one namespace of display names, as in QuickBooks.
PEOPLE = ("Customer", "Vendor")

# The path segment QuickBooks uses for each entity: /v3/company/{realmId}/invoice
BY_PATH_NAME = {entity.lower(): entity for entity in OBJECT_TYPES}

FieldKind = Literal["id", "string", "bool", "number", "date", "datetime"]

_COMMON: dict[str, FieldKind] = {
    "Id": "id",
    "MetaData.CreateTime": "datetime",
    "MetaData.LastUpdatedTime": "datetime",
}
_PERSON: dict[str, FieldKind] = {
    "DisplayName": "string",
    "GivenName": "string",
    "FamilyName": "string",
    "CompanyName": "string",
    "FullyQualifiedName": "string",
    "PrimaryEmailAddr": "string",
    "Active": "bool",
    "Balance": "number",
}
_TRANSACTION: dict[str, FieldKind] = {
    "DocNumber": "string",
    "TxnDate": "date",
    "TotalAmt": "number",
}

# The fields a WHERE or ORDERBY may name, per entity, and how their values compare.
FILTERABLE: dict[str, dict[str, FieldKind]] = {
    "Customer": {**_COMMON, **_PERSON},
    "Vendor": {**_COMMON, **_PERSON},
    "Item": {
        **_COMMON,
        "Name": "string",
        "FullyQualifiedName": "string",
        "Sku": "string",
        "Type": "string",
        "Active": "bool",
        "UnitPrice": "number",
    },
    "Account": {
        **_COMMON,
        "Name": "string",
        "FullyQualifiedName": "string",
        "AccountType": "string",
        "AccountSubType": "string",
        "Classification": "string",
        "Active": "bool",
        "CurrentBalance": "number",
    },
    "Invoice": {
        **_COMMON,
        **_TRANSACTION,
        "DueDate": "date",
        "CustomerRef": "string",
        "Balance": "number",
    },
    "Bill": {
        **_COMMON,
        **_TRANSACTION,
        "DueDate": "date",
        "VendorRef": "string",
        "Balance": "number",
    },
    "Payment": {**_COMMON, **_TRANSACTION, "CustomerRef": "string"},
    "PurchaseOrder": {**_COMMON, **_TRANSACTION, "VendorRef": "string", "POStatus": "string"},
}

CURRENCY_NAMES = {
    "USD": "United States Dollar",
    "AUD": "Australian Dollar",
    "CAD": "Canadian Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "NZD": "New Zealand Dollar",
    "JPY": "Japanese Yen",
}

# Units of a company's home currency per unit of the foreign one (fixed, for the emulator).
_USD_VALUE = {
    "USD": Decimal("1"),
    "AUD": Decimal("0.66"),
    "CAD": Decimal("0.73"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "NZD": Decimal("0.61"),
    "JPY": Decimal("0.0067"),
}

CENT = Decimal("0.01")


def currency_ref(code: str) -> dict[str, str]:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def exchange_rate(currency: str, home: str) -> Decimal:
    rate = _USD_VALUE.get(currency, Decimal(1)) / _USD_VALUE.get(home, Decimal(1))
    return rate.quantize(Decimal("0.000001"))


def money(value: Any) -> Decimal:
    """A QuickBooks amount from JSON (number or numeric string), to the cent."""
    try:
        return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)
    except ArithmeticError as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def as_number(value: Decimal) -> float | int:
    """Amounts go out as JSON numbers, as QuickBooks sends them."""
    return int(value) if value == value.to_integral_value() else float(value)


def total(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))


def clean(value: Any) -> Any:
    """Drop what QuickBooks treats as absent: null, "", and empty lists and objects.

    Clients (the official SDK among them) send every unset field as "" or [].
    """
    if isinstance(value, dict):
        cleaned = {k: clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [clean(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


def field_value(record: Record, path: str) -> Any:
    """The comparable value of a (dotted) field: a reference's id, an address's text."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, dict):
        return value.get("value", value.get("Address"))
    return value


def is_deleted(record: Record) -> bool:
    return record.get("status") == "Deleted"
