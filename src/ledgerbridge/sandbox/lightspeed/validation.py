"""Checks on the bodies clients send, with Lightspeed's 422 reasons.

Each check returns the body it accepted; it raises :class:`InvalidRecord` with one message
per offending field otherwise. Fields Lightspeed does not know are left alone (the API
ignores them); fields of the wrong type are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from ledgerbridge.sandbox.lightspeed.records import SALE_STATUSES, Record


class InvalidRecord(ValueError):
    """A body Lightspeed would refuse with 422; ``details`` maps each field to its problem."""

    def __init__(self, details: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in details.items()))
        self.details = details


_CUSTOMER_TEXT = [
    "first_name",
    "last_name",
    "email",
    "note",
    "gender",
    "company_name",
    "phone",
    "mobile",
    "fax",
    "twitter",
    "website",
    "physical_address_1",
    "physical_address_2",
    "physical_suburb",
    "physical_city",
    "physical_postcode",
    "physical_state",
    "physical_country_id",
    "postal_address_1",
    "postal_address_2",
    "postal_suburb",
    "postal_city",
    "postal_postcode",
    "postal_state",
    "postal_country_id",
    "custom_field_1",
    "custom_field_2",
    "custom_field_3",
    "custom_field_4",
]
_PRODUCT_TEXT = [
    "handle",
    "sku",
    "supplier_code",
    "description",
    "source",
    "source_id",
    "source_variant_id",
    "supplier_id",
    "product_type_id",
    "brand_id",
    "account_code",
    "account_code_purchase",
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_problems(body: Record, kinds: dict[str, str]) -> dict[str, str]:
    """One message per field whose value is not of its kind (``text``, ``text?``, ...)."""
    problems: dict[str, str] = {}
    for name, kind in kinds.items():
        if name not in body:
            continue
        value = body[name]
        if value is None and kind.endswith("?"):
            continue
        expected = kind.rstrip("?")
        ok = {
            "text": isinstance(value, str),
            "bool": isinstance(value, bool),
            "number": _is_number(value),
            "list": isinstance(value, list),
        }[expected]
        if not ok:
            problems[name] = f"must be a {'string' if expected == 'text' else expected}"
    return problems


def check_customer(body: Record, *, partial: bool) -> Record:
    """A customer create (``partial=False``) or update body."""
    kinds = {name: "text?" for name in _CUSTOMER_TEXT}
    kinds |= {
        "customer_code": "text",
        "customer_group_id": "text",
        "date_of_birth": "text?",
        "enable_loyalty": "bool",
        "do_not_email": "bool",
        "on_account_limit": "number?",
        "balance": "number",
        "year_to_date": "number",
        "loyalty_balance": "number",
    }
    problems = _type_problems(body, kinds)
    if "customer_code" in body and isinstance(body["customer_code"], str):
        if not body["customer_code"].strip():
            problems["customer_code"] = "must not be empty"
        elif len(body["customer_code"]) > 64:
            problems["customer_code"] = "must be at most 64 characters"
    email = body.get("email")
    if isinstance(email, str) and email and not _EMAIL.match(email):
        problems["email"] = "is not a valid email address"
    birthday = body.get("date_of_birth")
    if isinstance(birthday, str) and birthday:
        try:
            date.fromisoformat(birthday)
        except ValueError:
            problems["date_of_birth"] = "must be a date as YYYY-MM-DD"
    if not partial and not any(
        isinstance(body.get(name), str) and body[name].strip()
        for name in ("first_name", "last_name", "company_name")
    ):
        problems["first_name"] = "a customer needs a first name, last name or company name"
    if problems:
        raise InvalidRecord(problems)
    return body


def check_product(body: Record, *, partial: bool) -> Record:
    """A product create (``partial=False``) or update body."""
    kinds: dict[str, str] = {name: "text?" for name in _PRODUCT_TEXT}
    kinds |= {
        "name": "text",
        "is_active": "bool",
        "active": "bool",
        "price_including_tax": "number",
        "price_excluding_tax": "number",
        "supply_price": "number",
        "loyalty_amount": "number?",
        "tag_ids": "list",
        "product_codes": "list",
    }
    problems = _type_problems(body, kinds)
    if not partial and not (isinstance(body.get("name"), str) and body["name"].strip()):
        problems["name"] = "is required"
    if "price_including_tax" in body and "price_excluding_tax" in body:
        problems["price_including_tax"] = "cannot be given together with price_excluding_tax"
    for name in ("price_including_tax", "price_excluding_tax", "supply_price"):
        if _is_number(body.get(name)) and body[name] < 0:
            problems[name] = "must not be negative"
    if problems:
        raise InvalidRecord(problems)
    return body


def check_sale(body: Record, *, partial: bool) -> Record:
    """A sale as the register would record it (control API only: the API is read-only)."""
    kinds = {
        "status": "text",
        "outlet_id": "text",
        "register_id": "text",
        "customer_id": "text",
        "user_id": "text",
        "invoice_number": "text",
        "sale_date": "text",
        "note": "text?",
        "total_price": "number",
        "total_tax": "number",
        "line_items": "list",
        "payments": "list",
    }
    problems = _type_problems(body, kinds)
    status = body.get("status")
    if isinstance(status, str) and status not in SALE_STATUSES:
        problems["status"] = f"must be one of {', '.join(sorted(SALE_STATUSES))}"
    if problems:
        raise InvalidRecord(problems)
    return body


def check_any(body: Record, *, partial: bool) -> Record:
    return body


CHECKS: dict[str, Callable[..., Record]] = {
    "customers": check_customer,
    "products": check_product,
    "sales": check_sale,
}
