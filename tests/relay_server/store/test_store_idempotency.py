from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from relay_server.store import Store
from relay_server.store.models import Caller
from relay_server.store.schema import idempotency_keys
from zimsend_common.timefmt import utcnow


def _age(store: Store, client_id: str, key: str, hours: float) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.client_id == client_id, idempotency_keys.c.key == key)
            .values(created_at=utcnow() - timedelta(hours=hours))
        )


def test_a_stored_answer_is_found_by_its_key(store: Store, live_caller: Caller) -> None:
    put = store.idempotency_put(live_caller.client_id, "order-1", "hash-a", 202, b'{"success":true}')

    got = store.idempotency_get(live_caller.client_id, "order-1")

    assert got == put
    assert (got.request_hash, got.status_code, got.body) == ("hash-a", 202, b'{"success":true}')


def test_an_unknown_key_or_another_clients_key_finds_nothing(
    store: Store, live_caller: Caller, other_caller: Caller
) -> None:
    store.idempotency_put(live_caller.client_id, "order-1", "hash-a", 202, b"{}")

    assert store.idempotency_get(live_caller.client_id, "order-2") is None
    assert store.idempotency_get(other_caller.client_id, "order-1") is None


def test_the_first_answer_wins_over_a_later_one(store: Store, live_caller: Caller) -> None:
    first = store.idempotency_put(live_caller.client_id, "order-1", "hash-a", 202, b"first")

    second = store.idempotency_put(live_caller.client_id, "order-1", "hash-b", 400, b"second")

    assert second == first
    assert store.idempotency_get(live_caller.client_id, "order-1").body == b"first"


def test_concurrent_requests_with_one_key_all_see_the_same_answer(store: Store, live_caller: Caller) -> None:
    start = threading.Barrier(6)
    results = []

    def put(n: int) -> None:
        start.wait()
        results.append(store.idempotency_put(live_caller.client_id, "order-1", f"hash-{n}", 202, b"%d" % n))

    threads = [threading.Thread(target=put, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 6
    assert len(set(results)) == 1
    assert store.idempotency_get(live_caller.client_id, "order-1") == results[0]


def test_an_answer_older_than_a_day_is_forgotten_and_can_be_replaced(store: Store, live_caller: Caller) -> None:
    store.idempotency_put(live_caller.client_id, "order-1", "hash-a", 202, b"old")
    _age(store, live_caller.client_id, "order-1", hours=24.5)

    assert store.idempotency_get(live_caller.client_id, "order-1") is None
    fresh = store.idempotency_put(live_caller.client_id, "order-1", "hash-b", 202, b"new")
    assert fresh.body == b"new"
    assert store.idempotency_get(live_caller.client_id, "order-1") == fresh


def test_an_answer_just_under_a_day_old_still_counts(store: Store, live_caller: Caller) -> None:
    store.idempotency_put(live_caller.client_id, "order-1", "hash-a", 202, b"kept")
    _age(store, live_caller.client_id, "order-1", hours=23.5)

    assert store.idempotency_get(live_caller.client_id, "order-1").body == b"kept"


def test_purging_drops_expired_answers_only(store: Store, live_caller: Caller) -> None:
    store.idempotency_put(live_caller.client_id, "old", "hash-a", 202, b"old")
    store.idempotency_put(live_caller.client_id, "new", "hash-b", 202, b"new")
    _age(store, live_caller.client_id, "old", hours=25)

    store.purge_older_than(utcnow() - timedelta(days=90))

    with store.engine.connect() as conn:
        keys = conn.execute(sa.select(idempotency_keys.c.key)).scalars().all()
    assert keys == ["new"]
