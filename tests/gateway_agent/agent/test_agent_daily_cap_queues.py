"""A device past its daily send limit: the agent's loop on a fake modem takes no job until its
next day, leaves a shared message that does not fit to the client's other devices, and keeps
its count across a restart. The day turns on a clock the test sets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from agent_support import (
    CLIENT_ID,
    DEVICE_ID,
    OTHER_DEVICE_ID,
    RunningAgent,
    agent_settings,
    enqueue,
    events_of,
    eventually,
    kinds_of,
    serve_client,
)

from gateway_agent.agent import Agent
from gateway_agent.agent.local_day import start_of_next_day
from gateway_agent.backends.emulator.fake_modem import FakeModem
from gateway_agent.errors import ModemError
from gateway_agent.modem import Progress, SendReceipt
from zimsend_common import bus, signing, wire
from zimsend_common.timefmt import isoformat_z

SHARED = wire.client_queue(CLIENT_ID, 3)
OWN = wire.device_queue(DEVICE_ID, 3)
TWO_PARTS = "two parts " * 20  # 200 septets
THREE_PARTS = "three parts " * 30  # 360 septets


class Clock:
    """A clock the test sets; it starts now."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def next_day(self) -> None:
        self.now = start_of_next_day(self.now)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def start_limited(tmp_path, redis_url, clock) -> Iterator:
    """Runs this device's agent with a daily send limit on ``clock``; stopped after the test."""
    running: list[RunningAgent] = []

    def start(modem: FakeModem, limit: int) -> RunningAgent:
        settings = agent_settings(tmp_path / "data", redis_url, daily_send_limit=limit)
        handle = RunningAgent(Agent(settings, modem=modem, clock=clock))
        running.append(handle)
        return handle

    yield start
    for handle in running:
        if handle.running:
            handle.stop()


def heartbeat(conn, running: RunningAgent) -> dict:
    """What the device's latest heartbeat says; nothing before its first."""
    beat = signing.unseal(conn.get(wire.heartbeat_key(DEVICE_ID)) or b"", running.agent._signing_key)
    return {} if beat is None else beat.data


def waiting(conn, queue: str) -> list[str]:
    return [job_id.decode() for job_id in conn.lrange(bus.queue_key(queue), 0, -1)]


def texts(modem: FakeModem) -> list[str]:
    return [record.text for record in modem.sent]


def next_midnight(clock: Clock) -> str:
    return isoformat_z(datetime.fromtimestamp(start_of_next_day(clock.now), timezone.utc))


def test_past_its_limit_the_device_takes_no_job_and_its_own_messages_wait_for_its_next_day(
    conn, fake_modem, start_limited, clock
):
    serve_client(conn)
    running = start_limited(fake_modem, 3)
    ids = [f"msg_00000000000c000{n}" for n in range(5)]
    for message_id in ids:
        enqueue(conn, OWN, message_id, device_id=DEVICE_ID)

    eventually(lambda: len(fake_modem.sent) == 3)
    eventually(lambda: heartbeat(conn, running).get("daily_limit_reached_until") == next_midnight(clock))
    time.sleep(1.0)  # many turns of the loop
    assert texts(fake_modem) == [f"text of {message_id}" for message_id in ids[:3]]
    # The two left wait on the device's queue, in their order, unclaimed.
    assert waiting(conn, OWN) == [wire.send_job_id(CLIENT_ID, message_id) for message_id in ids[3:]]
    assert all(conn.get(wire.claim_key(CLIENT_ID, message_id)) is None for message_id in ids[3:])
    assert heartbeat(conn, running)["sent_today"] == 3

    clock.next_day()

    eventually(lambda: all(kinds_of(conn, message_id) == ["sent"] for message_id in ids))
    assert texts(fake_modem) == [f"text of {message_id}" for message_id in ids]
    beat = eventually(lambda: (beat := heartbeat(conn, running))["daily_limit_reached_until"] is None and beat)
    assert beat["sent_today"] == 0  # by the device's clock, every send went yesterday


