"""Deterministic demo stores: a café chain in Australia and a fashion boutique in the US.

Everything comes from the ``rng`` passed in, so a seed gives the same stores, ids and
versions every time. Records are made with their historical times, then saved in time
order, so versions grow with ``updated_at`` across all of a store's collections, as they
do in a real store. ``size`` is the number of customers, products, sales and inventory
records per store; the back-office collections (outlets, registers, taxes, payment
types) keep their natural few.
"""

from __future__ import annotations

import bisect
import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from random import Random
from typing import TypeVar

from ledgerbridge.collector import collector_paused
from ledgerbridge.sandbox.lightspeed.changes import PROVIDER, LightspeedData, provider_data, save
from ledgerbridge.sandbox.lightspeed.records import TEMPLATES, Record, iso, random_id
from ledgerbridge.sandbox.settings import account_profiles
from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.store import Account

T = TypeVar("T")

DAY_MS = 86_400_000
HISTORY_END_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z: seeded history stops here
HISTORY_START_MS = HISTORY_END_MS - 730 * DAY_MS
SETUP_MS = HISTORY_START_MS - 30 * DAY_MS  # when each store was set up
CLOSED_OUTLETS_MS = HISTORY_END_MS - 90 * DAY_MS  # when closed outlets shut


@dataclass(frozen=True)
class OutletProfile:
    name: str
    time_zone: str
    address: str
    suburb: str
    city: str
    state: str
    postcode: str
    registers: int
    tax_name: str
    tax_rate: float
    closed: bool = False  # soft-deleted outlet: its sales stay


@dataclass(frozen=True)
class StoreProfile:
    domain_prefix: str
    name: str
    currency: str
    currency_symbol: str
    country: str
    culture: str
    tax_inclusive: bool  # prices on the shelf include tax (AU) or not (US)
    outlets: tuple[OutletProfile, ...]
    catalogue: tuple[str, ...]
    variant_option: str
    variant_values: tuple[str, ...]
    family_share: float  # share of products that come in variants
    price_range: tuple[int, int]  # whole currency units
    payment_types: tuple[tuple[str, int], ...]  # (name, Lightspeed type_id)
    brands: tuple[str, ...]
    suppliers: tuple[str, ...]


