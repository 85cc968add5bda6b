"""The agent's ledger, a real SQLite file: what it keeps, what it forgets."""

from __future__ import annotations

import os
import stat
import time

from gateway_agent.agent.ledger import Ledger

RECIPIENT = "+263771234567"


def test_old_messages_are_forgotten_but_one_whose_outcome_is_unknown_is_kept(ledger):
    week_ago = time.time() - 8 * 24 * 3600
    for message_id in ("msg_old_done", "msg_old_sending"):
        ledger.take(message_id, RECIPIENT, week_ago)
    ledger.record_sent("msg_old_done", (1,), RECIPIENT, week_ago, {"event_id": "evt_1"})
    ledger.take("msg_recent", RECIPIENT, time.time())

    ledger.prune(time.time() - 7 * 24 * 3600)

    assert ledger.message_state("msg_old_done") is None
    assert ledger.parts_with_reference(1, 0) == []
    assert ledger.unfinished_sends() == ["msg_old_sending", "msg_recent"]


def test_a_last_word_is_journalled_and_closes_the_message_together(ledger):
    ledger.take("msg_1", RECIPIENT, time.time())

    ledger.append_event({"event_id": "evt_1", "kind": "failed"}, message_id="msg_1", finished=True)

    assert ledger.message_state("msg_1") == "done"
    assert ledger.message_events("msg_1") == [{"event_id": "evt_1", "kind": "failed"}]
    assert [event for _, event in ledger.due_events(time.time())] == [{"event_id": "evt_1", "kind": "failed"}]


def test_the_ledger_survives_its_process(tmp_path):
    first = Ledger(tmp_path / "agent.sqlite3")
    first.take("msg_1", RECIPIENT, time.time())
    first.append_event({"event_id": "evt_1"})
    first.set_meta("client_id", "client_1000000001")
    first.close()

    again = Ledger(tmp_path / "agent.sqlite3")
    assert again.unfinished_sends() == ["msg_1"]
    assert [event for _, event in again.due_events(time.time())] == [{"event_id": "evt_1"}]
    assert again.get_meta("client_id") == "client_1000000001"
    again.close()


def test_part_outcomes_outlive_the_process_whether_or_not_they_finish_their_message(tmp_path):
    first = Ledger(tmp_path / "agent.sqlite3")
    first.take("msg_1", RECIPIENT, time.time())
    first.record_sent("msg_1", (7, 8), RECIPIENT, time.time(), {"event_id": "evt_sent"})
    first.settle_part("msg_1", 0, "delivered", "2026-12-05T10:00:00.000Z", message_finished=False)
    first.append_event({"event_id": "evt_delivered"}, message_id="msg_1", finished=True)
    first.settle_part("msg_1", 1, "delivered", "2026-12-05T10:00:01.000Z", message_finished=True)
    first.close()

    again = Ledger(tmp_path / "agent.sqlite3")
    assert [(part.outcome, part.discharged_at) for part in again.parts_of("msg_1")] == [
        ("delivered", "2026-12-05T10:00:00.000Z"),
        ("delivered", "2026-12-05T10:00:01.000Z"),
    ]
    assert again.message_state("msg_1") == "done"
    again.close()


def test_a_new_ledger_and_its_directory_are_private_whatever_the_umask(tmp_path):
    agents = tmp_path / "data" / "agents"
    previous = os.umask(0)
    try:
        ledger = Ledger(agents / "device_abcdefabcdef.sqlite3")
        ledger.take("msg_1", RECIPIENT, time.time())
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in agents.iterdir()}
        ledger.close()
    finally:
        os.umask(previous)

    assert modes == {
        "device_abcdefabcdef.sqlite3": 0o600,
        "device_abcdefabcdef.sqlite3-wal": 0o600,
        "device_abcdefabcdef.sqlite3-shm": 0o600,
    }
    assert stat.S_IMODE(agents.stat().st_mode) == 0o700


def test_a_message_only_about_to_be_claimed_counts_as_not_taken_until_it_is(tmp_path):
    ledger = Ledger(tmp_path / "agent.sqlite3")
    ledger.claiming("client_1", "msg_1", RECIPIENT, time.time())
    assert ledger.message_state("msg_1") is None
    assert ledger.taken_since(0) == []
    assert ledger.claims_not_taken() == [("client_1", "msg_1")]

    ledger.take("msg_1", RECIPIENT, time.time())
    assert ledger.message_state("msg_1") == "sending"
    assert [message_id for message_id, _ in ledger.taken_since(0)] == ["msg_1"]
    assert ledger.claims_not_taken() == []
    ledger.forget_claim("msg_1")  # a taken message is never forgotten as a claim
    assert ledger.message_state("msg_1") == "sending"
