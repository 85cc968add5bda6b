"""A paused device in a send's ``estimated_delivery``: past its daily send limit it sends nothing
until its next day begins; after its SIM refused a send for want of credit it takes no shared
message until its pause ends, but still the messages sent for it (``X-Device-ID``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from relay_parts import AgentDevice, expected_after_submit

from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z, utcnow

# Each keeps the device from the client's shared messages; the daily limit from its own too.
PAUSES = [
    pytest.param("daily_limit_reached_until", id="daily_limit"),
    pytest.param("shared_paused_until", id="shared_pause"),
]
SEND = timedelta(seconds=10)  # each device's recent send time in these tests
CLOSE = timedelta(seconds=1)


def paused(device: AgentDevice, hours: float, field: str) -> datetime:
    """``device`` heartbeats that its pause ``field`` ends in ``hours``; when."""
    ends = (utcnow() + timedelta(hours=hours)).replace(microsecond=0)
    device.heartbeat(**{field: isoformat_z(ends)})
    return ends


def sends_in(parts, device: AgentDevice, seconds: float = SEND.total_seconds()) -> None:
    parts.redis.rpush(wire.send_times_key(device.device_id), seconds)


@pytest.mark.parametrize("field", PAUSES)
def test_a_client_whose_every_device_is_paused_is_estimated_from_the_first_to_take_shared_messages_again(
    parts, dispatcher, field
):
    caller = parts.client()
    sooner, later = parts.device(caller), parts.device(caller)
    again = paused(sooner, 2, field)
    paused(later, 5, field)
    for device in (sooner, later):
        sends_in(parts, device)

    # Online, sending later: a send is queued for them, not refused NO_DEVICE_AVAILABLE.
    assert dispatcher.choose_device(caller, None, scheduled=False) is None
    message = parts.message(caller)
    dispatcher.submit([message])
    # Its own send, on the one device that takes shared messages again first, from then.
    assert dispatcher.estimated_delivery(message) - again == pytest.approx(SEND, abs=CLOSE)


@pytest.mark.parametrize("field", PAUSES)
def test_a_shared_send_is_estimated_on_the_devices_that_are_not_paused(parts, dispatcher, field):
    caller = parts.client()
    limited, free = parts.device(caller), parts.device(caller)
    paused(limited, 3, field)
    free.heartbeat()
    for device in (limited, free):
        sends_in(parts, device)

    # 10 s on the one device taking shared messages, not 5 s over two.
    assert expected_after_submit(dispatcher, parts.message(caller)) == pytest.approx(SEND, abs=CLOSE)


@pytest.mark.parametrize(
    ("field", "waits"),
    [
        pytest.param("daily_limit_reached_until", True, id="daily_limit"),
        pytest.param("shared_paused_until", False, id="shared_pause"),
    ],
)
def test_a_send_for_a_paused_device_is_estimated_from_when_it_takes_its_own_messages_again(
    parts, dispatcher, field, waits
):
    caller = parts.client()
    device = parts.device(caller)
    ends = paused(device, 4, field)
    sends_in(parts, device)
    message = parts.message(caller, device_id=device.device_id)
    assert dispatcher.choose_device(caller, device.device_id, scheduled=False) == device.device_id

    # Past its daily limit it sends nothing before its next day; paused from the shared queues
    # it still takes its own.
    start = ends if waits else utcnow()
    dispatcher.submit([message])
    assert dispatcher.estimated_delivery(message) - start == pytest.approx(SEND, abs=CLOSE)


def test_a_shared_send_waits_for_the_later_of_a_devices_two_pauses(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    limit_ends = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    pause_ends = limit_ends + timedelta(hours=3)
    device.heartbeat(daily_limit_reached_until=isoformat_z(limit_ends), shared_paused_until=isoformat_z(pause_ends))
    sends_in(parts, device)
    shared, own = parts.message(caller), parts.message(caller, device_id=device.device_id)
    dispatcher.submit([shared, own])

    assert dispatcher.estimated_delivery(shared) - pause_ends == pytest.approx(2 * SEND, abs=CLOSE)
    # Its own goes first once its day's limit ends: the shared one waits for the pause's end.
    assert dispatcher.estimated_delivery(own) - limit_ends == pytest.approx(SEND, abs=CLOSE)


def test_a_shared_send_is_not_estimated_on_a_device_whose_whole_daily_limit_it_exceeds(parts, dispatcher):
    caller = parts.client()
    small, large = parts.device(caller), parts.device(caller)
    small.heartbeat(daily_send_limit=2)  # declines a message of three parts, whenever it comes
    large.heartbeat(daily_send_limit=0)
    for device in (small, large):
        sends_in(parts, device)

    three_parts = parts.message(caller, segments=3)

    # 10 s on the one device that can send it, not 5 s over two.
    assert expected_after_submit(dispatcher, three_parts) == pytest.approx(SEND, abs=CLOSE)


def test_a_shared_send_no_device_can_fit_is_estimated_on_every_device_serving_the_queue(parts, dispatcher):
    caller = parts.client()
    devices = parts.device(caller), parts.device(caller)
    for device in devices:
        device.heartbeat(daily_send_limit=2)
        sends_in(parts, device)

    # It fails once both declined it; meanwhile it waits as any shared message does: 5 s over two.
    assert expected_after_submit(dispatcher, parts.message(caller, segments=3)) == pytest.approx(SEND / 2, abs=CLOSE)