STORES: tuple[StoreProfile, ...] = (
    StoreProfile(
        domain_prefix="sandbox-cafe",
        name="Bondi Bean Café",
        currency="AUD",
        currency_symbol="$",
        country="AU",
        culture="en-AU",
        tax_inclusive=True,
        outlets=(
            OutletProfile(
                "Bondi Beach",
                "Australia/Sydney",
                "12 Campbell Parade",
                "Bondi Beach",
                "Sydney",
                "NSW",
                "2026",
                2,
                "GST",
                0.10,
            ),
            OutletProfile(
                "Fremantle",
                "Australia/Perth",
                "3 Market Street",
                "Fremantle",
                "Perth",
                "WA",
                "6160",
                1,
                "GST",
                0.10,
            ),
            OutletProfile(
                "Fortitude Valley",
                "Australia/Brisbane",
                "88 Brunswick Street",
                "Fortitude Valley",
                "Brisbane",
                "QLD",
                "4006",
                1,
                "GST",
                0.10,
            ),
        ),
        catalogue=(
            "Flat White",
            "Long Black",
            "Latte",
            "Cappuccino",
            "Chai Latte",
            "Matcha Latte",
            "Croissant",
            "Pain au Chocolat",
            "Banana Bread",
            "Smashed Avo",
            "Açaí Bowl",
            "Crème Brûlée",
            "Lamington",
            "Pavlova Slice",
            "Sourdough Loaf",
            "Kombucha",
            "Iced Mocha",
            "Piccolo",
            "Bircher Muesli",
            "Jaffle",
        ),
        variant_option="Size",
        variant_values=("Small", "Regular", "Large"),
        family_share=0.2,
        price_range=(3, 24),
        payment_types=(("Cash", 1), ("EFTPOS", 7), ("Credit Card", 4), ("Gift Card", 118)),
        brands=("House Roast", "Café Façade", "Ōtaki Organics"),
        suppliers=("Bean Brothers Pty Ltd", "Boulangerie Élise", "Harbour Dairy Co."),
    ),
    StoreProfile(
        domain_prefix="sandbox-boutique",
        name="Maison Zoë Boutique",
        currency="USD",
        currency_symbol="$",
        country="US",
        culture="en-US",
        tax_inclusive=False,
        outlets=(
            OutletProfile(
                "SoHo",
                "America/New_York",
                "114 Prince Street",
                "SoHo",
                "New York",
                "NY",
                "10012",
                1,
                "NY Sales Tax",
                0.08875,
            ),
            OutletProfile(
                "Silver Lake",
                "America/Los_Angeles",
                "3827 Sunset Boulevard",
                "Silver Lake",
                "Los Angeles",
                "CA",
                "90026",
                1,
                "CA Sales Tax",
                0.095,
            ),
            OutletProfile(
                "Wicker Park Pop-up",
                "America/Chicago",
                "1520 N Milwaukee Avenue",
                "Wicker Park",
                "Chicago",
                "IL",
                "60622",
                1,
                "IL Sales Tax",
                0.1025,
                closed=True,
            ),
        ),
        catalogue=(
            "Linen Shirt",
            "Wool Coat",
            "Silk Scarf",
            "Denim Jacket",
            "Cashmere Sweater",
            "Leather Belt",
            "Ankle Boots",
            "Midi Skirt",
            "Canvas Tote",
            "Café Crème Blouse",
            "Pleated Trousers",
            "Béret",
            "Merino Cardigan",
            "Suède Loafers",
            "Trench Coat",
        ),
        variant_option="Size",
        variant_values=("XS", "S", "M", "L", "XL"),
        family_share=0.45,
        price_range=(18, 420),
        payment_types=(("Cash", 1), ("Credit Card", 4), ("Gift Card", 118), ("Store Credit", 11)),
        brands=("Maison Zoë", "Ateliê Ñandú", "Nordlys Strik", "Kōwhai Leather"),
        suppliers=("Tissus Lefèvre SA", "Garment District Supply", "Øresund Textiles"),
    ),
)

FIRST_NAMES = (
    "Zoë",
    "José",
    "Søren",
    "Łucja",
    "Aroha",
    "Chloé",
    "Björn",
    "Émile",
    "Siobhán",
    "François",
    "Mei",
    "Jürgen",
    "Ana",
    "Olivia",
    "Liam",
    "Noah",
    "Ava",
    "Jack",
    "Charlotte",
    "Tāne",
    "Mateo",
    "Sofía",
    "Yuki",
    "Priya",
    "Oluwaseun",
    "Inès",
    "Dũng",
    "Грета",
    "Amélie",
    "Nikolaj",
)
LAST_NAMES = (
    "Smith",
    "O'Brien",
    "Müller",
    "Núñez",
    "García",
    "Nguyễn",
    "Kowalski",
    "Øvergaard",
    "Dubois",
    "Te Whiu",
    "Papadopoulos",
    "Williams",
    "Brown",
    "Chen",
    "Ivanova",
    "Łukasiewicz",
    "Fernández",
    "Sørensen",
    "Jones",
    "Kim",
    "Patel",
    "Svensson",
    "Haddad",
    "Rossi",
    "MacDonald",
    "Ōkubo",
    "Lefèvre",
    "Schäfer",
)
COMPANIES = ("Harbour Events Ltd", "Café Société", "Studio Ñ", "Kaimai Catering", "Bjørk & Co")
USERS = 3  # staff accounts per store
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# Sale statuses and how often the seed uses them.
SALE_MIX = (
    ("CLOSED", 80),
    ("VOIDED", 5),
    ("ONACCOUNT", 4),
    ("ONACCOUNT_CLOSED", 4),
    ("LAYBY", 2),
    ("LAYBY_CLOSED", 2),
    ("SAVED", 3),
)
RETURN_EVERY = 40  # every 40th sale refunds an earlier one
# Every Nth customer and product is soft-deleted, counting so that a small store has one.
DELETED_EVERY = {"customers": 33, "products": 50}


