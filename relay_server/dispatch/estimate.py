"""Estimated delivery: how long the jobs ahead of a message take to send.

The jobs ahead are those its device (or, for a shared message, the client's
online devices together) will take first: the same and higher priorities.
Each takes as long as the devices' recent sends took on average.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from statistics import fmean

from redis import Redis

from relay_server.store.device_state import DeviceState
from relay_server.store.models import Message, NewMessage
from zimsend_common import bus, wire

# Used until a device has sent anything: a typical modem's submit time.
DEFAULT_SEND_SECONDS = 5.0
SEND_TIMES_SAMPLE = 20


def estimated_delivery(
    redis: Redis,
    device_states: Callable[[str], list[DeviceState]],
    message: Message | NewMessage,
    now: datetime,
    offline_after: timedelta,
) -> datetime:
    """When ``message`` should leave, counting the jobs queued ahead of it (and itself);
    ``device_states`` gives a client's device states."""
    start = max(now, message.scheduled_at or now)
    if message.is_test:
        return start
    if message.device_id:
        device_ids = [message.device_id]
    else:
        # The devices that drain the client's shared queues: online agents, as
        # ``choose_device`` counts them (a phone serves only what is placed on it).
        states = device_states(message.client_id)
        device_ids = [s.device_id for s in states if s.online(now, offline_after) and not s.is_phone]
    queued, samples = _queued_and_send_times(redis, message, device_ids)
    # At least its own send, even when an agent has already taken it.
    ahead = max(1, queued)
    seconds = ahead * (fmean(samples) if samples else DEFAULT_SEND_SECONDS) / max(1, len(device_ids))
    return start + timedelta(seconds=seconds)


def _queued_and_send_times(
    redis: Redis, message: Message | NewMessage, device_ids: list[str]
) -> tuple[int, list[float]]:
    """The jobs queued at the message's priority and above, and the devices' recent send times (one round trip)."""
    names = []
    for priority in wire.PRIORITY_LEVELS:
        if priority > message.priority:
            break
        names.append(wire.client_queue(message.client_id, priority))
        names += [wire.device_queue(device_id, priority) for device_id in device_ids]
    with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(bus.queue_key(name))
        for device_id in device_ids:
            pipe.lrange(wire.send_times_key(device_id), 0, SEND_TIMES_SAMPLE - 1)
        answers = pipe.execute()
    return sum(answers[: len(names)]), [sample for raws in answers[len(names) :] for sample in _floats(raws)]


def _floats(raws: list[bytes]) -> list[float]:
    samples = []
    for raw in raws:
        try:
            samples.append(float(raw))
        except ValueError:
            continue
    return samples
