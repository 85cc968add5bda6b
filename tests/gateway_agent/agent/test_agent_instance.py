"""One agent per device across hosts: an agent names its instance in its heartbeats, waits
while another instance's heartbeat is live, and stops when one appears while it serves.

Two hosts are played on one: two data directories, two emulated modems, and
``ZIMSEND_AGENT_INSTANCE`` for the instance each host's kernel would give.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from agent_support import (
    DEVICE_ID,
    SIGNING_KEY,
    AgentProcess,
    enqueue,
    events_of_kind,
    eventually,
    kinds_of,
    serve_client,
)

from gateway_agent.agent.instance import INSTANCE_ENV, instance_of
from gateway_agent.backends.emulator.fake_modem import FakeModem
from zimsend_common import signing, wire
from zimsend_common.timefmt import isoformat_precise, utcnow

pytestmark = pytest.mark.slow  # agent processes started, waiting, killed

NORMAL = wire.device_queue(DEVICE_ID, 3)
TAKEN = 2  # zimsend-agent's exit status when another agent serves the device
WAITING = "waiting until its heartbeat expires"


def heartbeat_instance(conn: redis.Redis) -> Any:
    """The instance the device's heartbeat key names (None: none, or no heartbeat)."""
    value = conn.get(wire.heartbeat_key(DEVICE_ID))
    event = signing.unseal(value, SIGNING_KEY) if value is not None else None
    return event.data.get("instance") if event is not None else None


def other_hosts_heartbeat(conn: redis.Redis, instance: str | None) -> bytes:
    """Write the device's heartbeat as an agent on another host does (``instance`` None: as an
    agent too old to name it); the value written."""
    data: dict[str, Any] = {"state": "online", "signal_percent": 50}
    if instance is not None:
        data["instance"] = instance
    beat = wire.Event(kind="heartbeat", device_id=DEVICE_ID, at=isoformat_precise(utcnow()), data=data)
    sealed = signing.seal(beat, SIGNING_KEY)
    conn.set(wire.heartbeat_key(DEVICE_ID), sealed, ex=30)
    return sealed.encode()


def host(tmp_path: Path, name: str, redis_url: str, port: str, **settings: str) -> AgentProcess:
    """``zimsend-agent run`` for the test device on host ``name``: its own data directory and instance."""
    return AgentProcess(
        tmp_path / name,
        redis_url,
        port,
        tmp_path / f"{name}.log",
        ZIMSEND_AGENT_INSTANCE=name,
        ZIMSEND_DEVICE_OFFLINE_AFTER_SECONDS="5",  # the heartbeat key's life
        **settings,
    )


def test_a_second_hosts_agent_takes_no_job_while_the_first_serves_and_takes_over_once_its_heartbeat_expired(
    conn, redis_url, start_emulator, tmp_path
):
    first_modem, second_modem = start_emulator(), start_emulator()
    serve_client(conn)
    first = host(tmp_path, "rack-a", redis_url, first_modem.port_path)
    eventually(lambda: heartbeat_instance(conn) == "rack-a", timeout=20)

    second = host(tmp_path, "rack-b", redis_url, second_modem.port_path)  # its SD card a clone of the first's
    eventually(lambda: WAITING in second.log.read_text(), timeout=20)
    for n in range(1, 4):
        enqueue(conn, NORMAL, f"msg_00000000000000b{n}")
    eventually(lambda: all(kinds_of(conn, f"msg_00000000000000b{n}") == ["sent"] for n in range(1, 4)), timeout=20)
    time.sleep(1.5)  # the second agent's next looks at the key

    assert [record.text for record in first_modem.sent] == [f"text of msg_00000000000000b{n}" for n in range(1, 4)]
    assert second_modem.sent == []
    assert heartbeat_instance(conn) == "rack-a"
    assert {event.data.get("instance") for event in events_of_kind(conn, "heartbeat")} == {"rack-a"}
    assert second.process.poll() is None
    said = second.log.read_text()
    assert said.count(WAITING) == 1  # said once, however long it waits
    assert "instance rack-a" in said and "instance rack-b" in said and "zimsend-relay add-device" in said

    assert first.signal(signal.SIGKILL) == -signal.SIGKILL  # no goodbye: its heartbeat lives on
    killed_at = time.monotonic()
    enqueue(conn, NORMAL, "msg_00000000000000b4")
    eventually(lambda: kinds_of(conn, "msg_00000000000000b4") == ["sent"], timeout=20)

    assert time.monotonic() - killed_at > 3  # not before the heartbeat expired
    assert [record.text for record in second_modem.sent] == ["text of msg_00000000000000b4"]
    assert heartbeat_instance(conn) == "rack-b"
    assert second.signal(signal.SIGTERM) == 0