def seed(state: SandboxState, rng: Random, size: int) -> None:
    """Create the Lightspeed stores and their records, deterministically from ``rng``."""
    state.provider_data[PROVIDER] = LightspeedData()
    # Collection passes over millions of young records would cost more than the seeding.
    with collector_paused(), state.store.lock:
        for profile in account_profiles(STORES, state.settings.accounts, _numbered):
            _seed_store(state, rng, max(size, 1), profile)


def _numbered(profile: StoreProfile, n: int) -> StoreProfile:
    return replace(
        profile, domain_prefix=f"{profile.domain_prefix}-{n}", name=f"{profile.name} {n}"
    )


@dataclass
class _Shop:
    """What the generators of one store share while it is being seeded."""

    profile: StoreProfile
    rng: Random
    events: list[tuple[int, str, Record]] = field(default_factory=list)
    taxes: dict[str, Record] = field(default_factory=dict)  # tax name -> tax
    payment_types: list[Record] = field(default_factory=list)
    outlets: list[Record] = field(default_factory=list)
    outlet_taxes: list[Record] = field(default_factory=list)  # by outlet position
    registers: list[list[Record]] = field(default_factory=list)  # by outlet position
    users: list[str] = field(default_factory=list)
    customers_created: list[int] = field(default_factory=list)  # ascending
    customers: list[Record] = field(default_factory=list)
    sellable_created: list[int] = field(default_factory=list)  # ascending
    sellable: list[Record] = field(default_factory=list)

    def add(self, at_ms: int, object_type: str, record: Record) -> Record:
        self.events.append((at_ms, object_type, record))
        return record


def _seed_store(state: SandboxState, rng: Random, size: int, profile: StoreProfile) -> None:
    shop = _Shop(profile, rng)
    registers = sum(outlet.registers for outlet in profile.outlets if not outlet.closed)
    state.store.add_account(
        Account(PROVIDER, profile.domain_prefix, profile.name, profile.currency, registers)
    )
    _back_office(shop)
    _customers(shop, size)
    _products(shop, size)
    _inventory(shop, size)
    _sales(shop, size)
    data = provider_data(state)
    data.retailers[profile.domain_prefix] = _retailer(shop)
    data.customer_groups[profile.domain_prefix] = shop.customers[0]["customer_group_id"]
    data.versions[profile.domain_prefix] = rng.randrange(1_000_000, 9_000_000)
    shop.events.sort(key=lambda event: event[0])
    for _, object_type, record in shop.events:
        save(state, profile.domain_prefix, object_type, record)


def _back_office(shop: _Shop) -> None:
    """Taxes, payment types, outlets, registers and staff, as the store was set up."""
    profile, rng = shop.profile, shop.rng
    at = SETUP_MS
    shop.users = [random_id(rng) for _ in range(USERS)]
    for name, rate in [("No Tax", 0.0)] + [(o.tax_name, o.tax_rate) for o in profile.outlets]:
        if name in shop.taxes:
            continue
        default = name == profile.outlets[0].tax_name
        rates = [{"id": random_id(rng), "name": name, "rate": rate, "display_name": name}]
        tax = {"id": random_id(rng), **TEMPLATES["taxes"], "name": name, "display_name": name}
        shop.taxes[name] = shop.add(at, "taxes", tax | {"rates": rates, "is_default": default})
    for name, type_id in profile.payment_types:
        payment_type = {"id": random_id(rng), **TEMPLATES["payment_types"], "name": name}
        shop.payment_types.append(
            shop.add(at, "payment_types", payment_type | {"type_id": type_id})
        )
    for outlet_profile in profile.outlets:
        # A closed outlet's last change is its closing.
        changed = CLOSED_OUTLETS_MS if outlet_profile.closed else at
        outlet = shop.add(changed, "outlets", _outlet(shop, outlet_profile))
        shop.outlets.append(outlet)
        shop.outlet_taxes.append(shop.taxes[outlet_profile.tax_name])
        prefix = "".join(word[0] for word in outlet_profile.name.split()).upper()
        shop.registers.append(
            [
                shop.add(changed, "registers", _register(shop, outlet, prefix, position))
                for position in range(outlet_profile.registers)
            ]
        )


