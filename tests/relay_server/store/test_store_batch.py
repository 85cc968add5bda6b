"""A batch of writes shares one commit, and each write in it still stands or falls alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from migrated_store import open_migrated
from store_factories import new_message

from relay_server.store import Store
from relay_server.store.errors import UnknownMessage
from relay_server.store.models import Caller, Message, StatusChange
from zimsend_common.timefmt import utcnow


def test_a_batch_commits_once_and_others_see_its_writes_only_when_it_ends(
    store: Store, live_caller: Caller, observer: Store
):
    first, second = _queued(store, live_caller, 2)
    commits: list[int] = []
    sa.event.listen(store.engine, "commit", lambda conn: commits.append(1))
    told: list[str] = []

    with store.batch():
        for message in (first, second):
            assert store.apply_status_change(StatusChange(message.message_id, "sent", utcnow())).applied
            store.after_commit(lambda message=message: told.append(message.message_id))
        assert store.get_message_by_id(first.message_id).status == "sent"  # type: ignore[union-attr]
        assert _status(observer, first) == _status(observer, second) == "queued"
        assert told == []

    assert len(commits) == 1
    assert _status(observer, first) == _status(observer, second) == "sent"
    assert told == [first.message_id, second.message_id]


def test_a_write_that_fails_in_a_batch_is_undone_alone_and_the_rest_commit(
    store: Store, live_caller: Caller, observer: Store
):
    first, second = _queued(store, live_caller, 2)

    with store.batch():
        store.apply_status_change(StatusChange(first.message_id, "sent", utcnow()))
        with pytest.raises(UnknownMessage):
            store.apply_status_change(StatusChange("msg_nosuchmessage000000", "sent", utcnow()))
        store.apply_status_change(StatusChange(second.message_id, "delivered", utcnow()))

    assert _status(observer, first) == "sent"
    assert _status(observer, second) == "delivered"


def test_a_batch_that_raises_stores_nothing_and_runs_nothing_it_put_off(
    store: Store, live_caller: Caller, observer: Store
):
    [message] = _queued(store, live_caller, 1)
    told: list[str] = []

    with pytest.raises(ConnectionError), store.batch():
        store.apply_status_change(StatusChange(message.message_id, "sent", utcnow()))
        store.after_commit(lambda: told.append("acknowledged"))
        raise ConnectionError("Redis went away mid-batch")

    assert _status(observer, message) == "queued"
    assert told == []


def test_outside_a_batch_what_waits_for_the_commit_runs_at_once(store: Store):
    told: list[str] = []

    store.after_commit(lambda: told.append("acknowledged"))

    assert told == ["acknowledged"]


def test_sends_inside_a_batch_commit_with_it(store: Store, live_caller: Caller, observer: Store):
    with store.batch():
        [message] = _queued(store, live_caller, 1)
        assert observer.get_message_by_id(message.message_id) is None

    assert _status(observer, message) == "queued"


def _queued(store: Store, caller: Caller, count: int) -> list[Message]:
    return store.insert_messages(
        [new_message(caller.client_id, to=f"+2637710{n:05d}", body=f"batch {n}") for n in range(count)]
    )


def _status(store: Store, message: Message) -> str | None:
    found = store.get_message_by_id(message.message_id)
    return None if found is None else found.status


@pytest.fixture
def observer(database_url: str) -> Iterator[Store]:
    """A second store on the same database, as another process would open it."""
    opened = open_migrated(database_url)
    try:
        yield opened
    finally:
        opened.close()
