from __future__ import annotations

import threading
from datetime import timedelta, timezone

import pytest
import sqlalchemy as sa
from query_plans import statements_run
from store_factories import new_message

from relay_server.store import Store, UnknownMessage
from relay_server.store.models import (
    ALLOWED_MOVES,
    STATUSES,
    Caller,
    Message,
    MessageError,
    StatusChange,
    TransitionResult,
)
from relay_server.store.schema import daily_counts, message_events
from relay_server.store.transactions import shared_transaction, write_transaction
from relay_server.store.transitions import apply_status_change
from zimsend_common.timefmt import utcnow

# How to bring a fresh (queued) message to each status along allowed moves.
PATH_TO = {
    "queued": (),
    "sent": ("sent",),
    "delivered": ("sent", "delivered"),
    "failed": ("failed",),
    "cancelled": ("cancelled",),
}
ALLOWED = {
    ("queued", "sent"),
    ("queued", "failed"),
    ("queued", "cancelled"),
    ("sent", "delivered"),
    ("sent", "failed"),
    # a delivery report that overtook the sent event
    ("queued", "delivered"),
}
ERROR = MessageError("NETWORK_ERROR", "no network", "+CMS ERROR: 330")


def _bring_to(store: Store, caller: Caller, status: str) -> Message:
    (message,) = store.insert_messages([new_message(caller)])
    for step in PATH_TO[status]:
        message = store.apply_status_change(StatusChange(message.message_id, step, utcnow())).message
    assert message.status == status
    return message


def _events(store: Store, message_id: str) -> list[str]:
    with store.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(message_events.c.status)
                .where(message_events.c.message_id == message_id)
                .order_by(message_events.c.event_id)
            ).scalars()
        )


@pytest.mark.parametrize("current", STATUSES)
def test_every_move_is_applied_only_when_the_lifecycle_allows_it(
    store: Store, live_caller: Caller, current: str
) -> None:
    for target in STATUSES:
        message = _bring_to(store, live_caller, current)
        events_before = _events(store, message.message_id)

        result = store.apply_status_change(StatusChange(message.message_id, target, utcnow(), error=ERROR))

        move = f"{current} -> {target}"
        if (current, target) in ALLOWED:
            assert result.applied is True, move
            assert result.message.status == target, move
            assert getattr(result.message, f"{target}_at") is not None, move
            assert len(_events(store, message.message_id)) > len(events_before), move
            assert store.get_message(live_caller, message.message_id) == result.message, move
        else:
            assert result.applied is False, move
            assert result.message == message, move
            assert store.get_message(live_caller, message.message_id) == message, move
            assert _events(store, message.message_id) == events_before, move


def test_a_repeated_change_keeps_the_first_time_and_device(store: Store, live_caller: Caller) -> None:
    (message,) = store.insert_messages([new_message(live_caller)])
    first = utcnow()
    sent = store.apply_status_change(StatusChange(message.message_id, "sent", first, device_id="device_aaaaaaaaaaaa"))

    again = store.apply_status_change(
        StatusChange(message.message_id, "sent", first + timedelta(minutes=1), device_id="device_bbbbbbbbbbbb")
    )

    assert again.applied is False
    assert again.message == sent.message
    assert again.message.sent_at == first
    assert again.message.device_id == "device_aaaaaaaaaaaa"
    assert _events(store, message.message_id) == ["queued", "sent"]


def test_a_failure_keeps_its_error_and_device(store: Store, live_caller: Caller) -> None:
    message = _bring_to(store, live_caller, "sent")
    at = utcnow()

    result = store.apply_status_change(
        StatusChange(message.message_id, "failed", at, device_id="device_aaaaaaaaaaaa", error=ERROR)
    )

    assert result.message.error == ERROR
    assert result.message.failed_at == at
    assert result.message.device_id == "device_aaaaaaaaaaaa"
    assert store.get_message(live_caller, message.message_id).error == ERROR