def _outlet(shop: _Shop, outlet: OutletProfile) -> Record:
    profile = shop.profile
    closed_at = iso(CLOSED_OUTLETS_MS) if outlet.closed else None
    return {
        "id": random_id(shop.rng),
        **TEMPLATES["outlets"],
        "name": outlet.name,
        "time_zone": outlet.time_zone,
        "default_tax_id": shop.taxes[outlet.tax_name]["id"],
        "currency": profile.currency,
        "currency_symbol": profile.currency_symbol,
        "display_prices": "inclusive" if profile.tax_inclusive else "exclusive",
        "physical_address_1": outlet.address,
        "physical_suburb": outlet.suburb,
        "physical_city": outlet.city,
        "physical_postcode": outlet.postcode,
        "physical_state": outlet.state,
        "physical_country_id": profile.country,
        "email": f"{_ascii(outlet.name).replace(' ', '.').lower()}@{profile.domain_prefix}.example",
        "deleted_at": closed_at,
    }


def _register(shop: _Shop, outlet: Record, prefix: str, position: int) -> Record:
    return {
        "id": random_id(shop.rng),
        **TEMPLATES["registers"],
        "name": f"{outlet['name']} Register {position + 1}",
        "outlet_id": outlet["id"],
        "invoice_prefix": f"{prefix}{position + 1}-",
        "register_open_time": iso(HISTORY_END_MS - DAY_MS),
        "register_open_sequence_id": random_id(shop.rng),
        "cash_managed_payment_type_id": shop.payment_types[0]["id"],
        "deleted_at": outlet["deleted_at"],
        "is_open": outlet["deleted_at"] is None,
    }


def _customers(shop: _Shop, size: int) -> None:
    rng, profile = shop.rng, shop.profile
    group_id = random_id(rng)
    span = HISTORY_END_MS - HISTORY_START_MS
    created = sorted(HISTORY_START_MS + _below(rng, span) for _ in range(size - 1))
    codes: set[str] = set()
    walk_in = {
        "id": random_id(rng),
        **TEMPLATES["customers"],
        "customer_code": "WALKIN",
        "customer_group_id": group_id,
        "created_at": iso(SETUP_MS),
        "updated_at": iso(SETUP_MS),
    }
    shop.customers.append(shop.add(SETUP_MS, "customers", walk_in))
    shop.customers_created.append(SETUP_MS)
    for number, created_ms in enumerate(created):
        first, last = _pick(rng, FIRST_NAMES), _pick(rng, LAST_NAMES)
        code = f"{_ascii(first)}-{_code_suffix(rng, 4)}"
        while code in codes:
            code = f"{_ascii(first)}-{_code_suffix(rng, 5)}"
        codes.add(code)
        updated_ms = created_ms
        if rng.random() < 0.3:
            updated_ms = min(HISTORY_END_MS, created_ms + _below(rng, 120 * DAY_MS))
        roll = rng.random()
        customer = {
            "id": random_id(rng),
            **TEMPLATES["customers"],
            "customer_code": code,
            "name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "email": f"{_ascii(first)}.{_ascii(last)}{_below(rng, 1000)}@example.com".lower(),
            "phone": f"+{_dial_code(profile)} {_between(rng, 10**8, 10**9)}",
            "company_name": _pick(rng, COMPANIES) if roll < 0.08 else None,
            "balance": -round(rng.uniform(5, 500), 2) if roll < 0.05 else 0.0,
            "year_to_date": round(rng.uniform(0, 2000), 2),
            "loyalty_balance": round(rng.uniform(0, 50), 2) if roll < 0.4 else 0.0,
            "on_account_limit": 500.0 if roll < 0.1 else None,
            "date_of_birth": f"{_between(rng, 1945, 2006)}-{_between(rng, 1, 13):02d}-"
            f"{_between(rng, 1, 29):02d}"
            if roll < 0.3
            else None,
            "physical_city": _pick(rng, profile.outlets).city,
            "physical_country_id": profile.country,
            "customer_group_id": group_id,
            "note": "Prefers oat milk ☕" if roll > 0.98 else None,
            "created_at": iso(created_ms),
            "updated_at": iso(updated_ms),
            "deleted_at": iso(updated_ms) if number % DELETED_EVERY["customers"] == 4 else None,
        }
        shop.customers.append(shop.add(updated_ms, "customers", customer))
        shop.customers_created.append(created_ms)


