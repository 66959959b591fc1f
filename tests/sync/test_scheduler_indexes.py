"""The scheduler's tick reads ``sync_runs`` through indexes, not by scanning every run
ever made (PostgreSQL's plans, read with EXPLAIN)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

PLANS = {
    # The latest run of each connection.
    "SELECT connection_id, max(created_at) FROM sync_runs GROUP BY connection_id": (
        "ix_sync_runs_connection_created"
    ),
    # Runs a crash left queued.
    "SELECT id FROM sync_runs WHERE status = 'queued'"
    " AND created_at < now() - interval '1 minute'": "ix_sync_runs_status_created",
}


@pytest.mark.parametrize("query", list(PLANS))
def test_the_scheduler_queries_use_their_index(database_url: str, query: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("reads PostgreSQL's plans")
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            # The table is small in a test: forbid the sequential scan to see the index is usable.
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            connection.execute(text("SET LOCAL app.system = 'on'"))
            plan = "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {query}")))
    finally:
        engine.dispose()
    assert PLANS[query] in plan, plan
