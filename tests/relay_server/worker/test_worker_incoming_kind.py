"""Incoming SMS keep what kind they are: flash, data, undecodable; a replacing one replaces."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from relay_parts import Parts

from relay_server.store.dispatch_schema import incoming_messages
from relay_server.worker.events import apply_event
from zimsend_common import signing
from zimsend_common.timefmt import isoformat_z, utcnow

SENDER = "+263772000111"


def _receive(parts: Parts, device: Any, text: str, **kind: object) -> None:
    data = {"sender": SENDER, "text": text, "received_at": isoformat_z(utcnow()), "parts": 1, **kind}
    document = device.event("received", data).to_dict()
    assert apply_event(document, signing.sign(document, device.signing_key)) == "applied"


def _rows(parts: Parts) -> list[Any]:
    with parts.store.engine.connect() as conn:
        return conn.execute(sa.select(incoming_messages).order_by(incoming_messages.c.created_at)).all()


def test_a_flash_sms_and_a_wap_push_are_stored_as_what_they_are(parts: Parts) -> None:
    device = parts.device(parts.client())
    _receive(parts, device, "Your code is 4321", message_class=0, flash=True, pid=0, data_coding=0x10)
    _receive(parts, device, "0106", binary=True, wap_push=True, ports=[2948, 9200], data_coding=4)
    flash, push = _rows(parts)
    assert (flash.message_class, flash.data_coding, flash.binary) == (0, 0x10, False)
    assert (push.binary, push.destination_port, push.source_port, push.body) == (True, 2948, 9200, "0106")


def test_an_undecodable_sms_is_kept_with_its_raw_pdu(parts: Parts) -> None:
    device = parts.device(parts.client())
    _receive(parts, device, "", undecodable=True, pdu="0791447728008000FF")
    [row] = _rows(parts)
    assert (row.undecodable, row.raw_pdu, row.body) == (True, "0791447728008000FF", "")


def test_kind_fields_from_an_older_agent_or_malformed_are_stored_as_unknown(parts: Parts) -> None:
    device = parts.device(parts.client())
    _receive(parts, device, "plain")
    _receive(parts, device, "odd", message_class=9, pid="x", ports=[1, 2, 3], binary="yes")
    plain, odd = _rows(parts)
    for row in (plain, odd):
        assert (row.message_class, row.pid, row.destination_port, row.binary, row.undecodable) == (
            None, None, None, False, False,
        )  # fmt: skip


def test_a_replacing_sms_replaces_the_earlier_one_of_its_type_from_its_sender(parts: Parts) -> None:
    device = parts.device(parts.client())
    _receive(parts, device, "Balance: 12.00", pid=0x41)
    _receive(parts, device, "Unrelated", pid=0)
    _receive(parts, device, "Other type", pid=0x42)
    [first] = [row for row in _rows(parts) if row.pid == 0x41]
    _receive(parts, device, "Balance: 9.50", pid=0x41)
    rows = _rows(parts)
    assert sorted(row.body for row in rows) == ["Balance: 9.50", "Other type", "Unrelated"]
    [replaced] = [row for row in rows if row.pid == 0x41]
    assert replaced.message_id == first.message_id
