"""One-time passwords in the store: creation with its message, the hourly limit, verification under concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from store_factories import new_message

from relay_server.store import Store, ids
from relay_server.store.models import Caller, HistoryQuery
from relay_server.store.otp import MAX_PER_HOUR, NewOtp, OtpRateLimited, Verification
from relay_server.store.otp_schema import otps
from zimsend_common.timefmt import utcnow

RIGHT = "a" * 64
WRONG = "b" * 64
NOW = utcnow().replace(microsecond=0)


def otp_for(caller: Caller, *, to: str = "+263771234567", purpose: str = "", at: datetime = NOW) -> NewOtp:
    return NewOtp(
        otp_id=ids.new_otp_id(),
        client_id=caller.client_id,
        is_test=caller.is_test,
        to=to,
        purpose=purpose,
        code_mac=RIGHT,
        created_at=at,
        expires_at=at + timedelta(minutes=5),
    )


def create(store: Store, caller: Caller, **fields) -> NewOtp:
    otp = otp_for(caller, **fields)
    store.create_otp(otp, new_message(caller, to=otp.to, body="Code ******", priority=1))
    return otp


def otp_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(otps)).scalar_one()


def test_an_otp_is_stored_with_its_queued_message_created_at_the_same_moment(store, live_caller):
    otp = otp_for(live_caller)
    message = store.create_otp(otp, new_message(live_caller, body="Code ******", priority=1))
    assert (message.status, message.body, message.created_at) == ("queued", "Code ******", NOW)
    assert store.get_message(live_caller, message.message_id) == message
    [plain] = store.insert_messages([new_message(live_caller)])
    assert store.otp_messages([message.message_id, plain.message_id, "msg_unknown"]) == {message.message_id}


def test_the_hourly_limit_refuses_the_eleventh_and_stores_nothing_for_it(store, live_caller):
    for minute in range(MAX_PER_HOUR):
        create(store, live_caller, at=NOW + timedelta(minutes=minute))
    with pytest.raises(OtpRateLimited) as refused:
        create(store, live_caller, at=NOW + timedelta(minutes=30))
    assert refused.value.retry_at == NOW + timedelta(hours=1)
    assert otp_rows(store) == MAX_PER_HOUR
    assert store.history(live_caller, HistoryQuery()).total == MAX_PER_HOUR
    create(store, live_caller, at=NOW + timedelta(hours=1))  # the first one has left the hour


def test_simultaneous_creations_for_one_number_never_pass_the_hourly_limit(store, live_caller):
    outcomes: list[str] = []
    start = threading.Barrier(MAX_PER_HOUR + 3)

    def attempt() -> None:
        start.wait()
        try:
            create(store, live_caller)
            outcomes.append("created")
        except OtpRateLimited:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(MAX_PER_HOUR + 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["created"] * MAX_PER_HOUR + ["refused"] * 3
    assert otp_rows(store) == MAX_PER_HOUR


def test_verification_outcomes_follow_the_otps_state(store, live_caller, other_caller):
    otp = create(store, live_caller)
    assert store.verify_otp(other_caller, otp.otp_id, RIGHT, NOW) == Verification("unknown")
    assert store.verify_otp(live_caller, "otp_nope", RIGHT, NOW) == Verification("unknown")
    assert store.verify_otp(live_caller, otp.otp_id, WRONG, NOW) == Verification("wrong", attempts_remaining=2)
    assert store.verify_otp(live_caller, otp.otp_id, RIGHT, NOW) == Verification("verified", verified_at=NOW)
    assert store.verify_otp(live_caller, otp.otp_id, RIGHT, NOW) == Verification("used")

    expired = create(store, live_caller, purpose="expired")
    assert store.verify_otp(live_caller, expired.otp_id, RIGHT, expired.expires_at) == Verification("expired")

    replaced = create(store, live_caller, purpose="again")
    create(store, live_caller, purpose="again")
    assert store.verify_otp(live_caller, replaced.otp_id, RIGHT, NOW) == Verification("superseded")


def test_simultaneous_right_codes_verify_exactly_once(store, live_caller, database_url):
    otp = create(store, live_caller)
    outcomes = _race(store, otp.otp_id, lambda: store.verify_otp(live_caller, otp.otp_id, RIGHT, NOW), 5)
    assert sorted(result.outcome for result in outcomes) == ["used"] * 4 + ["verified"]


def test_simultaneous_wrong_codes_use_up_exactly_the_three_attempts(store, live_caller):
    otp = create(store, live_caller)
    outcomes = _race(store, otp.otp_id, lambda: store.verify_otp(live_caller, otp.otp_id, WRONG, NOW), 5)
    wrong = sorted(result.attempts_remaining for result in outcomes if result.outcome == "wrong")
    assert wrong == [0, 1, 2]
    assert sorted(result.outcome for result in outcomes if result.outcome != "wrong") == ["exhausted"] * 2
    assert store.verify_otp(live_caller, otp.otp_id, RIGHT, NOW) == Verification("exhausted")


def test_purging_drops_otps_created_before_the_cutoff(store, live_caller):
    create(store, live_caller, at=NOW - timedelta(days=91))
    kept = create(store, live_caller, at=NOW, purpose="kept")
    store.purge_older_than(NOW - timedelta(days=90))
    assert otp_rows(store) == 1
    assert store.verify_otp(live_caller, kept.otp_id, RIGHT, NOW).outcome == "verified"


def _race(store: Store, otp_id: str, attempt: Callable[[], Verification], count: int) -> list[Verification]:
    """Run ``count`` attempts at once, each having read the OTP before any of them writes.

    On PostgreSQL a row lock held until every attempt waits on it makes the
    race certain; SQLite's write transactions are serialised, so there the
    attempts simply start together.
    """
    results: list[Verification] = []
    start = threading.Barrier(count)

    def run() -> None:
        start.wait()
        results.append(attempt())

    threads = [threading.Thread(target=run) for _ in range(count)]
    with _row_locked(store, otp_id, count):
        for thread in threads:
            thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == count
    return results


@contextmanager
def _row_locked(store: Store, otp_id: str, waiters: int) -> Iterator[None]:
    if store.engine.dialect.name != "postgresql":
        yield
        return
    with store.engine.connect() as conn, conn.begin():
        conn.execute(sa.select(otps.c.otp_id).where(otps.c.otp_id == otp_id).with_for_update())
        yield
        _wait_for_lock_waiters(store.engine, waiters)


def _wait_for_lock_waiters(engine: sa.Engine, waiters: int) -> None:
    """Until ``waiters`` sessions of this database wait on a lock (they have all read by then)."""
    deadline = time.monotonic() + 30
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while True:
        # A new connection each time: a session sees pg_stat_activity as of its transaction's start.
        with engine.connect() as conn:
            if conn.execute(query).scalar_one() >= waiters:
                return
        assert time.monotonic() < deadline, "the verifications never reached their UPDATE"
        time.sleep(0.01)
