"""The event feed never skips or repeats, whatever order transactions commit in.

On PostgreSQL two real connections interleave: transaction A appends an event and stays
open while B appends and commits; a reader paging ``after=`` must not move past A's
event before A commits. A randomized test then runs several writer threads (some rolling
back) against a reader paging all the while: the pages together hold every committed
event exactly once, and a reader starting later reads them in the same order.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from ledgerbridge.db.engine import Database
from ledgerbridge.db.tenancy import scope
from ledgerbridge.events.feed import events_after
from ledgerbridge.events.service import append
from ledgerbridge.settings import Settings
from tests.conftest import TokenFactory
from tests.support import PG_ADMIN_URL

VISIBLE_WITHIN = 20.0  # seconds: other databases' transactions on a shared server delay it


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database.connect(settings)
    yield database
    database.dispose()


def _page(client: TestClient, headers: dict[str, str], after: str, limit: int = 100) -> dict:
    response = client.get("/v1/events", params={"after": after, "limit": limit}, headers=headers)
    assert response.status_code == 200, response.text
    page: dict = response.json()
    return page


def _read_until(read: Callable[[], list[str]], done: Callable[[list[str]], bool]) -> list[str]:
    """Keep reading until ``done`` says so (the horizon waits for every older transaction
    on the server, other tests' included)."""
    seen: list[str] = []
    deadline = time.monotonic() + VISIBLE_WITHIN
    while not done(seen) and time.monotonic() < deadline:
        seen += read()
        if not done(seen):
            time.sleep(0.05)
    return seen


def test_a_transaction_open_while_a_later_one_commits_is_not_skipped(
    database_url: str,
    db: Database,
    client: TestClient,
    auth: TokenFactory,
    tenant: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite admits one writer at a time: there is nothing to interleave")
    headers = auth(tenant)
    cursor = "0"

    def read() -> list[str]:
        nonlocal cursor
        page = _page(client, headers, cursor)
        cursor = page["next_after"] or cursor
        return [event["subject"] for event in page["data"]]

    with db.sessions() as a:
        scope(a, tenant)
        a.begin()
        first = append(a, tenant, "test.event", "a:1")
        a.flush()  # A holds the lower id and the older transaction, uncommitted
        with db.tenant(tenant) as b:
            second = append(b, tenant, "test.event", "b:1")
            b.flush()
            assert second.id > first.id
        # B has committed. The old feed served id 2 here and never id 1.
        assert read() == []
        a.commit()
    seen = _read_until(read, lambda seen: len(seen) >= 2)
    assert seen == ["a:1", "b:1"]
    assert read() == []  # nothing repeats


def test_a_later_writer_with_a_lower_id_is_not_skipped(
    database_url: str,
    db: Database,
    client: TestClient,
    auth: TokenFactory,
    tenant: str,
) -> None:
    """B takes an id before A does, but A's transaction is older: A's event must still be
    served before any of B's, or after none that were served while A was open."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite admits one writer at a time: there is nothing to interleave")
    headers = auth(tenant)
    cursor = "0"

    def read() -> list[str]:
        nonlocal cursor
        page = _page(client, headers, cursor, limit=1)
        cursor = page["next_after"] or cursor
        return [event["subject"] for event in page["data"]]

    with db.sessions() as a, db.sessions() as b:
        scope(a, tenant)
        scope(b, tenant)
        a.begin()
        b.begin()
        append(a, tenant, "test.event", "a:0")  # A's transaction id is taken first
        a.flush()
        append(b, tenant, "test.event", "b:1")
        b.flush()
        append(a, tenant, "test.event", "a:2")  # a higher id than B's event
        a.flush()
        b.commit()
        assert read() == []
        a.commit()
    seen = _read_until(read, lambda seen: len(seen) >= 3)
    assert seen == ["a:0", "a:2", "b:1"]
    assert read() == []


def test_unknown_cursor_is_refused(client: TestClient, auth: TokenFactory, tenant: str) -> None:
    response = client.get("/v1/events", params={"after": 2**62}, headers=auth(tenant))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_cursor"


def test_random_writers_every_committed_event_once_in_a_stable_order(
    db: Database, tenant: str
) -> None:
    rng = random.Random(21)
    committed: list[int] = []
    lock = threading.Lock()
    writers_done = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        local = random.Random(seed)
        try:
            for n in range(8):
                with db.sessions() as session:
                    scope(session, tenant)
                    session.begin()
                    if db.is_sqlite:  # as Database.tenant does: the write lock up front
                        session.connection(execution_options={"sqlite_immediate": True})
                    events = []
                    for k in range(local.randint(1, 3)):
                        events.append(append(session, tenant, "test.event", f"w{seed}:{n}:{k}"))
                        session.flush()
                        time.sleep(local.uniform(0, 0.01))
                    if local.random() < 0.2:
                        session.rollback()
                        continue
                    session.commit()
                    with lock:
                        committed.extend(event.id for event in events)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    read: list[int] = []

    def read_all() -> None:
        after = read[-1] if read else 0
        read.extend(event.id for event in events_after(db, tenant, after, batch=4))

    threads = [threading.Thread(target=writer, args=(rng.randrange(1 << 30),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        read_all()  # a reader paging while writers commit in any order
        time.sleep(0.005)
    for thread in threads:
        thread.join()
    writers_done.set()
    assert not errors, errors
    deadline = time.monotonic() + VISIBLE_WITHIN
    while len(read) < len(committed) and time.monotonic() < deadline:
        read_all()
        time.sleep(0.05)

    assert len(read) == len(set(read)), "an event was served twice"
    assert set(read) == set(committed), "the pages miss committed events or hold others"
    again = [event.id for event in events_after(db, tenant, 0, batch=7)]
    assert again == read, "a second reader saw another order"


def test_only_this_databases_transactions_hold_the_feed_back(
    database_url: str, db: Database, tenant: str
) -> None:
    """A transaction open in another database of the server cannot write these events:
    it delays nothing. One open in this database (it has written something) holds back
    the events written after it until it ends."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the horizon is PostgreSQL's")
    elsewhere = psycopg.connect(PG_ADMIN_URL)  # the server's "postgres" database
    here = db.engine.connect()
    try:
        elsewhere.execute("SELECT pg_current_xact_id()")  # holds an xid, left open
        with db.tenant(tenant) as session:
            append(session, tenant, "test.event", "seen at once")
        assert [e.subject for e in events_after(db, tenant, 0)] == ["seen at once"]

        here.execute(text("SELECT pg_current_xact_id()"))  # an older writer, here
        with db.tenant(tenant) as session:
            later = append(session, tenant, "test.event", "after the open writer")
        assert [e.subject for e in events_after(db, tenant, 0)] == ["seen at once"]
        here.rollback()
        deadline = time.monotonic() + VISIBLE_WITHIN
        while len(seen := [e.subject for e in events_after(db, tenant, 0)]) < 2:
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)
        assert seen == ["seen at once", later.subject]
    finally:
        here.close()
        elsewhere.rollback()
        elsewhere.close()