@pytest.mark.parametrize("other", ["rack-b", None], ids=["another-instance", "an-agent-naming-none"])
def test_an_agent_that_finds_another_agents_heartbeat_while_serving_exits_with_an_error_and_leaves_it(
    conn, redis_url, start_emulator, tmp_path, other
):
    emulator = start_emulator()
    serve_client(conn)
    serving = host(tmp_path, "rack-a", redis_url, emulator.port_path)
    eventually(lambda: heartbeat_instance(conn) == "rack-a", timeout=20)

    # The other host's agent started while the key was empty (together, or after Redis lost it).
    theirs = other_hosts_heartbeat(conn, other)

    assert serving.wait(timeout=20) == TAKEN
    said = serving.log.read_text()
    assert ("instance rack-b" if other else "earlier version") in said and "zimsend-relay add-device" in said
    assert "takes no more jobs" in said
    assert conn.get(wire.heartbeat_key(DEVICE_ID)) == theirs  # the other's heartbeat, not deleted
    goodbyes = [event for event in events_of_kind(conn, "heartbeat") if event.data["state"] == "stopped"]
    assert goodbyes == []  # that would show the device stopped while the other serves it


def test_an_agent_killed_and_started_again_on_its_host_is_the_same_instance_and_serves_at_once(
    conn, redis_url, start_emulator, tmp_path
):
    emulator = start_emulator()
    serve_client(conn)
    killed = AgentProcess(tmp_path / "data", redis_url, emulator.port_path, tmp_path / "killed.log")
    instance = eventually(lambda: heartbeat_instance(conn), timeout=20)
    assert killed.signal(signal.SIGKILL) == -signal.SIGKILL
    assert conn.ttl(wire.heartbeat_key(DEVICE_ID)) > 30  # its last heartbeat lives on

    restarted = AgentProcess(tmp_path / "data", redis_url, emulator.port_path, tmp_path / "restarted.log")
    enqueue(conn, NORMAL, "msg_00000000000000c1")
    eventually(lambda: kinds_of(conn, "msg_00000000000000c1") == ["sent"], timeout=20)

    assert heartbeat_instance(conn) == instance
    assert WAITING not in restarted.log.read_text()
    assert restarted.signal(signal.SIGTERM) == 0


def test_an_agent_stopped_while_it_waits_says_no_goodbye_and_leaves_the_other_agents_heartbeat(
    conn, redis_url, start_agent, fake_modem: FakeModem, monkeypatch
):
    theirs = other_hosts_heartbeat(conn, "rack-a")
    monkeypatch.setenv(INSTANCE_ENV, "rack-b")
    waiting = start_agent(redis_url, fake_modem)
    time.sleep(1.5)

    assert waiting.running
    waiting.stop()

    assert conn.get(wire.heartbeat_key(DEVICE_ID)) == theirs
    assert events_of_kind(conn, "heartbeat") == []


def test_an_instance_is_one_for_an_agent_restarted_on_its_host_and_another_for_a_cloned_host_or_data_dir(
    tmp_path,
):
    this_boot, clone_boot = tmp_path / "boot_id", tmp_path / "clone_boot_id"
    this_boot.write_text("5b1a7d0e-8f4c-4a57-9c3e-2d6b1f0a9e11\n")
    clone_boot.write_text("c0ffee00-1234-4abc-8def-0123456789ab\n")
    lock = tmp_path / "data" / "agents" / f"{DEVICE_ID}.lock"

    assert instance_of(lock, {}, this_boot) == instance_of(lock, {}, this_boot)  # a restart within the boot
    assert instance_of(lock, {}, clone_boot) != instance_of(lock, {}, this_boot)  # same card, another host
    other_dir = tmp_path / "other" / "agents" / f"{DEVICE_ID}.lock"
    assert instance_of(other_dir, {}, this_boot) != instance_of(lock, {}, this_boot)
    assert instance_of(lock, {INSTANCE_ENV: "rack-b"}, this_boot) == "rack-b"
    assert instance_of(lock) == instance_of(lock)  # the kernel's own boot id
