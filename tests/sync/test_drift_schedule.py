"""The drift audit's schedule: every type of every connection once per period, spread
evenly over it, never all at once (``sync.drift.due``)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from ledgerbridge.sync.drift import Candidate, due, slot

PERIOD = timedelta(days=7)
TICK = timedelta(minutes=30)  # the scheduler asks every 5 minutes; coarser here, for speed
TYPES = ["Contacts", "Invoices", "Payments", "Items"]


def simulate(
    connections: int, start: datetime, days: int, tick: timedelta = TICK
) -> dict[tuple[int, str], list[datetime]]:
    """Connections all made at ``start`` (an import, say); ask ``due`` every tick until
    ``days`` later (inclusive); an audit asked for finishes at once."""
    last = {(c, t): start for c in range(1, connections + 1) for t in TYPES}
    audits: dict[tuple[int, str], list[datetime]] = {key: [] for key in last}
    now = start
    while now <= start + timedelta(days=days):
        candidates = [Candidate(c, t, TYPES.index(t), since) for (c, t), since in last.items()]
        for connection_id, types in due(candidates, now, PERIOD).items():
            for object_type in types:
                last[connection_id, object_type] = now
                audits[connection_id, object_type].append(now)
        now += tick
    return audits


def test_every_type_is_audited_once_a_period_and_never_later() -> None:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    days = 22
    audits = simulate(100, start, days=days)
    end = start + timedelta(days=days)
    for key, times in audits.items():
        assert times and times[0] - start <= PERIOD + TICK, key  # the first within one period
        gaps = [b - a for a, b in pairwise(times)]
        assert all(PERIOD - TICK <= gap <= PERIOD + TICK for gap in gaps), (key, gaps)
        assert end - times[-1] <= PERIOD + TICK, key


def test_audits_are_spread_over_the_period_not_bunched() -> None:
    """Even connections made in the same minute are audited evenly over the week."""
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    audits = simulate(600, start, days=7, tick=timedelta(hours=1))
    hours = [
        int((moment - start - timedelta(seconds=1)) / timedelta(hours=1))
        for times in audits.values()
        for moment in times
    ]
    per_hour = Counter(hours)
    total = sum(per_hour.values())
    assert total == 600 * len(TYPES)  # each type once in the week
    mean = total / (7 * 24)
    assert len(per_hour) == 7 * 24  # every hour of the week has some
    assert max(per_hour.values()) <= 1.5 * mean, per_hour.most_common(3)
    assert min(per_hour.values()) >= 0.5 * mean, sorted(per_hour.values())[:3]
    # A connection's types are audited at different times, not in one heavy run.
    spread = {c: {audits[c, t][0] for t in TYPES} for c in range(1, 601)}
    assert sum(len(times) == len(TYPES) for times in spread.values()) >= 590


def test_a_new_connection_waits_for_its_slot() -> None:
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    at = slot(7, 0, now, PERIOD)
    assert now - PERIOD < at <= now
    assert due([Candidate(7, "Contacts", 0, at - timedelta(seconds=1))], now, PERIOD) == {
        7: ["Contacts"]
    }
    assert due([Candidate(7, "Contacts", 0, at)], now, PERIOD) == {}  # audited at its slot
    assert due([Candidate(7, "Contacts", 0, at + timedelta(hours=1))], now, PERIOD) == {}
