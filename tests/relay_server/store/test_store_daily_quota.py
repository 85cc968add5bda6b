"""A client's daily quota in the store: taken inside the transaction that stores the messages,
by the UTC day of their creation, never past the limit however many write at once."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
from store_factories import new_message

from relay_server.store import Store
from relay_server.store.daily_quota import QuotaExceeded
from relay_server.store.models import Caller, HistoryQuery, NewMessage, StatusChange
from relay_server.store.otp import NewOtp

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
MIDNIGHT = datetime(2026, 3, 11, tzinfo=timezone.utc)


def _send(store: Store, caller: Caller, count: int = 1, *, at: datetime = NOON, quota: int | None = 3) -> int:
    """Store ``count`` messages of the caller at ``at`` under ``quota``: how many were stored."""
    messages = [new_message(caller, to=f"+2637710{n:05d}") for n in range(count)]
    return len(store.insert_messages(messages, at=at, daily_quota=quota))


def _otp(caller: Caller, at: datetime, n: int) -> tuple[NewOtp, NewMessage]:
    otp = NewOtp(
        otp_id=f"otp_{n:016x}",
        client_id=caller.client_id,
        is_test=False,
        to=f"+2637720{n:05d}",
        purpose="",
        code_mac="0" * 64,
        created_at=at,
        expires_at=at + timedelta(minutes=5),
    )
    return otp, new_message(caller, to=otp.to, body="Code ******")


def test_a_send_past_the_quota_raises_with_where_the_client_stands_and_stores_nothing(
    store: Store, live_caller: Caller
) -> None:
    assert _send(store, live_caller, 2) == 2

    with pytest.raises(QuotaExceeded) as refused:
        _send(store, live_caller, 2)

    assert (refused.value.limit, refused.value.used, refused.value.requested) == (3, 2, 2)
    assert refused.value.resets_at == MIDNIGHT
    assert store.history(live_caller, HistoryQuery()).total == 2
    assert _send(store, live_caller, 1) == 1
    assert store.daily_quotas.used_on([live_caller.client_id], NOON) == {live_caller.client_id: 3}


def test_an_otp_takes_one_of_the_quota_in_its_own_transaction(store: Store, live_caller: Caller) -> None:
    assert _send(store, live_caller, 2) == 2
    store.create_otp(*_otp(live_caller, NOON, 1), daily_quota=3)

    with pytest.raises(QuotaExceeded):
        store.create_otp(*_otp(live_caller, NOON, 2), daily_quota=3)

    assert store.history(live_caller, HistoryQuery()).total == 3


def test_the_day_is_the_utc_day_the_messages_are_created_on(store: Store, live_caller: Caller) -> None:
    last_second = MIDNIGHT - timedelta(seconds=1)
    assert _send(store, live_caller, 3, at=last_second) == 3
    with pytest.raises(QuotaExceeded):
        _send(store, live_caller, at=last_second)

    assert _send(store, live_caller, 3, at=MIDNIGHT) == 3

    assert store.daily_quotas.used_on([live_caller.client_id], MIDNIGHT) == {live_caller.client_id: 3}
    assert store.stats(live_caller, None, None, None).pending == 6


def test_sends_without_a_quota_are_what_the_day_has_used_when_one_is_set(store: Store, live_caller: Caller) -> None:
    assert _send(store, live_caller, 2, quota=None) == 2

    assert store.daily_quotas.used_on([live_caller.client_id], NOON) == {live_caller.client_id: 2}
    with pytest.raises(QuotaExceeded) as refused:
        _send(store, live_caller, 2)
    assert refused.value.used == 2


def test_live_sends_made_without_the_quota_after_the_day_began_count_too(store: Store, live_caller: Caller) -> None:
    """A caller authenticated before its client's quota was set carries none until the caller
    caches hear of it: its sends are the day's all the same."""
    assert _send(store, live_caller, 1) == 1
    assert _send(store, live_caller, 1, quota=None) == 1

    with pytest.raises(QuotaExceeded) as refused:
        _send(store, live_caller, 2)

    assert refused.value.used == 2


def test_a_quota_set_again_counts_the_sends_made_while_there_was_none(store: Store, live_caller: Caller) -> None:
    assert _send(store, live_caller, 1) == 1
    store.daily_quotas.set_limit(live_caller.client_id, None)
    assert _send(store, live_caller, 1, quota=None) == 1

    store.daily_quotas.set_limit(live_caller.client_id, 3)

    assert _send(store, live_caller, 1) == 1
    with pytest.raises(QuotaExceeded):
        _send(store, live_caller, 1)