def _products(shop: _Shop, size: int) -> None:
    rng, profile = shop.rng, shop.profile
    tax_rate = profile.outlets[0].tax_rate
    brands = [{"id": random_id(rng), "name": name} for name in profile.brands]
    suppliers = [{"id": random_id(rng), "name": name} for name in profile.suppliers]
    product_type = {"id": random_id(rng), "name": "General"}
    span = HISTORY_END_MS - HISTORY_START_MS
    sellable: list[tuple[int, int, Record]] = []  # (created, position, product)
    made = 0
    family = 0
    while made < size:
        # A third of the catalogue exists from the start; the rest arrives over time.
        created_ms = SETUP_MS if rng.random() < 0.33 else HISTORY_START_MS + _below(rng, span)
        stem = profile.catalogue[family % len(profile.catalogue)]
        handle = f"{_ascii(stem).lower().replace(' ', '-')}-{family}"
        brand, supplier = _pick(rng, brands), _pick(rng, suppliers)
        low, high = profile.price_range
        price = _between(rng, low * 100, high * 100) / 100
        base: Record = {
            **TEMPLATES["products"],
            "name": stem,
            "handle": handle,
            "description": f"<p>{stem}, from {brand['name']}.</p>",
            "brand_id": brand["id"],
            "brand": brand,
            "supplier_id": supplier["id"],
            "supplier": supplier,
            "product_type_id": product_type["id"],
            "type": product_type,
            **_prices(price, tax_rate, profile.tax_inclusive),
            "supply_price": round(price * rng.uniform(0.3, 0.5), 2),
        }
        variants = 0
        if rng.random() < profile.family_share and made + 2 < size:
            variants = min(rng.randrange(2, len(profile.variant_values) + 1), size - made - 1)
        parent = _product(shop, base, created_ms, 10_000 + made)
        made += 1
        if variants:
            parent |= {"has_variants": True, "variant_count": variants}
        else:
            sellable.append((created_ms, made, parent))
        for value in profile.variant_values[:variants]:
            options = [{"name": profile.variant_option, "value": value}]
            child = _product(shop, base, created_ms, 10_000 + made)
            child |= {
                "variant_parent_id": parent["id"],
                "variant_name": f"{stem} / {value}",
                "variant_options": options,
            }
            sellable.append((created_ms, made, child))
            made += 1
        family += 1
    sellable.sort(key=lambda entry: entry[:2])
    shop.sellable_created = [created for created, _, _ in sellable]
    shop.sellable = [product for _, _, product in sellable]


def _product(shop: _Shop, base: Record, created_ms: int, sku: int) -> Record:
    rng = shop.rng
    updated_ms = created_ms
    if rng.random() < 0.25:
        updated_ms = min(HISTORY_END_MS, created_ms + _below(rng, 200 * DAY_MS))
    active = rng.random() > 0.05
    product = {
        "id": random_id(rng),
        **base,
        "variant_name": base["name"],
        "sku": str(sku),
        "supplier_code": f"SUP-{sku}",
        "active": active,
        "is_active": active,
        "created_at": iso(created_ms),
        "updated_at": iso(updated_ms),
        "deleted_at": iso(updated_ms) if sku % DELETED_EVERY["products"] == 3 else None,
    }
    return shop.add(updated_ms, "products", product)


