"""Line items and totals, worked out as Xero does for each ``LineAmountTypes``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Record = dict[str, Any]
TAXED = frozenset({"OUTPUT", "INPUT", "OUTPUT2", "INPUT2"})


def default_tax_type(sales: bool) -> str:
    return "OUTPUT2" if sales else "INPUT2"


def line_tax(amount: float, rate: float, line_amount_types: str) -> float:
    if line_amount_types == "Inclusive":
        return round(amount - amount / (1 + rate), 2)
    return round(amount * rate, 2)


def totals(line_total: float, tax_total: float, line_amount_types: str) -> dict[str, float]:
    """``{"SubTotal", "TotalTax", "Total"}`` from the sums of LineAmount and TaxAmount."""
    sub_total = line_total - tax_total if line_amount_types == "Inclusive" else line_total
    return {
        "SubTotal": round(sub_total, 2),
        "TotalTax": round(tax_total, 2),
        "Total": round(sub_total + tax_total, 2),
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
    line_total = tax_total = 0.0
    for line in lines:
        line = dict(line)
        quantity = float(line.get("Quantity", 1.0))
        if "UnitAmount" in line:
            unit = float(line["UnitAmount"])
            discount = float(line.get("DiscountRate") or 0.0)
            amount = round(quantity * unit * (1 - discount / 100), 2)
        else:
            amount = round(float(line.get("LineAmount", 0.0)), 2)
            unit = round(amount / quantity, 4) if quantity else 0.0
        if line_amount_types == "NoTax":
            tax_type, tax = "NONE", 0.0
        else:
            tax_type = str(line.get("TaxType") or default_tax_type(sales))
            tax = line_tax(amount, tax_rate if tax_type in TAXED else 0.0, line_amount_types)
        line.update(
            Quantity=quantity,
            UnitAmount=unit,
            LineAmount=amount,
            TaxType=tax_type,
            TaxAmount=tax,
            LineItemID=line.get("LineItemID") or new_id(),
        )
        line.setdefault("Tracking", [])
        priced.append(line)
        line_total += amount
        tax_total += tax
    return priced, totals(line_total, tax_total, line_amount_types)
