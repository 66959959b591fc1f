"""Line items and totals, worked out as Xero does for each ``LineAmountTypes``."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Record = dict[str, Any]
TAXED = frozenset({"OUTPUT", "INPUT", "OUTPUT2", "INPUT2"})


_CENT = Decimal("0.01")


def cents(amount: float) -> int:
    """Money in whole cents, halves away from zero (``round`` would turn 13.5 x 0.15 into
    2.02: its float is a hair under 2.025)."""
    return int(Decimal(repr(amount)).quantize(_CENT, ROUND_HALF_UP) * 100)


def _half_up(numerator: int, denominator: int) -> int:
    if numerator < 0:
        return -_half_up(-numerator, denominator)
    return (2 * numerator + denominator) // (2 * denominator)


def basis_points(rate: float) -> int:
    return round(rate * 10_000)


def default_tax_type(sales: bool) -> str:
    return "OUTPUT2" if sales else "INPUT2"


def line_tax(amount_cents: int, rate_bp: int, line_amount_types: str) -> int:
    """The tax on one line, in cents, rounded per line as Xero does."""
    if line_amount_types == "Inclusive":
        return _half_up(amount_cents * rate_bp, 10_000 + rate_bp)
    return _half_up(amount_cents * rate_bp, 10_000)


def totals(line_cents: int, tax_cents: int, line_amount_types: str) -> dict[str, float]:
    """``{"SubTotal", "TotalTax", "Total"}`` from the sums of LineAmount and TaxAmount."""
    sub_total = line_cents - tax_cents if line_amount_types == "Inclusive" else line_cents
    return {
        "SubTotal": sub_total / 100,
        "TotalTax": tax_cents / 100,
        "Total": (sub_total + tax_cents) / 100,
    }


def price_lines(
    lines: list[Record],
    line_amount_types: str,
    tax_rate: float,
    sales: bool,
    new_id: Callable[[], str],
) -> tuple[list[Record], dict[str, float]]:
    """Complete each line (LineAmount, TaxType, TaxAmount, LineItemID) and sum them up.

    Returns the lines and ``{"SubTotal", "TotalTax", "Total"}``.
    """
    priced: list[Record] = []
    line_total = tax_total = 0
    rate_bp = basis_points(tax_rate)
    for line in lines:
        line = dict(line)
        quantity = float(line.get("Quantity", 1.0))
        if "UnitAmount" in line:
            unit = float(line["UnitAmount"])
            discount = float(line.get("DiscountRate") or 0.0)
            amount = cents(quantity * unit * (1 - discount / 100))
        else:
            amount = cents(float(line.get("LineAmount", 0.0)))
            unit = round(amount / 100 / quantity, 4) if quantity else 0.0
        if line_amount_types == "NoTax":
            tax_type, tax = "NONE", 0
        else:
            tax_type = str(line.get("TaxType") or default_tax_type(sales))
            tax = line_tax(amount, rate_bp if tax_type in TAXED else 0, line_amount_types)
        line.update(
            Quantity=quantity,
            UnitAmount=unit,
            LineAmount=amount / 100,
            TaxType=tax_type,
            TaxAmount=tax / 100,
            LineItemID=line.get("LineItemID") or new_id(),
        )
        line.setdefault("Tracking", [])
        priced.append(line)
        line_total += amount
        tax_total += tax
    return priced, totals(line_total, tax_total, line_amount_types)
