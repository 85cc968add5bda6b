"""Routing by destination prefix: a shared message to a number of a route's prefix waits on the own
queue of a device of that route that can take it, signed for it alone; any other goes as before."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from relay_parts import OFFLINE_AFTER_SECONDS, AgentDevice, Parts

from relay_server.dispatch import RQDispatcher
from relay_server.dispatch.dispatcher import NoDeviceAvailable
from relay_server.store.mobile_devices import MobileDevice
from relay_server.store.models import Caller, Message
from zimsend_common import bus, wire
from zimsend_common.timefmt import isoformat_z, utcnow

ECONET, NETONE = "+263771234567", "+263711234567"
SEND = timedelta(seconds=10)


def route(parts: Parts, caller: Caller, *prefixes: str, **heartbeat: Any) -> AgentDevice:
    """A device of the caller's, heard from now (with ``heartbeat``'s fields), the route for ``prefixes``."""
    device = parts.device(caller)
    parts.store.devices.set_prefixes(device.device_id, prefixes)
    device.heartbeat(**heartbeat)
    return device


def placed(dispatcher: RQDispatcher, parts: Parts, caller: Caller, **fields: Any) -> Message:
    [message] = parts.store.insert_messages(dispatcher.route([parts.new_message(caller, **fields)]))
    dispatcher.submit([message])
    return message


def waits(parts: Parts, message: Message) -> tuple[str, set[str]]:
    """The queue the message's job waits on, and the devices it is signed for."""
    job = bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis)
    assert job.id.encode() in parts.redis.lrange(bus.queue_key(job.origin), 0, -1)
    assert job.args[0]["device_id"] is None  # taken as a shared message: its SIM may decline it
    return job.origin, set(job.args[1])


def own(device: AgentDevice, priority: int = 3) -> str:
    return wire.device_queue(device.device_id, priority)


def test_a_shared_message_to_a_routes_prefix_waits_for_a_device_of_that_route_alone(parts, dispatcher):
    caller = parts.client()
    econet = route(parts, caller, "+26377", "+26378")
    netone = route(parts, caller, "+26371")

    to_econet = placed(dispatcher, parts, caller, to=ECONET)
    to_netone = placed(dispatcher, parts, caller, to=NETONE)

    assert waits(parts, to_econet) == (own(econet), {econet.device_id})
    assert waits(parts, to_netone) == (own(netone), {netone.device_id})
    assert parts.reload(to_econet).device_id is None  # still shared in the store: it may move


def test_a_message_no_prefix_matches_goes_on_the_shared_queue_for_every_device(parts, dispatcher):
    caller = parts.client()
    econet = route(parts, caller, "+26377")
    other = route(parts, caller)

    message = placed(dispatcher, parts, caller, to="+263731234567")

    assert waits(parts, message) == (wire.client_queue(caller.client_id, 3), {econet.device_id, other.device_id})


def test_the_longest_prefix_wins(parts, dispatcher):
    caller = parts.client()
    route(parts, caller, "+263")
    econet = route(parts, caller, "+26377")

    message = placed(dispatcher, parts, caller, to=ECONET)

    assert waits(parts, message) == (own(econet), {econet.device_id})


def test_a_pinned_message_leaves_through_its_device_whatever_its_number(parts, dispatcher):
    caller = parts.client()
    route(parts, caller, "+26377")
    netone = route(parts, caller, "+26371")

    message = placed(dispatcher, parts, caller, to=ECONET, device_id=netone.device_id)

    job = bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis)
    assert (job.origin, set(job.args[1]), job.args[0]["device_id"]) == (
        own(netone),
        {netone.device_id},
        netone.device_id,
    )


def test_a_routes_messages_are_spread_over_its_devices(parts, dispatcher):
    caller = parts.client()
    first, second = route(parts, caller, "+26377"), route(parts, caller, "+26377")

    queues = Counter(waits(parts, placed(dispatcher, parts, caller, to=ECONET))[0] for _ in range(40))

    assert set(queues) == {own(first), own(second)} and min(queues.values()) >= 8


LATER = utcnow() + timedelta(hours=3)


@pytest.mark.parametrize(
    "unable",
    [
        pytest.param({"state": "modem_lost"}, id="modem_lost"),
        pytest.param({"state": "stopped"}, id="stopped"),
        pytest.param({"at": utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS + 30)}, id="silent"),
        pytest.param({"disabled": True}, id="disabled"),
        pytest.param({"daily_limit_reached_until": isoformat_z(LATER)}, id="daily_limit"),
        pytest.param({"shared_paused_until": isoformat_z(LATER)}, id="credit_pause"),
    ],
)
def test_a_message_whose_route_cannot_send_now_goes_to_any_device(parts, dispatcher, unable):
    caller = parts.client()
    heartbeat = {name: value for name, value in unable.items() if name != "disabled"}
    econet = route(parts, caller, "+26377", **heartbeat)
    if unable.get("disabled"):
        parts.store.devices.disable(econet.device_id)
    route(parts, caller)

    message = placed(dispatcher, parts, caller, to=ECONET)

    every_enabled = set(parts.store.devices.signing_keys(caller.client_id))
    assert waits(parts, message) == (wire.client_queue(caller.client_id, 3), every_enabled)


