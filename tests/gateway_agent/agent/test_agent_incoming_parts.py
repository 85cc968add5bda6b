"""The incoming parts a ledger keeps, in a real SQLite file: named with their event, held until released."""

from __future__ import annotations

import time

from gateway_agent.agent.ledger import Ledger


def test_the_parts_of_an_incoming_message_are_known_with_its_event_until_pruned(tmp_path):
    ledger = Ledger(tmp_path / "agent.sqlite3")
    ledger.append_event({"event_id": "evt_1", "kind": "received"}, received_parts=("part-a", "part-b"))
    ledger.append_event({"event_id": "evt_2", "kind": "received"}, received_parts=("part-b",))  # a copy of one
    ledger.close()

    again = Ledger(tmp_path / "agent.sqlite3")
    assert [again.incoming_parts.event_of_part(name) for name in ("part-a", "part-b", "part-c")] == [
        "evt_1",
        "evt_1",
        None,
    ]
    again.prune(time.time() - 7 * 24 * 3600)
    assert again.incoming_parts.event_of_part("part-a") == "evt_1"
    again.prune(time.time() + 1)
    assert again.incoming_parts.event_of_part("part-a") is None
    again.close()


def test_a_held_part_outlives_the_process_once_under_one_number_until_released(tmp_path):
    first = Ledger(tmp_path / "agent.sqlite3")
    number = first.incoming_parts.hold_part("0791PART1")
    assert first.incoming_parts.hold_part("0791PART1") == number  # the network's copy of it
    other = first.incoming_parts.hold_part("0791PART2")
    first.close()

    again = Ledger(tmp_path / "agent.sqlite3")
    assert [(part.number, part.pdu) for part in again.incoming_parts.held_parts()] == [
        (number, "0791PART1"),
        (other, "0791PART2"),
    ]
    again.incoming_parts.release_part(number)
    assert [part.pdu for part in again.incoming_parts.held_parts()] == ["0791PART2"]
    again.close()