def test_a_shared_message_that_does_not_fit_is_left_unclaimed_to_the_clients_other_devices(
    conn, redis_url, fake_modem, start_limited, start_agent
):
    serve_client(conn)
    serve_client(conn, OTHER_DEVICE_ID)
    start_limited(fake_modem, 2)
    enqueue(conn, SHARED, "msg_00000000000c0011")
    eventually(lambda: kinds_of(conn, "msg_00000000000c0011") == ["sent"])

    enqueue(conn, SHARED, "msg_00000000000c0012", text=TWO_PARTS)  # 1 + 2 > 2

    job_id = wire.send_job_id(CLIENT_ID, "msg_00000000000c0012")
    time.sleep(1.0)
    assert waiting(conn, SHARED) == [job_id] and conn.exists(bus.BusJob.key_for(job_id))
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000c0012")) is None
    other = FakeModem()
    start_agent(redis_url, other, device_id=OTHER_DEVICE_ID)
    enqueue(conn, SHARED, "msg_00000000000c0013")  # one part would fit: the day is over all the same

    eventually(lambda: texts(other) == [TWO_PARTS, "text of msg_00000000000c0013"])
    assert texts(fake_modem) == ["text of msg_00000000000c0011"]
    claim = conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000c0012"))
    assert claim == wire.claim_value_device(OTHER_DEVICE_ID).encode()


def test_a_restarted_agent_keeps_the_days_count_from_its_ledger(conn, fake_modem, start_limited):
    serve_client(conn)
    first = start_limited(fake_modem, 2)
    for message_id in ("msg_00000000000c0021", "msg_00000000000c0022"):
        enqueue(conn, OWN, message_id, device_id=DEVICE_ID)
    eventually(lambda: len(fake_modem.sent) == 2)
    first.stop()

    again = start_limited(fake_modem, 2)
    enqueue(conn, OWN, "msg_00000000000c0023", device_id=DEVICE_ID)

    eventually(lambda: heartbeat(conn, again).get("daily_limit_reached_until"))
    time.sleep(1.0)
    assert len(fake_modem.sent) == 2
    assert waiting(conn, OWN) == [wire.send_job_id(CLIENT_ID, "msg_00000000000c0023")]


def test_every_part_the_network_accepted_counts_those_of_a_message_that_failed_part_way_too(
    conn, fake_modem, start_limited
):
    def one_part_then_barred(recipient: str, text: str) -> ModemError | None:
        if text != THREE_PARTS:
            return None
        error = ModemError("+CMS ERROR: 38 (Network out of order)", temporary=False)
        error.progress = Progress((41,), 3, 9)  # its first part went
        return error

    fake_modem.refuse(one_part_then_barred)
    serve_client(conn)
    start_limited(fake_modem, 4)
    enqueue(conn, OWN, "msg_00000000000c0031", text=THREE_PARTS, device_id=DEVICE_ID)
    eventually(lambda: kinds_of(conn, "msg_00000000000c0031") == ["failed"])

    enqueue(conn, OWN, "msg_00000000000c0032", text=TWO_PARTS, device_id=DEVICE_ID)  # 1 + 2 parts
    enqueue(conn, OWN, "msg_00000000000c0033", text=TWO_PARTS, device_id=DEVICE_ID)  # 3 + 2 > 4

    eventually(lambda: kinds_of(conn, "msg_00000000000c0032") == ["sent"])
    time.sleep(1.0)
    assert texts(fake_modem) == [TWO_PARTS]
    assert kinds_of(conn, "msg_00000000000c0033") == []
    assert waiting(conn, OWN) == [wire.send_job_id(CLIENT_ID, "msg_00000000000c0033")]


