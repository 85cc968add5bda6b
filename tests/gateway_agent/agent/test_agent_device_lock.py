"""One agent per device on a host: a second one started for the device refuses at once and
leaves the first alone; the device is free again however its agent ended."""

from __future__ import annotations

import signal

import pytest
from agent_support import DEVICE_ID, enqueue, eventually, kinds_of, serve_client

from zimsend_common import wire

pytestmark = pytest.mark.slow  # agent processes started, refused and killed

NORMAL = wire.device_queue(DEVICE_ID, 3)
REFUSED = 2  # zimsend-agent's exit status when it refuses to start


def test_a_second_agent_for_a_busy_device_refuses_at_once_and_the_first_agents_send_ends_sent(
    conn, redis_url, start_emulator, start_agent_process
):
    emulator = start_emulator(send_delay=8.0, report_delay=None)
    serve_client(conn)
    enqueue(conn, NORMAL, "msg_00000000000000a1")
    first = start_agent_process(redis_url, emulator)
    eventually(lambda: conn.get(wire.inflight_key(DEVICE_ID)) == b"msg_00000000000000a1", timeout=20)

    second = start_agent_process(redis_url, emulator)

    assert second.wait(timeout=20) == REFUSED
    said = second.log.read_text()
    assert DEVICE_ID in said and f"pid {first.process.pid}" in said
    eventually(lambda: kinds_of(conn, "msg_00000000000000a1") == ["sent"], timeout=20)
    assert first.signal(signal.SIGTERM) == 0
    assert kinds_of(conn, "msg_00000000000000a1") == ["sent"]
    assert [record.text for record in emulator.sent] == ["text of msg_00000000000000a1"]


def test_the_device_is_free_again_once_its_agent_is_killed_with_sigkill(
    conn, redis_url, start_emulator, start_agent_process
):
    emulator = start_emulator()
    serve_client(conn)
    killed = start_agent_process(redis_url, emulator)
    eventually(lambda: conn.get(wire.heartbeat_key(DEVICE_ID)), timeout=20)
    assert start_agent_process(redis_url, emulator).wait(timeout=20) == REFUSED  # while the first lives

    assert killed.signal(signal.SIGKILL) == -signal.SIGKILL
    successor = start_agent_process(redis_url, emulator)

    enqueue(conn, NORMAL, "msg_00000000000000a2")
    eventually(lambda: kinds_of(conn, "msg_00000000000000a2") == ["sent"], timeout=30)
    assert successor.signal(signal.SIGTERM) == 0