def test_a_routed_message_is_estimated_on_its_routes_queue_not_the_shared_one(parts, dispatcher):
    caller = parts.client()
    econet = route(parts, caller, "+26377")
    other = route(parts, caller)
    for device in (econet, other):
        parts.redis.rpush(wire.send_times_key(device.device_id), SEND.total_seconds())
    for _ in range(5):  # the shared queue is long; the route's own is empty
        placed(dispatcher, parts, caller, to="+263731234567")

    before = utcnow()
    message = placed(dispatcher, parts, caller, to=ECONET)
    eta = dispatcher.estimated_delivery(message)

    assert eta is not None and eta - before < SEND + timedelta(seconds=1)


def test_a_message_of_more_parts_than_a_route_devices_whole_daily_limit_goes_to_another_device(parts, dispatcher):
    caller = parts.client()
    small = route(parts, caller, "+26377", daily_send_limit=2)
    large = route(parts, caller, "+26377", daily_send_limit=3)
    route(parts, caller)

    three_parts = [placed(dispatcher, parts, caller, to=ECONET, segments=3) for _ in range(10)]
    two_parts = [placed(dispatcher, parts, caller, to=ECONET, segments=2) for _ in range(20)]

    assert all(waits(parts, message) == (own(large), {large.device_id}) for message in three_parts)
    assert {waits(parts, message)[0] for message in two_parts} == {own(small), own(large)}
    assert parts.reload(three_parts[0]).device_id is None  # still shared: it may move


def test_a_message_of_more_parts_than_every_route_devices_whole_daily_limit_goes_to_any_device(parts, dispatcher):
    caller = parts.client()
    route(parts, caller, "+26377", daily_send_limit=2)
    route(parts, caller)

    message = placed(dispatcher, parts, caller, to=ECONET, segments=3)

    every_enabled = set(parts.store.devices.signing_keys(caller.client_id))
    assert waits(parts, message) == (wire.client_queue(caller.client_id, 3), every_enabled)


@pytest.mark.parametrize("told", [{}, {"daily_send_limit": 0}], ids=["not_told", "no_limit"])
def test_a_route_device_whose_limit_is_not_told_or_none_takes_a_long_message(parts, dispatcher, told):
    caller = parts.client()
    econet = route(parts, caller, "+26377", **told)
    route(parts, caller)

    message = placed(dispatcher, parts, caller, to=ECONET, segments=10)

    assert waits(parts, message) == (own(econet), {econet.device_id})


def phone_route(parts: Parts, caller: Caller, *prefixes: str) -> MobileDevice:
    """A phone of the caller's, heard from now, the route for ``prefixes``."""
    phone = parts.phone(caller)
    parts.store.devices.set_prefixes(phone.device_id, prefixes)
    parts.heard(phone, utcnow())
    return phone


def test_a_shared_message_to_a_phones_prefix_is_stored_routed_to_it_and_listed_by_its_pull_alone(parts, dispatcher):
    caller = parts.client()
    econet, netone = phone_route(parts, caller, "+26377"), phone_route(parts, caller, "+26371")

    message = placed(dispatcher, parts, caller, to=ECONET)

    assert waits(parts, message) == (wire.device_queue(econet.device_id, 3), {econet.device_id})
    stored = parts.reload(message)
    assert (stored.device_id, stored.routed_to) == (None, econet.device_id)  # shared, routed to the phone
    assert [m.message_id for m in parts.pulled(econet)] == [message.message_id]
    assert parts.pulled(netone) == []


def test_a_rack_of_phones_alone_takes_a_shared_send_its_routes_cover_and_refuses_one_they_do_not(parts, dispatcher):
    caller = parts.client()
    phone_route(parts, caller, "+26377")

    assert dispatcher.choose_device(caller, None, scheduled=False, to=[ECONET]) is None
    with pytest.raises(NoDeviceAvailable):
        dispatcher.choose_device(caller, None, scheduled=False, to=[ECONET, NETONE])


def test_a_message_routed_to_a_phone_is_estimated_on_the_phones_queue(parts, dispatcher):
    caller = parts.client()
    econet = phone_route(parts, caller, "+26377")
    route(parts, caller)
    parts.redis.rpush(wire.send_times_key(econet.device_id), SEND.total_seconds())
    for _ in range(3):  # the phone's own queue holds three before it
        placed(dispatcher, parts, caller, to=ECONET)
    for _ in range(5):  # the shared queue is longer
        placed(dispatcher, parts, caller, to="+263731234567")
    message = placed(dispatcher, parts, caller, to=ECONET)

    eta = dispatcher.estimated_delivery(message)

    assert eta is not None and 4 * SEND - timedelta(seconds=2) <= eta - utcnow() <= 4 * SEND + timedelta(seconds=2)
