"""The anti-corruption layer: one sub-package per provider.

Nothing outside this package knows a provider's field names, date formats, paging or
OAuth quirks; nothing inside it touches the database.
"""

from enum import StrEnum


class Provider(StrEnum):
    xero = "xero"
    quickbooks = "quickbooks"
    lightspeed = "lightspeed"