def test_a_message_of_more_parts_than_the_whole_limit_fails_unsent_and_ends_no_day(conn, fake_modem, start_limited):
    serve_client(conn)
    start_limited(fake_modem, 2)
    enqueue(conn, OWN, "msg_00000000000c0041", text=THREE_PARTS, device_id=DEVICE_ID)
    enqueue(conn, OWN, "msg_00000000000c0042", device_id=DEVICE_ID)

    eventually(lambda: kinds_of(conn, "msg_00000000000c0042") == ["sent"])
    [failed] = events_of(conn, "msg_00000000000c0041")
    assert (failed.kind, failed.data["code"]) == ("failed", "DEVICE_ERROR")
    assert failed.data["detail"].startswith("3 parts, more than the device's daily_send_limit of 2")
    assert texts(fake_modem) == ["text of msg_00000000000c0042"]


class WholeTextModem(FakeModem):
    """A modem that splits a text itself and tells one reference for all its parts, as a
    phone through its local API does (``smsgate_local``)."""

    def send(
        self, recipient: str, text: str, *, request_report: bool = True, resume: Progress | None = None
    ) -> SendReceipt:
        receipt = super().send(recipient, text, request_report=request_report, resume=resume)
        return SendReceipt(receipt.references[:1], receipt.recipient, receipt.submitted_at)


def test_a_modem_that_tells_one_reference_for_a_whole_text_has_each_of_its_parts_counted(conn, start_limited):
    modem = WholeTextModem()
    serve_client(conn)
    start_limited(modem, 6)
    ids = [f"msg_00000000000c005{n}" for n in range(3)]
    for message_id in ids:
        enqueue(conn, OWN, message_id, text=THREE_PARTS, device_id=DEVICE_ID)

    eventually(lambda: all(kinds_of(conn, message_id) == ["sent"] for message_id in ids[:2]))
    time.sleep(1.0)
    assert texts(modem) == [THREE_PARTS, THREE_PARTS]  # 3 + 3 parts: the third would make 9
    assert waiting(conn, OWN) == [wire.send_job_id(CLIENT_ID, ids[2])]


def test_each_heartbeat_tells_when_the_device_day_its_sent_today_counts_ends(conn, fake_modem, start_limited, clock):
    serve_client(conn)
    running = start_limited(fake_modem, 3)

    # The relay knows the device's midnight only from the device: it shows the count no longer.
    eventually(lambda: heartbeat(conn, running).get("day_ends_at") == next_midnight(clock))
    clock.next_day()
    eventually(lambda: heartbeat(conn, running).get("day_ends_at") == next_midnight(clock))


# A shared message waits on the client's queue, or on the device's own when routed to it by its number.
@pytest.mark.parametrize("queue", [SHARED, OWN], ids=["shared", "routed"])
def test_a_shared_message_of_more_parts_than_the_whole_limit_is_declined_unsent_for_the_clients_other_devices(
    conn, fake_modem, start_limited, queue
):
    serve_client(conn)
    start_limited(fake_modem, 2)
    enqueue(conn, queue, "msg_00000000000c0043", text=THREE_PARTS)
    enqueue(conn, SHARED, "msg_00000000000c0044")

    eventually(lambda: kinds_of(conn, "msg_00000000000c0044") == ["sent"])
    [declined] = events_of(conn, "msg_00000000000c0043")
    assert (declined.kind, declined.data["code"]) == ("declined", "DEVICE_ERROR")
    assert declined.data["detail"].startswith("3 parts, more than the device's daily_send_limit of 2")
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000c0043")) is None  # the relay's to place again
    assert texts(fake_modem) == ["text of msg_00000000000c0044"]


@pytest.mark.parametrize("limit", [0, 2])
def test_each_heartbeat_tells_the_devices_whole_daily_limit(conn, fake_modem, start_limited, limit):
    serve_client(conn)
    running = start_limited(fake_modem, limit)

    # So that the relay routes no message to the device that it could never send in a day.
    eventually(lambda: heartbeat(conn, running).get("daily_send_limit") == limit)
