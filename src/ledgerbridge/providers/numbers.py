"""Money from provider JSON, exactly.

Pull modules parse provider JSON with ``parse_float=Decimal``, so a payload keeps the
provider's own digits (the raw store writes and reads them the same way). Should a float
arrive anyway, its ``repr`` is the shortest text that reads back as that float — for any
amount of up to 15 significant digits, the provider's text — so ``Decimal(repr(x))`` is
used, never ``Decimal(x)``, which would expose the float's binary expansion.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def to_decimal(value: object) -> Decimal:
    """A JSON number (int or float), a numeric string, or a Decimal, as an exact Decimal."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | str):
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    raise ValueError(f"expected a number, got {type(value).__name__} {value!r}")


def optional_decimal(value: object) -> Decimal | None:
    return None if value is None or value == "" else to_decimal(value)


def amount(payload: dict[str, Any], key: str) -> Decimal:
    """``payload[key]`` as an exact Decimal; zero when the provider leaves it out."""
    value = payload.get(key)
    return Decimal(0) if value is None else to_decimal(value)


def optional_amount(payload: dict[str, Any], key: str) -> Decimal | None:
    return optional_decimal(payload.get(key))
