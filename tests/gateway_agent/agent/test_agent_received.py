"""The "received" event says what kind of SMS came: flash, data, undecodable, or plain."""

from __future__ import annotations

from agent_support import events_of_kind, eventually, serve_client
from pdu_kinds import text_deliver, wap_push

SENDER = "+263772222222"


def test_received_events_carry_the_kind_of_each_message(conn, redis_url, start_emulator, start_agent):
    emulator = start_emulator()
    serve_client(conn)
    start_agent(redis_url, emulator)
    emulator.inject_incoming(SENDER, "plain")
    emulator.inject_pdu(text_deliver(SENDER, "flash", dcs=0x10))
    emulator.inject_pdu(text_deliver(SENDER, "ping", pid=0x40))
    emulator.inject_pdu(wap_push(SENDER, b"\x01\x06"))
    emulator.inject_pdu("0791447728008000FF")

    eventually(lambda: len(events_of_kind(conn, "received")) == 4)
    by_text = {event.data["text"]: event.data for event in events_of_kind(conn, "received")}
    assert set(by_text) == {"plain", "flash", "0106", ""}  # the silent ping is not handed on
    assert (by_text["plain"]["flash"], by_text["plain"]["message_class"], by_text["plain"]["binary"]) == (
        False, None, False,
    )  # fmt: skip
    assert (by_text["flash"]["flash"], by_text["flash"]["message_class"]) == (True, 0)
    assert (by_text["0106"]["binary"], by_text["0106"]["wap_push"], by_text["0106"]["ports"]) == (
        True, True, [2948, 9200],
    )  # fmt: skip
    assert (by_text[""]["undecodable"], by_text[""]["pdu"]) == (True, "0791447728008000FF")
    eventually(lambda: emulator.stored == 0)