def test_a_client_keeps_its_quota_and_its_callers_carry_it(store: Store) -> None:
    client, key = store.clients.create("Acme")
    assert store.clients.authenticate(client.client_id, key).daily_quota is None

    assert store.daily_quotas.set_limit(client.client_id, 250) is not None

    assert store.clients.get(client.client_id).daily_quota == 250  # type: ignore[union-attr]
    assert store.clients.authenticate(client.client_id, key).daily_quota == 250
    assert store.daily_quotas.set_limit("client_0000000000", 5) is None


def test_setting_a_quota_tells_those_who_cache_callers(store: Store) -> None:
    client, _key = store.clients.create("Acme")
    told: list[int] = []
    store.credentials_changed.append(lambda: told.append(1))

    store.daily_quotas.set_limit(client.client_id, 5)
    store.daily_quotas.set_limit(client.client_id, None)

    assert told == [1, 1]


def test_threads_sending_at_once_never_store_more_than_the_quota(store: Store, live_caller: Caller) -> None:
    stored: list[int] = []

    def sender() -> None:
        for _ in range(5):
            try:
                stored.append(_send(store, live_caller, 2, quota=25))
            except QuotaExceeded:
                stored.append(0)

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(stored) == 24  # 2 at a time: the 13th pair would pass 25
    assert store.history(live_caller, HistoryQuery()).total == 24
    assert store.daily_quotas.used_on([live_caller.client_id], NOON) == {live_caller.client_id: 24}


SENDER = """
import sys
import threading
from datetime import datetime, timezone

from relay_server.store import Store
from relay_server.store.daily_quota import QuotaExceeded
from relay_server.store.models import NewMessage

store = Store.open(sys.argv[1])
at = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
stored = []
failures = []


def sender(first: int) -> None:
    for n in range(first, first + 20):
        client_id = sys.argv[2 + n % 2]  # from one client to the other, so that commits shared mix them
        message = NewMessage(
            client_id=client_id, is_test=False, to="+263771000001", body="hi", priority=3, segments=1,
            encoding="GSM-7",
        )
        try:
            stored.extend(store.insert_messages([message], at=at, daily_quota=150))
        except QuotaExceeded:
            pass
        except Exception as exc:  # a deadlock, say: the test fails on it
            failures.append(repr(exc))


threads = [threading.Thread(target=sender, args=(first,)) for first in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(stored), len(failures))
sys.stderr.write("\\n".join(failures))
"""


def test_processes_sending_for_two_clients_at_once_store_each_its_quota_and_no_more(store: Store) -> None:
    """Sends of two clients with quotas, from four processes of four threads each: the threads of
    a process share commits, and two such commits locking the two clients' rows in two orders
    would deadlock on PostgreSQL (sends with a quota take a transaction of their own there)."""
    clients = [store.clients.create(name)[0].client_id for name in ("Acme", "Globex")]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, str(store.engine.url.render_as_string(hide_password=False)), *clients],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0, 0], outputs
    counts = [tuple(map(int, out.split())) for out, _err in outputs]
    assert [failed for _stored, failed in counts] == [0, 0, 0, 0], outputs
    assert sum(stored for stored, _failed in counts) == 300  # of 320 tries, 160 for each client
    assert store.daily_quotas.used_on(clients, NOON) == {client_id: 150 for client_id in clients}


def test_messages_purged_stay_counted_on_their_day(store: Store, live_caller: Caller) -> None:
    messages = [new_message(live_caller, to=f"+2637710{n:05d}") for n in range(2)]
    for message in store.insert_messages(messages, at=NOON, daily_quota=3):
        store.apply_status_change(StatusChange(message.message_id, "delivered", NOON + timedelta(minutes=1)))
    assert _send(store, live_caller, 1, at=MIDNIGHT) == 1

    assert store.purge_older_than(MIDNIGHT) == 2

    assert store.daily_quotas.used_on([live_caller.client_id], NOON) == {live_caller.client_id: 2}
    assert store.daily_quotas.used_on([live_caller.client_id], MIDNIGHT) == {live_caller.client_id: 1}
    with pytest.raises(QuotaExceeded):
        _send(store, live_caller, 2)
