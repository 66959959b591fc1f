"""One process asking once for a connection's access token, as a data call that just got
a 401 with ``rejected`` does (which refreshes it). Prints the token it got.

Run as ``python -m tests.connections.refresh_once <job as JSON>`` (a real process the
tests can kill).
"""

from __future__ import annotations

import json
import sys

from ledgerbridge.connections.tokens import access_token
from ledgerbridge.services import Services
from ledgerbridge.settings import load_settings


def main() -> None:
    job = json.loads(sys.argv[1])
    settings = load_settings(**job["settings"])
    svc = Services.build(settings)
    try:
        token = access_token(
            svc.db, svc.vault, settings, job["connection_id"], rejected=job.get("rejected")
        )
    finally:
        svc.db.dispose()
    print(json.dumps({"token": token.token}))


if __name__ == "__main__":
    main()
