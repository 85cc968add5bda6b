"""Routing by destination prefix: the device of its operator a shared message leaves through.

A rack holds SIMs of several operators, and an SMS to a number of one
operator costs less, and is delivered more reliably, from a SIM of that
operator (smstools3's per-modem ``providers``, Kannel's ``preferred-prefix``).
So a device may be the route for destination prefixes, E.164 (``+26377``).

Where: the relay's store keeps them (``devices.route_prefixes``), set by the
operator's ``zimsend-relay set-device-prefixes``: one place for the whole
rack, shown by ``GET /v1/devices`` and ``list-devices``, read with the device
states the send path already holds (``RQDispatcher.states``, read at most
once a second) so that a send costs no query more; and the agents need not
know (a prefix in an agent's own file would reach the relay only with its
heartbeats, and not at all from a device that is down).

How: a shared message (no ``X-Device-ID``) whose number one of the prefixes
of the client's devices begins is routed to one device of the longest such
prefix (``route_device``), decided before the message is stored
(``routed_new``) and stored with it (``messages.routed_to``, in the same
insert: the send writes nothing more), and placed on that device's own
queue: as a pinned message is, signed for that device alone, but its job's
payload names no device, as a shared one's, and the store keeps it shared
(``device_id`` null: history, status, cancel, statistics and webhooks see a
shared message). It is *routed*, not pinned: the agent takes it as a shared
message (its SIM may decline it for want of credit, and the worker places it
for the others), and the relay may move it, writing its new route (or none)
to the store before its new job is placed (``recovery.give_jobs``). A phone
pulls from the store what waits for it: the messages pinned to it and those
routed to it (``mobile.pending``), and claims each with its first report. Per-prefix
shared queues that the route's agents listen on would need the agents to know
their prefixes, every part that reads queues (recovery, estimates, the phones)
to know one more kind of queue, and a duty to empty the queue of a route
whose devices all went away; a device's own queue is already known to all of
them.

Only devices that can take the message now are a route
(``takes_routed_now``): online (enabled, heard from within
``device_offline_after_seconds``: an agent's heartbeat with its modem
working, a phone's pull or ping, as ``DeviceState.online`` judges every
device), and not paused (past their daily send limit, or after their SIM
refused for want of credit). Nor is a device whose whole daily send limit,
as its heartbeats tell it, is below the message's SMS parts
(``DeviceState.sends_within_a_day``): it could never send it, and its agent
would decline it. Of those, and not of those that refused the message
(``leave_out``: for want of credit, or for their daily limit), the longest
matching prefix wins; when none matches, the message goes on the client's
shared queue, as any message did before, for any of its agents: routing is
preferred, never required, and nothing waits for a route that cannot send.
A message already waiting on the queue of a device that can no longer take
it (disabled, deleted, silent, paused) is moved by the worker's recovery
round (``worker.rerouted``), placed again by the path recovery places every
message by; the claim still decides who sends it, so it never leaves twice,
and a message a phone's pull may have handed it stays the phone's (a phone
claims only with its first report, which may come after it sent).

A one-time password's message is never routed (``api.otp``): its code is in
its job alone (the store keeps it masked), so one stranded on a route device
could not be placed again.

Of several devices of the route, a new message's is chosen at random (it
has no id yet), which spreads a route's messages over its devices; placed
again, a message keeps its route device while that one can take it, else
one is chosen by its id, the same each time with the same devices up.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from relay_server.store.device_state import DeviceState
from relay_server.store.models import Message, NewMessage

# The device a shared message is routed to, given the devices that refused it (None: the shared queue).
RouteOf = Callable[[Message, Collection[str]], str | None]
# A client's device states, given its id.
StatesOf = Callable[[str], Sequence[DeviceState]]


def takes_routed_now(state: DeviceState, now: datetime, offline_after: timedelta) -> bool:
    """Whether the device can take a message routed to it at ``now``: online (an agent heard from
    with its modem working, a phone that pulled or pinged) and not paused."""
    return state.online(now, offline_after) and state.takes_shared_again_at(now) is None


def route_devices(
    message: Message | NewMessage,
    states: Sequence[DeviceState],
    now: datetime,
    offline_after: timedelta,
    leave_out: Collection[str] = (),
) -> list[str]:
    """The devices of the route of a shared message: of ``states`` (its client's) that take a
    routed message now, whose whole daily send limit its parts fit in, and that are not in
    ``leave_out``, those whose longest prefix beginning its number is the longest. None for a
    pinned or test message, or when no prefix matches."""
    if message.device_id is not None or message.is_test:
        return []
    return number_route(message.to, states, now, offline_after, leave_out, parts=message.segments)


def number_route(
    number: str,
    states: Sequence[DeviceState],
    now: datetime,
    offline_after: timedelta,
    leave_out: Collection[str] = (),
    *,
    parts: int = 1,
) -> list[str]:
    """The devices of the route of a shared message of ``parts`` SMS parts to ``number``, as
    ``route_devices`` says."""
    longest, chosen = 0, list[str]()
    for state in states:
        matched = max((len(prefix) for prefix in state.prefixes if number.startswith(prefix)), default=0)
        if matched == 0 or matched < longest or state.device_id in leave_out:
            continue
        if not takes_routed_now(state, now, offline_after) or not state.sends_within_a_day(parts):
            continue
        if matched > longest:
            longest, chosen = matched, list[str]()
        chosen.append(state.device_id)
    return chosen


def route_device(
    message: Message | NewMessage,
    states: Sequence[DeviceState],
    now: datetime,
    offline_after: timedelta,
    leave_out: Collection[str],
) -> str | None:
    """The device a shared message is placed on, of ``route_devices``: the one it is routed to
    already while that one is of them, else one chosen by its id (a message not stored yet,
    which has none: at random); None: the client's shared queue."""
    devices = route_devices(message, states, now, offline_after, leave_out)
    if not devices:
        return None
    if message.routed_to in devices:
        return message.routed_to
    if isinstance(message, NewMessage):
        return random.choice(devices)
    return devices[zlib.crc32(message.message_id.encode()) % len(devices)]


def routed_new(
    messages: Sequence[NewMessage], states_of: StatesOf, now: datetime, offline_after: timedelta
) -> list[NewMessage]:
    """``messages``, each shared one due now with the device of its route (``route_device``)
    as its ``routed_to``, to be stored so: a scheduled one is routed when it comes due."""
    # Of each client, its route devices alone, read once: a bulk send to a rack with no
    # route costs no look at its devices a message.
    routes_of = {
        client_id: [state for state in states_of(client_id) if state.route_prefixes]
        for client_id in {message.client_id for message in messages}
    }
    return [
        replace(message, routed_to=route)
        if message.scheduled_at is None
        and routes_of[message.client_id]
        and (route := route_device(message, routes_of[message.client_id], now, offline_after, ())) is not None
        else message
        for message in messages
    ]


def router(states_of: StatesOf, now: datetime, offline_after: timedelta) -> RouteOf:
    """``route_device`` for any message at ``now``, with its client's states from ``states_of``;
    asked only for a client's shared messages."""

    def route_of(message: Message, leave_out: Collection[str]) -> str | None:
        return route_device(message, states_of(message.client_id), now, offline_after, leave_out)

    return route_of
