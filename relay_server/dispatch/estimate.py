"""Estimated delivery: how long the jobs ahead of a message take to send.

The jobs ahead are those its device (or, for a shared message, the client's
online devices together) will take first: the same and higher priorities,
but for a message for one device its client's shared jobs of its own priority,
which the device takes after its own queue's.
Each takes as long as the devices' recent sends took on average. A paused
device takes some jobs only later: having sent its day's ``daily_send_limit``,
none until its next day begins; after its SIM refused a send for want of
credit (``no_credit_pause_seconds``), none of its client's shared queues until
its pause ends, though it still takes its own; and one whose whole daily limit
is below a message's SMS parts never sends it (its agent declines it). So a
shared message counts on the devices that take shared jobs now and could
send it, or, when every one of them is paused,
on those that take them again first, from then
(``DeviceState.takes_shared_again_at``); a message for one device, on that
device from when it sends again (``DeviceState.sends_again_at``). A shared
message routed by its destination (``dispatch.routes``) counts as one for
the devices of its route together, which take it from their own queues, and
once stored routed to one of them (a phone's pull lists it, an agent takes
it), as one for that device, as a message pinned there.

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
from typing import Any

from redis import Redis
from redis.commands.core import Script

from relay_server.dispatch import routes
from relay_server.store.device_state import DeviceState
from relay_server.store.models import Message, NewMessage
from zimsend_common import bus, wire

# Used until a device has sent anything: a typical modem's submit time.
DEFAULT_SEND_SECONDS = 5.0
SEND_TIMES_SAMPLE = 20  # each device's latest
# A sample beyond this is no modem's send time.
MAX_SEND_SECONDS = 3600

# ARGV: the samples read from each device's send times, the largest believed,
# the device ids (one string, a space between two), the send times' key with
# the device id cut out (its prefix and suffix), then for each priority the
# client's queue ("" when none of it is ahead) and the device queues' key cut likewise. The keys are made
# here, not sent one by one: encoding 600 arguments cost as much as the rest
# of the estimate. Returns the jobs queued, the samples' sum (a string: Redis
# would truncate a number) and their count.
_LOAD = """
local sample, largest = tonumber(ARGV[1]), tonumber(ARGV[2])
local devices = {}
for device in string.gmatch(ARGV[3], "%S+") do
    devices[#devices + 1] = device
end
local function length(key)
    local found = redis.pcall("LLEN", key)
    if type(found) == "number" then
        return found
    end
    return 0
end
local queued, total, count = 0, 0, 0
for i = 6, #ARGV, 3 do
    if ARGV[i] ~= "" then
        queued = queued + length(ARGV[i])
    end
    for _, device in ipairs(devices) do
        queued = queued + length(ARGV[i + 1] .. device .. ARGV[i + 2])
    end
end
for _, device in ipairs(devices) do
    local times = redis.pcall("LRANGE", ARGV[4] .. device .. ARGV[5], 0, sample - 1)
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
# Sent by its digest, and in full only to a Redis that lacks it (as ``api.quota``'s).
_LOAD_SCRIPT = Script(None, _LOAD.encode())  # type: ignore[arg-type]  # each call names its client
# Stands for the device id in a key's shape: no device id holds it.
_DEVICE = " "


def estimated_delivery(
    redis: Redis,
    device_states: Callable[[str], list[DeviceState]],
    message: Message | NewMessage,
    now: datetime,
    offline_after: timedelta,
) -> datetime:
    """When ``message`` should leave, counting the jobs queued ahead of it (and itself);
    ``device_states`` gives a client's device states.

    A scheduled message gets its job only when due: the jobs queued now are
    ahead of it only as long as they last, so it leaves one send after the
    later of its time and their end.
    """
    if message.is_test:
        return max(now, message.scheduled_at or now)
    states = device_states(message.client_id)
    route = routes.route_devices(message, states, now, offline_after)
    if message.routed_to in route:  # stored routed to it: its own queue, as a message pinned there
        route = [message.routed_to]
    if route:  # on the own queue of one of them, each taking it now (routes.takes_routed_now), a phone's too
        start, device_ids = now, route
    elif message.device_id:
        serving = [s for s in states if s.device_id == message.device_id]
        start, device_ids = _first_senders(serving, now, DeviceState.sends_again_at)
    else:
        start, device_ids = _first_senders(
            _shared_senders(states, message, now, offline_after), now, DeviceState.takes_shared_again_at
        )
    queued, send_time = _queued_and_send_time(redis, message, device_ids, shared=not (message.device_id or route))
    one_send = timedelta(seconds=(DEFAULT_SEND_SECONDS if send_time is None else send_time) / max(1, len(device_ids)))
    if message.scheduled_at is not None and message.scheduled_at > now:
        return max(message.scheduled_at, start + queued * one_send) + one_send
    # At least its own send, even when an agent has already taken it.
    return start + max(1, queued) * one_send


def _shared_senders(
    states: list[DeviceState], message: Message | NewMessage, now: datetime, offline_after: timedelta
) -> list[DeviceState]:
    """The devices that drain the client's shared queues: online agents, as ``choose_device``
    counts them (a phone serves only what is placed, or routed, on it); of those, the ones
    whose whole daily limit fits the message, unless none does: the others decline it, and
    it waits on the queue all the same until the last has."""
    serving = [state for state in states if state.online(now, offline_after) and not state.is_phone]
    fitting = [state for state in serving if state.sends_within_a_day(message.segments)]
    return fitting or serving


def _first_senders(
    serving: list[DeviceState], now: datetime, again_at: Callable[[DeviceState, datetime], datetime | None]
) -> tuple[datetime, list[str]]:
    """When the first of the ``serving`` devices takes the message's jobs (``now``, unless
    ``again_at`` says each of them is paused until later), and which of them take them from then."""
    again = {state.device_id: again_at(state, now) or now for state in serving}
    start = min(again.values(), default=now)
    return start, [device_id for device_id, moment in again.items() if moment <= start]


def _queued_and_send_time(
    redis: Redis, message: Message | NewMessage, device_ids: list[str], *, shared: bool
) -> tuple[int, float | None]:
    """The jobs queued at the message's priority and above (``shared``: for the client's shared
    queue, else for the devices' own), and the mean of the devices' recent send times (None: no
    sample); one round trip."""
    args: list[Any] = [SEND_TIMES_SAMPLE, MAX_SEND_SECONDS, " ".join(device_ids)]
    args += _cut(wire.send_times_key(_DEVICE))
    for priority in wire.PRIORITY_LEVELS:
        if priority > message.priority:
            break
        # An agent takes its device's queue of a priority before its client's shared one
        # (``wire.agent_queue_order``): a message for one device goes ahead of those.
        shared_ahead = shared or priority < message.priority
        args.append(bus.queue_key(wire.client_queue(message.client_id, priority)) if shared_ahead else "")
        args += _cut(bus.queue_key(wire.device_queue(_DEVICE, priority)))
    queued, total, samples = _LOAD_SCRIPT(keys=[], args=args, client=redis)
    return int(queued), float(total) / int(samples) if int(samples) else None


def _cut(shape: str) -> list[str]:
    """A device's key, made with ``_DEVICE`` for its id: what comes before the id, and after."""
    before, after = shape.split(_DEVICE)
    return [before, after]
