"""Failed tries at agent events: counted per event, then kept as dead letters with all they carried."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from held_commits import commit_held
from held_locks import someone_waits_for_a_lock
from in_threads import in_thread
from migrated_store import open_migrated
from waiting import wait_until

from relay_server.store import Store
from relay_server.store.models import EventFailure
from zimsend_common.timefmt import utcnow

PAYLOAD = {
    "kind": "received",
    "event_id": "evt_poison",
    "device_id": "device_abcdefghijkl",
    "at": "2026-12-03T10:00:00Z",
    "data": {"sender": "+263772000111", "text": "NUL \x00 and lone \ud800 and 😀"},
}


START = utcnow().replace(microsecond=0)


def _failure(at_seconds: int, event_id: str = "evt_poison") -> EventFailure:
    return EventFailure(
        event_id=event_id,
        kind="received",
        device_id="device_abcdefghijkl",
        reason="DataError",
        error="DataError: PostgreSQL text fields cannot contain NUL (0x00) bytes \x00",
        payload=PAYLOAD,
        at=START + timedelta(seconds=at_seconds),
    )


def test_an_event_is_tried_up_to_the_limit_then_kept_as_a_dead_letter(store: Store) -> None:
    tallies = [store.record_event_failure(_failure(n), max_attempts=5) for n in range(5)]
    assert [(t.attempts, t.state) for t in tallies] == [
        (1, "retry"),
        (2, "retry"),
        (3, "retry"),
        (4, "retry"),
        (5, "dead_lettered"),
    ]

    [letter] = store.list_dead_letters()
    assert (letter.event_id, letter.kind, letter.device_id, letter.reason, letter.attempts) == (
        "evt_poison",
        "received",
        "device_abcdefghijkl",
        "DataError",
        5,
    )
    assert letter.error.startswith("DataError: PostgreSQL text fields cannot contain NUL")
    assert letter.payload == PAYLOAD  # exactly, odd characters and all
    assert letter.first_attempt_at == _failure(0).at
    assert letter.last_attempt_at == letter.dead_lettered_at == _failure(4).at


def test_a_dead_letter_handed_on_again_stays_one_dead_letter(store: Store) -> None:
    for n in range(2):
        store.record_event_failure(_failure(n), max_attempts=2)
    again = store.record_event_failure(_failure(9), max_attempts=2)
    assert (again.attempts, again.state) == (2, "already_dead_lettered")
    assert len(store.list_dead_letters()) == 1


def test_dead_letters_are_listed_newest_first_up_to_the_limit(store: Store) -> None:
    for n, event_id in enumerate(["evt_a", "evt_b", "evt_c"]):
        store.record_event_failure(_failure(n, event_id), max_attempts=1)
    assert [letter.event_id for letter in store.list_dead_letters(limit=2)] == ["evt_c", "evt_b"]


def test_purge_drops_dead_letters_and_counts_of_tries_past_retention(store: Store) -> None:
    store.record_event_failure(_failure(0, "evt_dead"), max_attempts=1)
    store.record_event_failure(_failure(0, "evt_tried"), max_attempts=5)
    store.purge_older_than(utcnow() + timedelta(minutes=1))
    assert store.list_dead_letters() == []
    # The count started afresh: the old tries were forgotten.
    assert store.record_event_failure(_failure(1, "evt_tried"), max_attempts=5).attempts == 1


def test_a_try_counted_while_the_purge_waits_on_its_old_count_keeps_the_count(postgres_url: str) -> None:
    """On PostgreSQL the purge picks the old count of an event's tries, then waits on the row
    another try holds; the count that try brought up to date is kept, not forgotten."""
    store = open_migrated(postgres_url)
    try:
        store.record_event_failure(replace(_failure(0), at=utcnow() - timedelta(days=2)), max_attempts=5)
        with commit_held(store.engine) as (counting, release):
            counted = in_thread(lambda: store.record_event_failure(replace(_failure(0), at=utcnow()), max_attempts=5))
            assert counting.wait(30), "the try never reached its commit"
            purged = in_thread(lambda: store.purge_older_than(utcnow() - timedelta(days=1)))
            wait_until(lambda: someone_waits_for_a_lock(postgres_url), "the purge to wait on the try's lock", 30)
            release.set()
            assert counted.result(30).attempts == 2
            purged.result(30)
        assert store.record_event_failure(_failure(1), max_attempts=5).attempts == 3
    finally:
        store.close()
