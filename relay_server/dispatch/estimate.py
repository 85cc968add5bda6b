"""Estimated delivery: how long the jobs ahead of a message take to send.

The jobs ahead are those its device (or, for a shared message, the client's
online devices together) will take first: the same and higher priorities.
Each takes as long as the devices' recent sends took on average.

Redis adds it all up in one script (``_LOAD``): for a rack of 100 devices
that is some 600 queues and lists, and a command for each made the estimate
three quarters of a send's time. The agents write their send times, so a
sample that is not a number of seconds within ``MAX_SEND_SECONDS``, and a
key that holds another kind of value, count for nothing: a device cannot
make its client's sends fail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from redis import Redis

from relay_server.store.device_state import DeviceState
from relay_server.store.models import Message, NewMessage
from zimsend_common import bus, wire

# Used until a device has sent anything: a typical modem's submit time.
DEFAULT_SEND_SECONDS = 5.0
SEND_TIMES_SAMPLE = 20  # each device's latest
# A sample beyond this is no modem's send time.
MAX_SEND_SECONDS = 3600

# KEYS: the queues (ARGV[1] of them), then the devices' send-time lists.
# ARGV[2]: the samples read from each list; ARGV[3]: the largest believed.
# Returns the jobs queued, the samples' sum (a string: Redis would truncate
# a number) and their count.
_LOAD = """
local queues = tonumber(ARGV[1])
local sample = tonumber(ARGV[2])
local largest = tonumber(ARGV[3])
local queued, total, count = 0, 0, 0
for i = 1, queues do
    local length = redis.pcall("LLEN", KEYS[i])
    if type(length) == "number" then
        queued = queued + length
    end
end
for i = queues + 1, #KEYS do
    local times = redis.pcall("LRANGE", KEYS[i], 0, sample - 1)
    if type(times) == "table" and not times.err then
        for _, raw in ipairs(times) do
            local seconds = tonumber(raw)
            if seconds and seconds >= 0 and seconds <= largest then
                total = total + seconds
                count = count + 1
            end
        end
    end
end
return {queued, tostring(total), count}
"""


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
    queued, send_time = _queued_and_send_time(redis, message, device_ids)
    # At least its own send, even when an agent has already taken it.
    ahead = max(1, queued)
    seconds = ahead * (DEFAULT_SEND_SECONDS if send_time is None else send_time) / max(1, len(device_ids))
    return start + timedelta(seconds=seconds)


def _queued_and_send_time(
    redis: Redis, message: Message | NewMessage, device_ids: list[str]
) -> tuple[int, float | None]:
    """The jobs queued at the message's priority and above, and the mean of the devices'
    recent send times (None: no sample); one round trip."""
    queues = []
    for priority in wire.PRIORITY_LEVELS:
        if priority > message.priority:
            break
        queues.append(bus.queue_key(wire.client_queue(message.client_id, priority)))
        queues += [bus.queue_key(wire.device_queue(device_id, priority)) for device_id in device_ids]
    keys = [*queues, *(wire.send_times_key(device_id) for device_id in device_ids)]
    load = redis.register_script(_LOAD)  # sent by its digest, and in full only to a Redis that lacks it
    queued, total, samples = load(keys, [len(queues), SEND_TIMES_SAMPLE, MAX_SEND_SECONDS])
    return int(queued), float(total) / int(samples) if int(samples) else None
