"""Incoming SMS in the store: kept once per event, and every character of them comes back."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from query_plans import plan_of, statements_run

from relay_server.store import Store
from relay_server.store.dispatch_schema import incoming_messages
from relay_server.store.inbox import InboxQuery
from relay_server.store.models import Caller, NewIncoming
from relay_server.store.storable_text import REPLACEMENT
from zimsend_common.timefmt import utcnow

ODD = [
    pytest.param("+263772000111", "a\x00b", id="nul-in-text"),
    pytest.param("+263772000111", "\x00", id="only-nul"),
    pytest.param("+263772000111", "lone \ud800 and \udfff surrogates", id="lone-surrogates"),
    pytest.param("+26377\x002000111", "odd sender", id="nul-in-sender"),
    pytest.param("\ud83dWHO", "surrogate in sender", id="surrogate-in-sender"),
    pytest.param("+" + "9" * 60, "sender longer than its column", id="long-sender"),
    pytest.param("+263772000111", "émoji 😀 and \x00 together\r\n", id="mixed"),
]


def _incoming(store: Store, caller: Caller, sender: str, text: str) -> NewIncoming:
    """An SMS to a new device of the caller's, as its agent reports it."""
    device, _password = store.devices.add(caller.client_id)
    return NewIncoming("evt_1", caller.client_id, device.device_id, sender, text, 1, utcnow())


def _rows(store: Store, client_id: str) -> list[sa.Row]:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(incoming_messages).where(incoming_messages.c.client_id == client_id)).all()


@pytest.mark.parametrize(("sender", "text"), ODD)
def test_an_sms_no_database_column_can_hold_is_kept_once_and_read_back_exactly(
    store: Store, live_caller: Caller, sender: str, text: str
) -> None:
    sms = _incoming(store, live_caller, sender, text)

    assert store.record_incoming(sms, follow_opt_outs=True) is True
    assert store.record_incoming(sms, follow_opt_outs=True) is False  # the agent handed the event on again

    [row] = _rows(store, live_caller.client_id)
    found = store.get_incoming(live_caller.client_id, row.message_id)
    assert found is not None
    assert (found.sender, found.text) == (sender, text)
    # What listings and search see stands in U+FFFD for what no database holds.
    assert "\x00" not in row.body + row.sender
    assert row.exact_json is not None and row.exact_json.isascii()


def test_the_display_form_marks_where_characters_were_replaced(store: Store, live_caller: Caller) -> None:
    store.record_incoming(_incoming(store, live_caller, "+263772000111", "a\x00b\ud800c"), follow_opt_outs=True)
    [row] = _rows(store, live_caller.client_id)
    assert row.body == f"a{REPLACEMENT}b{REPLACEMENT}c"


def test_ordinary_text_is_kept_as_it_is_with_no_second_copy(store: Store, live_caller: Caller) -> None:
    store.record_incoming(_incoming(store, live_caller, "+263772000111", "Ndatenda 😀 ü"), follow_opt_outs=True)
    [row] = _rows(store, live_caller.client_id)
    assert (row.sender, row.body, row.exact_json) == ("+263772000111", "Ndatenda 😀 ü", None)
    assert store.get_incoming(live_caller.client_id, row.message_id).text == "Ndatenda 😀 ü"


def test_another_clients_incoming_sms_is_not_found(store: Store, live_caller: Caller, other_caller: Caller) -> None:
    store.record_incoming(_incoming(store, live_caller, "+263772000111", "mine"), follow_opt_outs=True)
    [row] = _rows(store, live_caller.client_id)
    assert store.get_incoming(other_caller.client_id, row.message_id) is None
    assert store.get_incoming(live_caller.client_id, "in_\x00") is None


def _three_received(store: Store, caller: Caller) -> None:
    device, _password = store.devices.add(caller.client_id)
    for number in range(3):
        store.record_incoming(
            NewIncoming(f"evt_{number}", caller.client_id, device.device_id, "+263772000111", "hi", 1, utcnow()),
            follow_opt_outs=True,
        )


def test_an_inbox_page_is_read_in_its_order_and_finds_each_reply_in_one_seek(store: Store, live_caller: Caller) -> None:
    _three_received(store, live_caller)
    found: list[tuple[list[Any], int]] = []
    reads = statements_run(
        store.engine,
        lambda: found.append(store.inbox.page(live_caller.client_id, InboxQuery(limit=2))),
        "FROM incoming_messages",
    )

    [(items, total)] = found
    assert (len(items), total) == (2, 3)
    assert len(reads) == 2, reads  # its total, and the page with what each message replies to
    plan = plan_of(store.engine, *reads[1])
    page, replies = re.split("CORRELATED SCALAR SUBQUERY|SubPlan", plan, maxsplit=1)
    assert "ix_incoming_messages_client_received" in page, plan
    assert "TEMP B-TREE" not in page and "Sort" not in page, plan  # not sorted whole
    # One seek for each reply, never a walk through every message sent to the number.
    assert "ix_messages_client_recipient_sent" in replies, plan
    assert "TEMP B-TREE" not in replies and "Sort" not in replies, plan


@pytest.mark.parametrize(
    ("by", "index"),
    [
        ("sender", "ix_incoming_messages_client_sender_received"),
        ("device", "ix_incoming_messages_client_device_received"),
    ],
)
def test_an_inbox_filtered_by_sender_or_device_counts_and_reads_the_matches_only(
    store: Store, live_caller: Caller, by: str, index: str
) -> None:
    devices = [store.devices.add(live_caller.client_id)[0].device_id for _ in range(4)]
    for n in range(40):  # ten senders, four devices
        sender, device_id = f"+26377200{n % 10:04d}", devices[n % 4]
        store.record_incoming(
            NewIncoming(f"evt_{n}", live_caller.client_id, device_id, sender, "hi", 1, utcnow()), follow_opt_outs=True
        )
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE incoming_messages")  # as autovacuum would have by now
    query = InboxQuery(sender="+263772000003") if by == "sender" else InboxQuery(device_id=devices[1])
    found: list[tuple[list[Any], int]] = []
    count, page = statements_run(
        store.engine, lambda: found.append(store.inbox.page(live_caller.client_id, query)), "FROM incoming_messages"
    )

    assert found[0][1] == (4 if by == "sender" else 10)
    for statement in (count, page):
        plan = re.split("CORRELATED SCALAR SUBQUERY|SubPlan", plan_of(store.engine, *statement), maxsplit=1)[0]
        assert index in plan, plan  # not every incoming message of the client's, each checked
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_an_inbox_page_past_the_last_match_is_empty_and_keeps_the_total(store: Store, live_caller: Caller) -> None:
    _three_received(store, live_caller)

    pages = [store.inbox.page(live_caller.client_id, InboxQuery(limit=2, page=n)) for n in (1, 2, 3)]

    assert [(len(found), total) for found, total in pages] == [(2, 3), (1, 3), (0, 3)]
    assert store.inbox.page(live_caller.client_id, InboxQuery(search="absent")) == ([], 0)
