"""An agent on a Redis ACL user of its own (``zimsend_common.redis_acl``), against a real redis-server.

The agent does all its work under that user, and Redis refuses it nothing
(its ACL log stays empty), over plain TCP and over TLS (``rediss://``); the
same credentials can neither read nor write another device's queues, jobs,
claims or state, nor read the shared events queue.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from agent_support import (
    CLIENT_ID,
    DEVICE_ID,
    OTHER_DEVICE_ID,
    enqueue,
    enqueue_batch,
    events_of_kind,
    eventually,
    kinds_of,
    serve_client,
)
from own_redis import OwnRedis, TlsFiles

from gateway_agent.agent.ledger import Ledger
from zimsend_common import bus, manifest, redis_acl, redis_client, wire

OTHER_CLIENT = "client_2000000002"
STRANGER = "device_agent000003"  # a device of another client


def user_url(server, device_id: str, client_id: str) -> str:
    """Create the device's ACL user, as ``add-device --redis-acl`` prints it; its Redis URL."""
    password = redis_acl.new_password()
    assert server.client().execute_command(*redis_acl.setuser(device_id, client_id, password)) == b"OK"
    return f"redis://{redis_acl.username(device_id)}:{password}@127.0.0.1:{server.port}/0"


@pytest.mark.slow
def test_an_agent_serves_its_device_end_to_end_on_its_own_acl_user(own_redis, start_emulator, start_agent):
    admin = own_redis.client()
    url = user_url(own_redis, DEVICE_ID, CLIENT_ID)
    serve_client(admin)
    enqueue(admin, wire.device_queue(DEVICE_ID, 3), "msg_00000000000000a1", device_id=DEVICE_ID)
    enqueue(admin, wire.client_queue(CLIENT_ID, 3), "msg_00000000000000a2")
    enqueue_batch(admin, ["msg_00000000000000a3", "msg_00000000000000a4"])  # read through their manifest
    emulator = start_emulator(report_delay=0.2)
    start_agent(url, emulator)

    every = [f"msg_00000000000000a{n}" for n in range(1, 5)]
    for message_id in every:
        eventually(lambda message_id=message_id: kinds_of(admin, message_id) == ["sent", "delivered"])
    eventually(lambda: events_of_kind(admin, "heartbeat"))
    assert sorted(record.text for record in emulator.sent) == [f"text of {message_id}" for message_id in every]
    assert admin.exists(wire.heartbeat_key(DEVICE_ID))
    assert admin.execute_command("ACL", "LOG") == []  # nothing the agent did was refused


def test_a_shared_queue_a_sibling_filled_with_another_kind_of_value_stops_none_of_the_other_queues(
    own_redis, fake_modem, start_agent, caplog: pytest.LogCaptureFixture
):
    # Every device of the client may write its shared queues: Redis refuses a pop over a
    # key holding something else than a list, and the pop takes every queue at once.
    admin = own_redis.client()
    sibling = redis.Redis.from_url(user_url(own_redis, OTHER_DEVICE_ID, CLIENT_ID))
    planted = wire.client_queue(CLIENT_ID, 1)
    sibling.set(bus.queue_key(planted), "not a queue")
    # And a job of the client's whose key holds a string, first in line on a shared queue.
    not_a_job = wire.send_job_id(CLIENT_ID, "msg_00000000000000bf")
    sibling.set(bus.BusJob.key_for(not_a_job), "not a job")
    sibling.rpush(bus.queue_key(wire.client_queue(CLIENT_ID, 2)), not_a_job)
    serve_client(admin)
    with caplog.at_level(logging.WARNING):
        start_agent(user_url(own_redis, DEVICE_ID, CLIENT_ID), fake_modem)
        enqueue(admin, wire.device_queue(DEVICE_ID, 3), "msg_00000000000000b1", device_id=DEVICE_ID)
        enqueue(admin, wire.client_queue(CLIENT_ID, 3), "msg_00000000000000b2")
        eventually(lambda: len(fake_modem.sent) == 2)
    logged = [record.getMessage() for record in caplog.records]
    assert logged.count("queues left out: their keys hold no list") == 1
    assert "queue item refused" in logged
    assert "Redis unreachable" not in logged  # nothing was taken for an outage
    assert admin.get(bus.queue_key(planted)) == b"not a queue"  # left as it is, for its owner to see
    assert admin.execute_command("ACL", "LOG") == []  # the agent found it out with what it may run


