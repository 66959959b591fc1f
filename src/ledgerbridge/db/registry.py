"""Every capability's tables, gathered for Alembic and for tests."""

from ledgerbridge.db.base import Base
from ledgerbridge.security import models as _security  # noqa: F401

metadata = Base.metadata