def _prices(price: float, tax_rate: float, tax_inclusive: bool) -> Record:
    """Shelf price ``price`` as Lightspeed stores it, with and without the default tax."""
    if tax_inclusive:
        return {
            "price_including_tax": price,
            "price_excluding_tax": round(price / (1 + tax_rate), 5),
        }
    return {
        "price_excluding_tax": price,
        "price_including_tax": round(price * (1 + tax_rate), 5),
    }


def _inventory(shop: _Shop, size: int) -> None:
    """Stock levels for the first products, one record per product and open outlet."""
    rng = shop.rng
    outlets = [outlet for outlet in shop.outlets if outlet["deleted_at"] is None]
    span = HISTORY_END_MS - HISTORY_START_MS
    for number in range(size):
        product = shop.sellable[(number // len(outlets)) % len(shop.sellable)]
        outlet = outlets[number % len(outlets)]
        level = _between(rng, -3, 120)
        record = {
            "id": random_id(rng),
            **TEMPLATES["inventory"],
            "product_id": product["id"],
            "outlet_id": outlet["id"],
            "inventory_level": float(level),
            "reorder_point": 5.0 if level % 4 == 0 else None,
            "reorder_amount": 20.0 if level % 4 == 0 else None,
        }
        shop.add(HISTORY_START_MS + _below(rng, span), "inventory", record)


def _sales(shop: _Shop, size: int) -> None:
    rng = shop.rng
    span = HISTORY_END_MS - HISTORY_START_MS
    statuses = [status for status, _ in SALE_MIX]
    weights = list(itertools.accumulate(weight for _, weight in SALE_MIX))
    sequences: dict[str, int] = {}
    closed: list[Record] = []
    times = sorted(HISTORY_START_MS + _below(rng, span) for _ in range(size))
    for number, sale_ms in enumerate(times):
        status = rng.choices(statuses, cum_weights=weights)[0]
        outlet_at = _below(rng, len(shop.outlets))
        if shop.outlets[outlet_at]["deleted_at"] and sale_ms >= CLOSED_OUTLETS_MS:
            outlet_at = 0
        register = _pick(rng, shop.registers[outlet_at])
        sequence = sequences[register["id"]] = sequences.get(register["id"], 0) + 1
        if closed and number % RETURN_EVERY == RETURN_EVERY - 1:
            sale = _refund(shop, _pick(rng, closed), register, sale_ms)
        else:
            sale = _sale(shop, status, outlet_at, register, sale_ms)
        sale["invoice_sequence"] = sequence
        sale["invoice_number"] = sale["receipt_number"] = (
            f"{register['invoice_prefix']}{sequence}{register['invoice_suffix']}"
        )
        if sale["status"] == "CLOSED" and not sale["return_for"]:
            closed.append(sale)
        updated_ms = _sale_updated_ms(rng, sale["status"], sale_ms)
        sale["updated_at"] = iso(updated_ms)
        shop.add(updated_ms, "sales", sale)
    for registers in shop.registers:
        for register in registers:
            register["invoice_sequence"] = sequences.get(register["id"], 0)


def _sale_updated_ms(rng: Random, status: str, sale_ms: int) -> int:
    if status in ("ONACCOUNT_CLOSED", "LAYBY_CLOSED", "VOIDED"):
        return min(HISTORY_END_MS, sale_ms + _between(rng, 60_000, 45 * DAY_MS))
    return sale_ms + _between(rng, 1_000, 30_000)


def _sale(shop: _Shop, status: str, outlet_at: int, register: Record, sale_ms: int) -> Record:
    rng = shop.rng
    needs_customer = status not in ("CLOSED", "VOIDED", "SAVED") or rng.random() < 0.4
    known = bisect.bisect_left(shop.customers_created, sale_ms)
    customer = shop.customers[_between(rng, 1, known)] if needs_customer and known > 1 else None
    if customer is None and status not in ("CLOSED", "VOIDED", "SAVED"):
        status = "CLOSED"
    tax = shop.outlet_taxes[outlet_at]
    lines = _line_items(shop, tax, status, sale_ms)
    total_price = round(sum(line["price_total"] for line in lines), 2)
    total_tax = round(sum(line["tax_total"] for line in lines), 2)
    return {
        "id": random_id(rng),
        **TEMPLATES["sales"],
        "outlet_id": register["outlet_id"],
        "register_id": register["id"],
        "user_id": _pick(rng, shop.users),
        "customer_id": (customer or shop.customers[0])["id"],
        "status": status,
        "note": "Gift wrap, s'il vous plaît 🎁" if rng.random() < 0.02 else "",
        "short_code": _short_code(rng),
        "total_price": total_price,
        "total_tax": total_tax,
        "sale_date": iso(sale_ms),
        "created_at": iso(sale_ms),
        "taxes": _sale_taxes(tax, total_tax),
        "line_items": lines,
        "payments": _payments(shop, status, register, round(total_price + total_tax, 2), sale_ms),
    }


def _line_items(shop: _Shop, tax: Record, status: str, sale_ms: int) -> list[Record]:
    rng = shop.rng
    rate = tax["rates"][0]
    available = max(1, bisect.bisect_right(shop.sellable_created, sale_ms))
    line_status = {"VOIDED": "VOIDED", "SAVED": "SAVED"}.get(status, "CONFIRMED")
    lines = []
    for sequence in range(_pick(rng, (1, 1, 2, 2, 3, 4, 5))):
        product = shop.sellable[_below(rng, available)]
        quantity = _pick(rng, (1, 1, 1, 2, 2, 3))
        shelf = product[
            "price_including_tax" if shop.profile.tax_inclusive else "price_excluding_tax"
        ]
        discount = round(shelf * 0.1, 2) if rng.random() < 0.1 else 0.0
        gross = round((shelf - discount) * quantity, 2)
        if shop.profile.tax_inclusive:
            tax_total = round(gross - gross / (1 + rate["rate"]), 2)
            price_total = round(gross - tax_total, 2)
        else:
            price_total = gross
            tax_total = round(gross * rate["rate"], 2)
        cost = product["supply_price"]
        lines.append(
            {
                "id": random_id(rng),
                "product_id": product["id"],
                "tax_id": tax["id"],
                "quantity": float(quantity),
                "price": round(price_total / quantity, 5),
                "price_total": price_total,
                "tax": round(tax_total / quantity, 5),
                "tax_total": tax_total,
                "discount": discount,
                "discount_total": round(discount * quantity, 2),
                "cost": cost,
                "cost_total": round(cost * quantity, 2),
                "loyalty_value": 0.0,
                "price_set": discount > 0,
                "sequence": float(sequence),
                "note": None,
                "status": line_status,
                "is_return": False,
                "tax_components": [{"rate_id": rate["id"], "total_tax": tax_total}],
            }
        )
    return lines


def _sale_taxes(tax: Record, amount: float) -> list[Record]:
    rate = tax["rates"][0]
    return [{"id": rate["id"], "name": tax["name"], "rate": rate["rate"], "amount": amount}]


def _payments(
    shop: _Shop, status: str, register: Record, total: float, sale_ms: int
) -> list[Record]:
    """Cash and card, split now and then; deposits for lay-bys and accounts."""
    rng = shop.rng
    if status in ("VOIDED", "SAVED") or total == 0:
        return []
    if status == "CLOSED":
        if rng.random() < 0.25:
            cash = round(total * rng.uniform(0.2, 0.8), 2)
            return [
                _payment(shop, register, 0, cash, sale_ms),
                _payment(shop, register, 1, round(total - cash, 2), sale_ms + 5_000),
            ]
        kind = _below(rng, len(shop.payment_types))
        return [_payment(shop, register, kind, total, sale_ms)]
    deposit = round(total * _pick(rng, (0.0, 0.1, 0.2, 0.5)), 2)
    payments = [_payment(shop, register, 1, deposit, sale_ms)] if deposit else []
    if status in ("ONACCOUNT_CLOSED", "LAYBY_CLOSED"):
        paid_ms = min(HISTORY_END_MS, sale_ms + _between(rng, DAY_MS, 40 * DAY_MS))
        payments.append(_payment(shop, register, 1, round(total - deposit, 2), paid_ms))
    return payments


def _payment(shop: _Shop, register: Record, kind: int, amount: float, at_ms: int) -> Record:
    payment_type = shop.payment_types[kind]
    return {
        "id": random_id(shop.rng),
        "register_id": register["id"],
        "outlet_id": register["outlet_id"],
        "retailer_payment_type_id": payment_type["id"],
        "payment_type_id": str(payment_type["type_id"]),
        "name": payment_type["name"],
        "amount": amount,
        "payment_date": iso(at_ms),
    }


def _refund(shop: _Shop, original: Record, register: Record, sale_ms: int) -> Record:
    """A return of an earlier sale: the same lines with negative quantities, money back."""
    rng = shop.rng
    lines = [
        line
        | {
            "id": random_id(rng),
            "quantity": -line["quantity"],
            "price_total": -line["price_total"],
            "tax_total": -line["tax_total"],
            "discount_total": -line["discount_total"],
            "cost_total": -line["cost_total"],
            "is_return": True,
            "tax_components": [
                {"rate_id": c["rate_id"], "total_tax": -c["total_tax"]}
                for c in line["tax_components"]
            ],
        }
        for line in original["line_items"]
    ]
    total = -round(original["total_price"] + original["total_tax"], 2)
    return original | {
        "id": random_id(rng),
        "register_id": register["id"],
        "outlet_id": register["outlet_id"],
        "user_id": _pick(rng, shop.users),
        "short_code": _short_code(rng),
        "return_for": original["id"],
        "total_price": -original["total_price"],
        "total_tax": -original["total_tax"],
        "sale_date": iso(sale_ms),
        "created_at": iso(sale_ms),
        "taxes": [tax | {"amount": -tax["amount"]} for tax in original["taxes"]],
        "line_items": lines,
        "payments": [_payment(shop, register, 0, total, sale_ms)],
    }


def _retailer(shop: _Shop) -> Record:
    profile, rng = shop.profile, shop.rng
    return {
        "id": random_id(rng),
        "domain_prefix": profile.domain_prefix,
        "name": profile.name,
        "account_status": "ACTIVE",
        "account_type": "PAYING",
        "culture": profile.culture,
        "timezone": {"name": profile.outlets[0].time_zone},
        "tax_exclusive": not profile.tax_inclusive,
        "country": profile.country,
        "currency": {"code": profile.currency, "symbol": profile.currency_symbol},
        "store_credit": True,
        "gift_cards": {"enabled": True, "never_enabled": False},
        "loyalty": {"enabled": True, "ratio": 0.01, "send_welcome_email": False},
        "sku_sequence": {"enabled": True, "value": 10_000},
        "no_tax_group_id": shop.taxes["No Tax"]["id"],
        "created_at": iso(SETUP_MS),
        "activated_at": iso(SETUP_MS),
    }


def _dial_code(profile: StoreProfile) -> str:
    return {"AU": "61", "US": "1"}.get(profile.country, "44")


def _below(rng: Random, bound: int) -> int:
    # random() is several times faster than randrange(), which seeding calls millions of times.
    return int(rng.random() * bound)


def _between(rng: Random, low: int, high: int) -> int:
    return low + _below(rng, high - low)


def _pick(rng: Random, options: Sequence[T]) -> T:
    return options[_below(rng, len(options))]


def _code_suffix(rng: Random, length: int) -> str:
    """Like the ``N4ZJ`` of Lightspeed's ``Tony-N4ZJ`` customer codes."""
    bits = rng.getrandbits(5 * length)
    return "".join(CODE_ALPHABET[(bits >> (5 * i)) & 31] for i in range(length))


def _short_code(rng: Random) -> str:
    return f"{rng.getrandbits(24):06x}"


@cache
def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode() or "Customer"