def test_on_its_acl_user_an_agent_gives_back_a_claim_it_never_took_up(own_redis, fake_modem, start_agent, tmp_path):
    admin = own_redis.client()
    ledger = Ledger(tmp_path / "data" / "agents" / f"{DEVICE_ID}.sqlite3")
    ledger.claiming(CLIENT_ID, "msg_00000000000000c1", "+263771234567", time.time())
    ledger.close()
    admin.set(wire.claim_key(CLIENT_ID, "msg_00000000000000c1"), wire.claim_value_device(DEVICE_ID))
    serve_client(admin)

    start_agent(user_url(own_redis, DEVICE_ID, CLIENT_ID), fake_modem)

    eventually(lambda: admin.get(wire.claim_key(CLIENT_ID, "msg_00000000000000c1")) is None)
    assert admin.execute_command("ACL", "LOG") == []  # nothing the agent did was refused


def test_a_devices_credentials_reach_no_other_devices_keys(own_redis):
    admin = own_redis.client()
    url = user_url(own_redis, DEVICE_ID, CLIENT_ID)
    device = redis_client.connect(url, redis_client.AGENT)
    theirs = {
        "same client's device queue": wire.device_queue(OTHER_DEVICE_ID, 3),
        "other client's device queue": wire.device_queue(STRANGER, 3),
        "other client's shared queue": wire.client_queue(OTHER_CLIENT, 3),
    }
    keys = [f"rq:queue:{name}" for name in theirs.values()] + [
        f"rq:job:{wire.send_job_id(OTHER_CLIENT, 'msg_00000000000000b1')}",
        manifest.key(OTHER_CLIENT, manifest.new_id()),  # another client's batch
        f"rq:job:{wire.event_job_id(OTHER_DEVICE_ID, 'evt_1')}",
        "rq:job:msg_00000000000000b1",
        wire.claim_key(OTHER_CLIENT, "msg_00000000000000b1"),
        wire.heartbeat_key(OTHER_DEVICE_ID),
        wire.inflight_key(STRANGER),
        wire.device_client_key(OTHER_DEVICE_ID),
        wire.event_ack_key(OTHER_DEVICE_ID, "evt_1"),
    ]
    for name in theirs.values():
        enqueue(admin, name, "msg_00000000000000b1", client_id=OTHER_CLIENT)
    attempts = [
        lambda key: device.get(key),
        lambda key: device.set(key, "x"),
        lambda key: device.delete(key),
        lambda key: device.lrange(key, 0, -1),
        lambda key: device.lpop(key),
        lambda key: device.rpush(key, "x"),
        lambda key: device.hgetall(key),
        lambda key: device.hset(key, "data", "x"),
    ]
    for key in keys:
        for attempt in attempts:
            with pytest.raises(redis.exceptions.NoPermissionError):
                attempt(key)
    events = f"rq:queue:{wire.EVENTS_QUEUE}"
    for attempt in (lambda: device.lrange(events, 0, -1), lambda: device.lpop(events), lambda: device.delete(events)):
        with pytest.raises(redis.exceptions.NoPermissionError):
            attempt()
    assert device.rpush(events, "an id") == 1  # its own events go on, as job ids only
    for name in theirs.values():
        assert admin.llen(f"rq:queue:{name}") == 1


def own_certificates(directory: Path) -> TlsFiles:
    """A CA of the test's own, made with openssl, and a certificate it signed for 127.0.0.1."""
    ca, cert, key = directory / "ca.crt", directory / "redis.crt", directory / "redis.key"
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test CA",
        "-keyout",
        str(directory / "ca.key"),
        "-out",
        str(ca),
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(directory / "redis.csr"),
    )
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        str(directory / "redis.csr"),
        "-CA",
        str(ca),
        "-CAkey",
        str(directory / "ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        str(directory / "san.ext"),
        "-out",
        str(cert),
    )
    return TlsFiles(cert=cert, key=key, ca=ca)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[str, redis.Redis]]:
    """A redis-server that speaks only TLS, with a certificate of a CA of the test's own: its URL and a client."""
    with OwnRedis(tmp_path, tls=own_certificates(tmp_path)) as server:
        yield server.url, server.client()


@pytest.mark.slow
def test_an_agent_reaches_redis_over_tls_with_its_acl_user(tls_redis, start_emulator, start_agent):
    url, admin = tls_redis
    password = redis_acl.new_password()
    admin.execute_command(*redis_acl.setuser(DEVICE_ID, CLIENT_ID, password))
    device_url = url.replace("rediss://", f"rediss://{redis_acl.username(DEVICE_ID)}:{password}@")
    serve_client(admin)
    enqueue(admin, wire.device_queue(DEVICE_ID, 3), "msg_00000000000000c1", device_id=DEVICE_ID)
    emulator = start_emulator()
    start_agent(device_url, emulator)

    eventually(lambda: kinds_of(admin, "msg_00000000000000c1") == ["sent"])
    assert [record.text for record in emulator.sent] == ["text of msg_00000000000000c1"]
    assert admin.execute_command("ACL", "LOG") == []