def test_a_delivery_report_that_overtakes_the_sent_event_fills_both(store: Store, live_caller: Caller) -> None:
    (message,) = store.insert_messages([new_message(live_caller)])
    delivered_at = utcnow()

    result = store.apply_status_change(StatusChange(message.message_id, "delivered", delivered_at))
    late_sent = store.apply_status_change(StatusChange(message.message_id, "sent", delivered_at - timedelta(seconds=5)))

    assert result.applied is True
    assert result.message.sent_at == delivered_at
    assert result.message.delivered_at == delivered_at
    assert late_sent.applied is False and late_sent.message.status == "delivered"
    assert _events(store, message.message_id) == ["queued", "sent", "delivered"]


def test_a_change_for_an_unknown_message_is_refused(store: Store) -> None:
    with pytest.raises(UnknownMessage):
        store.apply_status_change(StatusChange("msg_0000000000000000", "sent", utcnow()))


def test_concurrent_reports_for_one_message_end_in_one_consistent_state(store: Store, live_caller: Caller) -> None:
    (message,) = store.insert_messages([new_message(live_caller)])
    changes = [
        StatusChange(message.message_id, status, utcnow(), device_id="device_aaaaaaaaaaaa", error=ERROR)
        for status in ("sent", "delivered", "failed", "cancelled", "sent", "delivered")
    ]
    start = threading.Barrier(len(changes))
    applied: list[bool] = []

    def report(change: StatusChange) -> None:
        start.wait()
        applied.append(store.apply_status_change(change).applied)

    threads = [threading.Thread(target=report, args=(change,)) for change in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = store.get_message(live_caller, message.message_id)
    events = _events(store, message.message_id)
    assert final.status in {"delivered", "failed", "cancelled"}
    assert events[-1] == final.status
    for earlier, later in zip(events, events[1:]):
        assert later in ALLOWED_MOVES[earlier]
    stats = store.stats(live_caller, None, None, None)
    assert (stats.delivered, stats.failed, stats.pending) == (
        int(final.status == "delivered"),
        int(final.status == "failed"),
        0,
    )
    assert len(applied) == len(changes)


def test_a_move_answers_the_message_as_the_store_then_holds_it_whatever_zone_its_time_came_in(
    store: Store, live_caller: Caller
) -> None:
    (message,) = store.insert_messages([new_message(live_caller)])
    harare = timezone(timedelta(hours=2))
    moved = store.apply_status_change(
        StatusChange(message.message_id, "delivered", utcnow().astimezone(harare), device_id="device_000000000001")
    ).message
    assert store.get_message(live_caller, message.message_id) == moved
    assert moved.sent_at == moved.delivered_at and moved.delivered_at.tzinfo == timezone.utc


def counted(store: Store, caller: Caller) -> dict[str, tuple[int, int]]:
    """The client's daily counts by status, over every day and device: (count, kept)."""
    table = daily_counts
    query = (
        sa.select(table.c.status, sa.func.sum(table.c.count), sa.func.sum(table.c.kept))
        .where(table.c.client_id == caller.client_id)
        .group_by(table.c.status)
    )
    with store.engine.connect() as conn:
        return {status: (int(count), int(kept)) for status, count, kept in conn.execute(query) if count or kept}


def logged(store: Store) -> list[tuple[str, str]]:
    """Every message's status events, in the order they were written."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(message_events.c.message_id, message_events.c.status).order_by("event_id"))
        return [(message_id, status) for message_id, status in rows]


def test_a_shared_transactions_moves_are_logged_and_counted_in_one_write_each_at_its_end(
    store: Store, live_caller: Caller
) -> None:
    stored = store.insert_messages([new_message(live_caller) for _ in range(4)])

    def round_of_moves() -> None:
        with shared_transaction(store.engine):
            for message in stored:
                for status in ("sent", "delivered"):
                    store.apply_status_change(StatusChange(message.message_id, status, utcnow()))
            store.apply_status_change(StatusChange(stored[0].message_id, "failed", utcnow()))  # too late: nothing

    writes = statements_run(store.engine, round_of_moves, "INSERT INTO")
    assert [statement.split("(")[0].strip() for statement, _ in writes] == [
        "INSERT INTO message_events",
        "INSERT INTO daily_counts",
        "INSERT INTO daily_totals",
    ]
    assert counted(store, live_caller) == {"delivered": (4, 4)}
    moves = [(message.message_id, status) for message in stored for status in ("sent", "delivered")]
    assert logged(store)[len(stored) :] == moves  # after each message's "queued", in the order made


def test_a_move_undone_in_a_shared_transaction_is_not_counted_and_the_others_are(
    store: Store, live_caller: Caller
) -> None:
    undone, kept = store.insert_messages([new_message(live_caller) for _ in range(2)])

    def refused(message: Message) -> StatusChange:
        raise RuntimeError("refused once the row is locked")

    with shared_transaction(store.engine):
        store.apply_status_change(StatusChange(kept.message_id, "sent", utcnow()))
        with pytest.raises(RuntimeError), write_transaction(store.engine) as conn:
            # Moved, then the block fails: the move and its counts are undone together.
            apply_status_change(conn, StatusChange(undone.message_id, "sent", utcnow()))
            apply_status_change(conn, StatusChange(undone.message_id, "delivered", utcnow()), check=refused)

    assert counted(store, live_caller) == {"queued": (1, 1), "sent": (1, 1)}
    assert store.get_message(live_caller, undone.message_id).status == "queued"
    assert [move for move in logged(store) if move[0] == undone.message_id] == [(undone.message_id, "queued")]


def test_nothing_of_a_shared_transaction_that_fails_is_counted(store: Store, live_caller: Caller) -> None:
    [message] = store.insert_messages([new_message(live_caller)])
    with pytest.raises(RuntimeError), shared_transaction(store.engine):
        store.apply_status_change(StatusChange(message.message_id, "sent", utcnow()))
        raise RuntimeError("the round fails")
    assert counted(store, live_caller) == {"queued": (1, 1)}


def test_changes_applied_together_move_each_message_as_alone_in_as_many_statements_for_many(
    store: Store, live_caller: Caller
) -> None:
    cancelled = _bring_to(store, live_caller, "cancelled")
    few, many = (store.insert_messages([new_message(live_caller) for _ in range(count)]) for count in (2, 20))
    at = utcnow()

    def fail_all(messages: list[Message]) -> list[TransitionResult]:
        ids = [message.message_id for message in messages] + ["msg_0000000000000000"]  # this one unknown
        return store.apply_status_changes([StatusChange(message_id, "failed", at, error=ERROR) for message_id in ids])

    results: list[list[TransitionResult]] = []

    def run(stored: list[Message]) -> int:
        return len(statements_run(store.engine, lambda: results.append(fail_all(stored)), ""))

    ran = [run(few), run(many)]
    cancelled_too = fail_all([cancelled])

    # Each failed with its status event and counts, the unknown message left out, a cancel that came first kept.
    assert [(result.applied, result.message.status) for result in results[0]] == [(True, "failed")] * 2
    assert [(result.applied, result.message.status) for result in cancelled_too] == [(False, "cancelled")]
    for message in [*few, *many]:
        assert store.get_message(live_caller, message.message_id).error == ERROR
        assert _events(store, message.message_id) == ["queued", "failed"]
    assert counted(store, live_caller) == {"failed": (22, 22), "cancelled": (1, 1)}
    assert ran[1] == ran[0]


def test_a_message_named_twice_in_changes_applied_together_moves_once_as_one_at_a_time_would(
    store: Store, live_caller: Caller
) -> None:
    (message,) = store.insert_messages([new_message(live_caller)])
    change = StatusChange(message.message_id, "failed", utcnow(), error=ERROR)

    results = store.apply_status_changes([change, change])

    assert [(result.applied, result.message.status) for result in results] == [(True, "failed"), (False, "failed")]
    assert _events(store, message.message_id) == ["queued", "failed"]
    assert counted(store, live_caller) == {"failed": (1, 1)}

    # Named again further on, with another message's change between: moved on from there.
    first, other = store.insert_messages([new_message(live_caller), new_message(live_caller)])
    at = utcnow()
    store.apply_status_changes(
        [
            StatusChange(other.message_id, "failed", at, error=ERROR),
            StatusChange(first.message_id, "sent", at),
            StatusChange(first.message_id, "delivered", at),
        ]
    )
    assert store.get_message(live_caller, first.message_id).status == "delivered"
    assert _events(store, first.message_id) == ["queued", "sent", "delivered"]
    assert counted(store, live_caller) == {"failed": (2, 2), "delivered": (1, 1)}
