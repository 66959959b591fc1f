"""Field types every capability's API shapes share."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

# Printable text: no control characters (PostgreSQL refuses NUL; logs and UIs choke on the rest).
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f/]+$")
]
