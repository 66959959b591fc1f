"""One process of the refresh race: N threads each asking for a token and using it at once.

Run as ``python -m tests.connections.refresh_worker <job as JSON>``; prints a
JSON tally. (A module of its own so the test can start it as a real process.)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter

import httpx

from ledgerbridge.connections.tokens import NeedsReauth, access_token
from ledgerbridge.services import Services
from ledgerbridge.settings import load_settings


def main() -> None:
    job = json.loads(sys.argv[1])
    settings = load_settings(**job["settings"])
    svc = Services.build(settings)
    tally: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + job["seconds"]

    def caller() -> None:
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < deadline:
                try:
                    token = access_token(svc.db, svc.vault, settings, job["connection_id"])
                except NeedsReauth as exc:
                    outcome = f"needs_reauth: {exc}"
                else:
                    answer = http.get(
                        job["probe_url"],
                        headers={
                            "Authorization": f"Bearer {token.token}",
                            "Accept": "application/json",
                        },
                    )
                    outcome = str(answer.status_code)
                with lock:
                    tally[outcome] += 1
                time.sleep(0.02)

    threads = [threading.Thread(target=caller) for _ in range(job["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    svc.db.dispose()
    print(json.dumps(tally))


if __name__ == "__main__":
    main()
