"""One agent per device across hosts: each agent names its instance in its heartbeats.

The device lock (``device_lock``) keeps a second agent of a device off the
host of the first. It cannot see another host: an SD card cloned to build a
rack gives two Raspberry Pis the same device id and password, and both agents
would take jobs from the device's queues and claim with the same value. A
claim recovery hands back to its device could then be sent by the agent
whose ledger never knew it.

So each running agent has an instance, named in every heartbeat it writes
(``data["instance"]``), and it reads the device's heartbeat key before it
writes one, in the same transaction: a live heartbeat there (the key expires
with the offline threshold) that names another instance, or none (an agent
older than this check), says another agent serves the device. At start the
agent waits for that heartbeat to expire; while serving, it stops and exits
(``DeviceTaken``). Nothing is added to Redis: the heartbeat key is the
device's own.

An instance is the kernel's boot id (another on each host, cloned or not,
and at each boot), the host's name (another in each container sharing a
kernel) and the path of the device's lock file (another for a second data
directory on the host): an agent restarted on its host within a boot is the
same instance, and never waits for its own last heartbeat to expire.
``ZIMSEND_AGENT_INSTANCE`` names the instance instead: for tests, which play
two hosts on one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import redis
from redis.client import Pipeline

from zimsend_common import device_written, signing, wire

log = logging.getLogger(__name__)

INSTANCE_ENV = "ZIMSEND_AGENT_INSTANCE"  # for tests only: two hosts played on one
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_WRITE_TRIES = 5  # a key written by another between our read and our write is read again
WAIT_SECONDS = 1.0  # how often a waiting agent looks whether the other's heartbeat expired


def instance_of(lock_path: Path, environ: Mapping[str, str] = os.environ, boot_id: Path = BOOT_ID) -> str:
    """This agent's instance: the same on this host, for this lock file, until the host boots again
    (``boot_id``: the file of the kernel's boot id)."""
    named = environ.get(INSTANCE_ENV)
    if named:
        return named
    try:
        boot = boot_id.read_text().strip()
    except OSError:  # not Linux: each process an instance of its own, a restart may wait
        boot = uuid.uuid4().hex
    host = socket.gethostname()
    digest = hashlib.sha256("\0".join((boot, host, str(lock_path.resolve()))).encode()).hexdigest()
    return f"{host[:32]}-{digest[:12]}"


@dataclass(frozen=True)
class Holder:
    """Another agent's live heartbeat in the device's key."""

    instance: str | None  # None: an agent too old to name its instance
    expires_in: int  # seconds until the key expires, unless its agent writes it again

    def describe(self) -> str:
        return wire.describe_instance(self.instance)


class DeviceTaken(Exception):
    """Another agent instance serves the device: its live heartbeat is in the device's key."""

    def __init__(self, device_id: str, instance: str, holder: Holder) -> None:
        super().__init__(
            f"device {device_id} is served by another agent, {holder.describe()} "
            f"(this agent is instance {instance}): two hosts run the same device, as a cloned SD card "
            "does; give each host its own device (zimsend-relay add-device) and its own password"
        )
        self.holder = holder


class HeartbeatKey:
    """The device's heartbeat key, written by this instance only while no other holds it."""

    def __init__(self, connection: redis.Redis, device_id: str, signing_key: str, instance: str) -> None:
        self.instance = instance
        self._connection = connection
        self._device_id = device_id
        self._signing_key = signing_key
        self._key = wire.heartbeat_key(device_id)

    def holder(self) -> Holder | None:
        """Another instance's live heartbeat in the key; None when the key is empty, holds
        this instance's, or holds nothing the device signed. Raises ``redis.RedisError``."""
        holder = self._holder(self._string(self._connection))
        return None if holder is None else replace(holder, expires_in=self._ttl(self._connection))

    def write(self, value: str, ttl_seconds: int, along: Callable[[Pipeline], None]) -> None:
        """Set the key to ``value`` for ``ttl_seconds``, with ``along``'s commands in the same
        transaction; ``DeviceTaken``, and nothing written, when another instance holds the key.
        Raises ``redis.RedisError``."""

        def commands(pipeline: Pipeline) -> None:
            pipeline.set(self._key, value, ex=ttl_seconds)
            along(pipeline)

        self._change(commands)

    def clear(self) -> bool:
        """Delete the key unless another instance holds it; whether it was this instance's to delete.
        Raises ``redis.RedisError``."""
        try:
            self._change(lambda pipeline: pipeline.delete(self._key))
        except DeviceTaken:
            return False
        return True

    def _change(self, commands: Callable[[Pipeline], object]) -> None:
        """Run ``commands`` in a transaction that fails if the key changed since it was read."""
        with self._connection.pipeline() as pipeline:
            for _ in range(_WRITE_TRIES):
                try:
                    pipeline.watch(self._key)
                    holder = self._holder(self._string(pipeline))
                    if holder is not None:
                        holder = replace(holder, expires_in=self._ttl(pipeline))
                        raise DeviceTaken(self._device_id, self.instance, holder)
                    pipeline.multi()
                    commands(pipeline)
                    pipeline.execute()
                    return
                except redis.WatchError:
                    continue  # another agent wrote it meanwhile: read it again
            raise redis.WatchError(f"the heartbeat key of {self._device_id} kept changing")

    def _string(self, client: redis.Redis | Pipeline) -> bytes | None:
        """The key's string; None for none, or for another kind of value (which SET replaces)."""
        try:
            value = client.get(self._key)
        except redis.ResponseError as error:
            if not device_written.unreadable(error):
                raise
            return None
        return value if isinstance(value, bytes) else None

    def _ttl(self, client: redis.Redis | Pipeline) -> int:
        ttl = client.ttl(self._key)
        return ttl if isinstance(ttl, int) else 0

    def _holder(self, value: bytes | None) -> Holder | None:
        if value is None:
            return None
        event = signing.unseal(value, self._signing_key)
        if event is None or event.kind != "heartbeat" or event.device_id != self._device_id:
            return None  # not the device's heartbeat: nothing it says can be believed
        named = wire.heartbeat_instance(event.data)
        if named == self.instance:
            return None
        return Holder(named, 0)


def wait_while_held(key: HeartbeatKey, device_id: str, pause: Callable[[float], bool]) -> bool:
    """Return True once no other instance's live heartbeat holds the device's key, saying once
    (an error) who holds it; False when ``pause`` says to stop meanwhile.

    An unreachable Redis cannot tell: True, and the agent's first heartbeat looks again
    before it takes a job.
    """
    held_by: Holder | None = None
    while True:
        try:
            holder = key.holder()
        except redis.RedisError:
            return True
        if holder is None:
            if held_by is not None:
                log.warning("the other agent's heartbeat expired: serving the device", extra={"device_id": device_id})
            return True
        if held_by is None:
            log.error(
                f"{DeviceTaken(device_id, key.instance, holder)}; waiting until its heartbeat expires "
                f"(in {holder.expires_in} s, unless it beats again) before serving",
                extra={"device_id": device_id, "instance": key.instance, "other_instance": holder.instance},
            )
            held_by = holder
        if not pause(WAIT_SECONDS):
            return False
