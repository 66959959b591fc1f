"""Field types and the base every capability's API shapes share."""

from __future__ import annotations

from typing import Annotated, Any, Self

from fastapi import Path
from pydantic import BaseModel, ConfigDict, StringConstraints

# Printable text: no control characters (PostgreSQL refuses NUL; logs and UIs choke on the rest).
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f/]+$")
]
# A row's id in a route's path.
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


class FromRow(BaseModel):
    """An answer read from a table row: each field from the row's attribute of the same name,
    ids (integers in the tables) as strings, stored values as the field's enum."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    @classmethod
    def of(cls, row: Any, /, **given: Any) -> Self:
        """The answer for ``row``; ``given`` supplies the fields the row names otherwise."""
        read = {name: getattr(row, name) for name in cls.model_fields if name not in given}
        return cls(**read, **given)
