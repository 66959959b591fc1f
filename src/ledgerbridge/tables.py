"""Every capability's tables, gathered for Alembic and for tests."""

from ledgerbridge import executors as _executors  # noqa: F401
from ledgerbridge.audit import models as _audit  # noqa: F401
from ledgerbridge.connections import models as _connections  # noqa: F401
from ledgerbridge.db.base import Base
from ledgerbridge.erasure import models as _erasure  # noqa: F401
from ledgerbridge.events import models as _events  # noqa: F401
from ledgerbridge.inbound import models as _inbound  # noqa: F401
from ledgerbridge.push import models as _push  # noqa: F401
from ledgerbridge.reconcile import models as _reconcile  # noqa: F401
from ledgerbridge.security import models as _security  # noqa: F401
from ledgerbridge.sync import models as _sync  # noqa: F401
from ledgerbridge.webhooks import models as _webhooks  # noqa: F401

metadata = Base.metadata
