"""The shapes of Lightspeed X-Series API 2.0 records, as the API serves them.

Each collection has a template holding every field a fresh record carries, with the
value the store gives it when nobody says otherwise. Records are plain dicts in the API's
own JSON shape; a change always builds a new dict, so a page being serialised outside the
store lock never sees a half-made record.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from random import Random
from typing import Any

Record = dict[str, Any]

OBJECT_TYPES: tuple[str, ...] = (
    "customers",
    "products",
    "sales",
    "outlets",
    "registers",
    "taxes",
    "payment_types",
    "inventory",
)

# Collections whose records carry created_at/updated_at (the others only have a version).
TIMESTAMPED = frozenset({"customers", "products", "sales"})

SALE_STATUSES = frozenset(
    {
        "SAVED",
        "CLOSED",
        "ONACCOUNT",
        "LAYBY",
        "ONACCOUNT_CLOSED",
        "LAYBY_CLOSED",
        "AWAITING_DISPATCH",
        "AWAITING_PICKUP",
        "DISPATCHED_CLOSED",
        "PICKED_UP_CLOSED",
        "VOIDED",
        "SERVICE",
        "SERVICE_CLOSED",
    }
)

_ADDRESS = {
    f"{kind}_{part}": None
    for kind in ("physical", "postal")
    for part in ("address_1", "address_2", "suburb", "city", "postcode", "state", "country_id")
}

TEMPLATES: dict[str, Record] = {
    "customers": {
        "customer_code": "",
        "name": None,
        "first_name": None,
        "last_name": None,
        "email": None,
        "year_to_date": 0.0,
        "balance": 0.0,
        "loyalty_balance": 0.0,
        "note": None,
        "gender": None,
        "date_of_birth": None,
        "company_name": None,
        "do_not_email": False,
        "phone": None,
        "mobile": None,
        "fax": None,
        "twitter": None,
        "website": None,
        **_ADDRESS,
        "customer_group_id": "",
        "enable_loyalty": True,
        "on_account_limit": None,
        "custom_field_1": None,
        "custom_field_2": None,
        "custom_field_3": None,
        "custom_field_4": None,
        "deleted_at": None,
    },
    "products": {
        "source_id": None,
        "source_variant_id": None,
        "variant_parent_id": None,
        "name": "",
        "variant_name": None,
        "handle": "",
        "sku": None,
        "supplier_code": None,
        "active": True,
        "is_active": True,
        "has_inventory": True,
        "is_composite": False,
        "has_variants": False,
        "variant_count": 0,
        "description": "",
        "source": "USER",
        "supply_price": 0.0,
        "price_including_tax": 0.0,
        "price_excluding_tax": 0.0,
        "loyalty_amount": None,
        "account_code": None,
        "account_code_purchase": None,
        "supplier_id": None,
        "product_type_id": None,
        "brand_id": None,
        "variant_options": [],
        "categories": [],
        "images": [],
        "attributes": [],
        "tag_ids": [],
        "product_codes": [],
        "product_suppliers": [],
        "button_order": 0,
        "deleted_at": None,
    },
    "sales": {
        "outlet_id": "",
        "register_id": "",
        "user_id": "",
        "customer_id": "",
        "invoice_number": "",
        "invoice_sequence": 0,
        "receipt_number": "",
        "source": "USER",
        "status": "CLOSED",
        "note": None,
        "short_code": "",
        "return_for": None,
        "total_price": 0.0,
        "total_tax": 0.0,
        "total_loyalty": 0.0,
        "sale_date": "",
        "deleted_at": None,
        "taxes": [],
        "line_items": [],
        "payments": [],
        "adjustments": [],
    },
    "outlets": {
        "name": "",
        "time_zone": "UTC",
        "default_tax_id": "",
        "currency": "",
        "currency_symbol": "",
        "display_prices": "inclusive",
        "physical_address_1": "",
        "physical_address_2": "",
        "physical_suburb": "",
        "physical_city": "",
        "physical_postcode": "",
        "physical_state": "",
        "physical_country_id": "",
        "email": "",
        "attributes": [],
        "deleted_at": None,
    },
    "registers": {
        "name": "",
        "outlet_id": "",
        "ask_for_note_on_save": 0,
        "print_note_on_receipt": False,
        "ask_for_user_on_sale": False,
        "show_discounts_on_receipts": True,
        "print_receipt": True,
        "email_receipt": True,
        "invoice_prefix": "",
        "invoice_suffix": "",
        "invoice_sequence": 0,
        "button_layout_id": None,
        "is_open": True,
        "register_open_time": None,
        "register_close_time": None,
        "register_open_sequence_id": None,
        "cash_managed_payment_type_id": None,
        "deleted_at": None,
    },
    "taxes": {
        "name": "",
        "display_name": "",
        "rates": [],
        "is_default": False,
        "deleted_at": None,
    },
    "payment_types": {"name": "", "type_id": 1, "deleted_at": None},
    "inventory": {
        "product_id": "",
        "outlet_id": "",
        "inventory_level": 0.0,
        "reorder_point": None,
        "reorder_amount": None,
        "deleted_at": None,
    },
}


def iso(ms: int) -> str:
    """Epoch milliseconds as the API writes times: ``2024-05-01T09:30:00+00:00``."""
    day, second = divmod(ms // 1000, 86_400)
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return f"{_date(day)}T{hour:02d}:{minute:02d}:{second:02d}+00:00"


@cache
def _date(day: int) -> str:
    # Seeding formats hundreds of thousands of times over a few hundred days.
    return datetime.fromtimestamp(day * 86_400, UTC).date().isoformat()


def random_id(rng: Random) -> str:
    """A UUID-shaped id drawn from ``rng`` (Lightspeed's ids are not all version 4)."""
    digits = f"{rng.getrandbits(128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def new_id() -> str:
    return str(uuid.uuid4())


def is_deleted(record: Record) -> bool:
    return record.get("deleted_at") is not None
