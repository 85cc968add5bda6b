"""Routed messages in the worker: recovery and refusals place a shared message on its route, and one
left waiting for a route device that can no longer take it is moved, never lost nor sent twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from relay_parts import OFFLINE_AFTER_SECONDS, AgentDevice, Parts, otp_message, run_round

from relay_server.dispatch import placement, routes
from relay_server.mobile import handing, pending, wake
from relay_server.store.dispatch_schema import device_events, device_status
from relay_server.store.mobile_devices import MobileDevice
from relay_server.store.mobile_schema import mobile_devices, phone_events
from relay_server.store.models import Caller, Message
from relay_server.store.schema import devices
from relay_server.worker import recovery, relay_claim
from relay_server.worker.abandoned import Phones
from zimsend_common import bus, job_deletion, signing, wire
from zimsend_common.timefmt import isoformat_precise, isoformat_z, utcnow

ECONET = "+263771234567"


def route(parts: Parts, caller: Caller, *prefixes: str, **heartbeat: Any) -> AgentDevice:
    device = parts.device(caller)
    parts.store.devices.set_prefixes(device.device_id, prefixes)
    device.heartbeat(**heartbeat)
    return device


def routed(parts: Parts, caller: Caller, **fields: Any) -> Message:
    """A shared message to an Econet number, placed by the worker's recovery."""
    message = parts.message(caller, to=ECONET, **fields)
    [placed] = recovery.give_jobs(parts.ctx, [message], utcnow())
    assert placed.message_id == message.message_id
    return placed


def waits(parts: Parts, message: Message) -> tuple[str, set[str]] | None:
    """The queue the message's job waits on and the devices it is signed for; None: no job waits."""
    job_id = wire.send_job_id(message.client_id, message.message_id)
    try:
        job = bus.fetch(job_id, parts.redis)
    except Exception:
        return None
    if job_id.encode() not in parts.redis.lrange(bus.queue_key(job.origin), 0, -1):
        return None
    return job.origin, set(job.args[1])


def own(device: AgentDevice) -> str:
    return wire.device_queue(device.device_id, 3)


def shared(caller: Caller) -> str:
    return wire.client_queue(caller.client_id, 3)


def test_recovery_places_a_shared_message_on_its_route(parts):
    caller = parts.client()
    econet, _other = route(parts, caller, "+26377"), route(parts, caller)

    message = routed(parts, caller)

    assert waits(parts, message) == (own(econet), {econet.device_id})


@pytest.mark.parametrize(
    "unable",
    [
        pytest.param({"state": "modem_lost"}, id="modem_lost"),
        pytest.param({"state": "stopped"}, id="stopped"),
        pytest.param({"daily_limit_reached_until": "later"}, id="daily_limit"),
        pytest.param({"shared_paused_until": "later"}, id="credit_pause"),
    ],
)
def test_a_message_waiting_for_a_route_device_that_can_no_longer_send_moves_to_the_others(parts, unable):
    caller = parts.client()
    econet, other = route(parts, caller, "+26377"), route(parts, caller)
    message = routed(parts, caller)

    later = isoformat_z(utcnow() + timedelta(hours=3))
    econet.heartbeat(**{name: later if value == "later" else value for name, value in unable.items()})
    run_round(parts)

    assert waits(parts, message) == (shared(caller), {econet.device_id, other.device_id})
    assert parts.reload(message).status == "queued"


def test_a_message_waiting_for_a_disabled_route_device_moves_to_another_of_its_route(parts):
    caller = parts.client()
    econet = route(parts, caller, "+26377")
    message = routed(parts, caller)
    spare = route(parts, caller, "+26377")

    parts.store.devices.disable(econet.device_id)
    run_round(parts)

    assert waits(parts, message) == (own(spare), {spare.device_id})


def test_a_message_waiting_for_a_silent_route_device_moves_once_it_is_offline(parts):
    caller = parts.client()
    econet = route(parts, caller, "+26377", at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS - 10))
    other = route(parts, caller)
    message = routed(parts, caller)
    assert waits(parts, message) == (own(econet), {econet.device_id})

    later = utcnow() + timedelta(seconds=15)
    other.heartbeat(at=later)
    run_round(parts, later)

    assert waits(parts, message) == (shared(caller), {econet.device_id, other.device_id})


def test_a_routed_message_stays_on_a_device_its_heartbeat_key_shows_up_though_the_store_has_it_silent(parts, caplog):
    caller = parts.client()
    econet = route(parts, caller, "+26377", at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS - 10))
    other = route(parts, caller)
    message = routed(parts, caller)
    # The store has the route device silent; its agent's newest heartbeat is under its key, not applied yet.
    later = utcnow() + timedelta(seconds=15)
    beat = econet.event("heartbeat", {"signal_percent": 60, "operator": "Econet"}, at=later)
    parts.redis.set(wire.heartbeat_key(econet.device_id), signing.seal(beat, econet.signing_key))
    other.heartbeat(at=later)

    with caplog.at_level("INFO", logger="relay_server.worker.recovery"):
        placed = recovery.requeue_orphans(parts.ctx, later, None, Phones(parts.store))

    assert placed == 0
    assert "routed message moved from a device that cannot take it" not in caplog.messages
    assert waits(parts, message) == (own(econet), {econet.device_id})


def test_a_pinned_message_and_a_claimed_routed_one_stay_where_they_wait(parts):
    caller = parts.client()
    econet, _other = route(parts, caller, "+26377"), route(parts, caller)
    pinned = parts.placed(caller, econet.device_id, to=ECONET)
    message = routed(parts, caller)
    # The device took the routed message's job and claimed it, then lost its modem before reporting.
    parts.redis.set(wire.claim_key(caller.client_id, message.message_id), wire.claim_value_device(econet.device_id))

    econet.heartbeat(state="modem_lost")
    run_round(parts)

    assert waits(parts, pinned) == (own(econet), {econet.device_id})
    assert waits(parts, message) == (own(econet), {econet.device_id})
    assert [parts.reload(m).status for m in (pinned, message)] == ["queued", "queued"]


def test_a_message_its_route_device_declined_goes_to_the_routes_other_device_then_to_any(parts):
    caller = parts.client()
    first = route(parts, caller, "+26377")
    message = routed(parts, caller)
    second = route(parts, caller, "+26377")
    other = route(parts, caller)
    placed_on = waits(parts, message)
    assert placed_on is not None
    takers = {device.device_id: device for device in (first, second)}
    taker = takers[wire.queue_device(placed_on[0]) or ""]

    assert declined(taker, message) == "applied"
    (spare,) = set(takers) - {taker.device_id}
    assert waits(parts, message) == (wire.device_queue(spare, 3), {spare})

    assert declined(takers[spare], message) == "applied"
    assert waits(parts, message) == (shared(caller), {other.device_id})


def test_a_message_its_route_agent_declined_goes_to_a_phone_of_its_route(parts):
    caller = parts.client()
    agent = route(parts, caller, "+263771")
    phone = phone_route(parts, caller, "+26377")
    message = routed(parts, caller)
    assert waits(parts, message) == (own(agent), {agent.device_id})  # the longest prefix

    assert declined(agent, message) == "applied"

    assert parts.reload(message).status == "queued"
    assert parts.reload(message).routed_to == phone.device_id
    assert [m.message_id for m in parts.pulled(phone)] == [message.message_id]


def test_a_message_its_route_agent_declined_fails_though_a_phone_of_another_route_is_up(parts):
    caller = parts.client()
    agent = route(parts, caller, "+263771")
    phone = phone_route(parts, caller, "+26371")
    message = routed(parts, caller)

    assert declined(agent, message) == "applied"

    stored = parts.reload(message)
    assert stored.status == "failed" and stored.error is not None and stored.error.code == "NO_CREDIT"
    assert parts.pulled(phone) == []


def declined(device: AgentDevice, message: Message) -> str:
    data = {
        "message_id": message.message_id,
        "declined_at": isoformat_precise(utcnow()),
        "code": "NO_CREDIT",
        "message": "No credit",
        "detail": "+CMS ERROR: 8 (Operator determined barring)",
    }
    return device.report("declined", data)


def phone_route(parts: Parts, caller: Caller, *prefixes: str, heard_at: datetime | None = None) -> MobileDevice:
    phone = parts.phone(caller)
    parts.store.devices.set_prefixes(phone.device_id, prefixes)
    parts.heard(phone, heard_at or utcnow())
    return phone


def test_a_message_routed_to_a_phone_gone_silent_before_its_pull_moves_and_the_phone_lists_it_no_more(parts):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377", heard_at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS - 10))
    message = routed(parts, caller)
    assert waits(parts, message) == (own_queue(phone.device_id), {phone.device_id})
    spare = route(parts, caller, "+26377")

    later = utcnow() + timedelta(seconds=15)
    spare.heartbeat(at=later)
    run_round(parts, later)

    assert waits(parts, message) == (own(spare), {spare.device_id})
    assert parts.reload(message).routed_to == spare.device_id
    assert parts.pulled(phone) == []


def handed(parts: Parts) -> tuple[MobileDevice, Message]:
    """A message routed to a phone, which pulled it and called no more; another device of the route up."""
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377")
    message = routed(parts, caller)
    assert [m.message_id for m in parts.pulled(phone)] == [message.message_id]
    parts.heard(phone, utcnow())  # the pull: its last call
    route(parts, caller, "+26377")
    return phone, message


def test_a_message_a_silent_phone_was_handed_stays_its_own(parts):
    phone, message = handed(parts)

    run_round(parts, utcnow() + timedelta(seconds=OFFLINE_AFTER_SECONDS + 5))

    assert waits(parts, message) == (own_queue(phone.device_id), {phone.device_id})
    assert parts.reload(message).routed_to == phone.device_id
    assert [m.message_id for m in parts.pulled(phone)] == [message.message_id]  # it may send it still


def test_a_message_a_silent_phone_was_handed_stays_its_own_when_its_job_is_placed_again(parts):
    phone, message = handed(parts)
    # Redis loses the job (and no claim was made: the phone had not reported yet).
    job_deletion.delete_jobs(parts.redis, [wire.send_job_id(message.client_id, message.message_id)])

    run_round(parts, utcnow() + timedelta(seconds=OFFLINE_AFTER_SECONDS + 5))

    assert waits(parts, message) == (own_queue(phone.device_id), {phone.device_id})
    assert parts.reload(message).routed_to == phone.device_id


def test_a_cancel_of_a_message_routed_to_a_phone_tells_the_phone_and_its_pull_lists_it_no_more(parts, dispatcher):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377")
    message = routed(parts, caller)

    assert dispatcher.cancel(parts.reload(message))

    assert parts.redis.smembers(wake.cancelling_key(phone.device_id)) == {message.message_id.encode()}
    assert waits(parts, message) is None
    assert parts.pulled(phone) == []


def disabled(parts: Parts, phone: MobileDevice) -> None:
    parts.store.devices.disable(phone.device_id)


def past_its_daily_limit(parts: Parts, phone: MobileDevice) -> None:
    """The phone pulls still: only the move's mark keeps its pull off a message moved off it."""
    later = isoformat_z(utcnow() + timedelta(hours=3))
    parts.store.devices.record_heartbeat(phone.device_id, utcnow(), {"daily_limit_reached_until": later})


@pytest.mark.parametrize("unable", [disabled, past_its_daily_limit])
def test_a_pull_that_read_a_message_before_it_moved_off_its_phone_leaves_it_out(parts, unable):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377")
    message = routed(parts, caller)
    spare = route(parts, caller, "+26377")
    # The phone's pull reads the store, the message routed to it, and has not marked it handed yet.
    now = utcnow()
    page = pending.to_take(parts.store, parts.redis, phone, now, newest_first=False)
    assert [m.message_id for m in page.listed] == [message.message_id]

    unable(parts, phone)
    run_round(parts)
    assert waits(parts, message) == (own(spare), {spare.device_id})

    assert handing.hand(parts, phone, page, now) == []  # the spare alone sends it


def test_a_message_a_pull_marked_before_the_move_off_its_phone_stays_the_phones(parts):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377", heard_at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS - 10))
    message = routed(parts, caller)
    spare = route(parts, caller, "+26377")
    # The pull marks it handed after the worker read the phone's last call, which tells of no pull since.
    assert [m.message_id for m in parts.pulled(phone)] == [message.message_id]

    later = utcnow() + timedelta(seconds=15)
    spare.heartbeat(at=later)
    run_round(parts, later)

    assert waits(parts, message) == (own_queue(phone.device_id), {phone.device_id})
    assert parts.reload(message).routed_to == phone.device_id
    assert [m.message_id for m in parts.pulled(phone)] == [message.message_id]


def test_a_message_moved_off_a_phone_and_back_to_it_is_listed_by_its_pull_again(parts):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377", heard_at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS - 10))
    message = routed(parts, caller)
    spare = route(parts, caller, "+26377")
    later = utcnow() + timedelta(seconds=15)
    spare.heartbeat(at=later)
    run_round(parts, later)
    assert parts.pulled(phone) == []

    parts.store.devices.disable(spare.device_id)
    parts.heard(phone, later + timedelta(seconds=5))
    run_round(parts, later + timedelta(seconds=10))

    assert waits(parts, message) == (own_queue(phone.device_id), {phone.device_id})
    assert [m.message_id for m in parts.pulled(phone)] == [message.message_id]


def test_a_message_whose_move_off_a_silent_phone_stopped_halfway_moves_at_the_next_round(parts):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377", heard_at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS - 10))
    message = routed(parts, caller)
    parts.heard(phone, utcnow())  # a pull since the message came due, which listed nothing
    spare = route(parts, caller)
    # A round marked the move off the phone, and stopped before the store kept it.
    parts.redis.set(handing.handed_key(phone.device_id, message.message_id), relay_claim.MOVED_MARK)

    run_round(parts, utcnow() + timedelta(seconds=OFFLINE_AFTER_SECONDS + 5))

    assert parts.reload(message).routed_to is None
    assert waits(parts, message) == (shared(caller), {phone.device_id, spare.device_id})
    assert parts.pulled(phone) == []


def test_a_message_of_a_client_of_phones_alone_waits_on_the_shared_queue_only_until_its_route_phone_is_back(parts):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377", heard_at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS - 10))
    message = routed(parts, caller)
    later = utcnow() + timedelta(seconds=15)
    run_round(parts, later)  # the phone silent, no other device: the shared queue, which no agent reads
    assert waits(parts, message) == (shared(caller), {phone.device_id})
    assert parts.pulled(phone) == []

    parts.heard(phone, later + timedelta(seconds=5))
    run_round(parts, later + timedelta(seconds=10))

    assert parts.reload(message).routed_to == phone.device_id
    assert waits(parts, message) == (own_queue(phone.device_id), {phone.device_id})
    assert [m.message_id for m in parts.pulled(phone)] == [message.message_id]


def test_a_message_on_the_shared_queue_stays_there_while_an_agent_of_the_client_reads_it(parts):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377", heard_at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS - 10))
    message = routed(parts, caller)
    later = utcnow() + timedelta(seconds=15)
    run_round(parts, later)
    agent = route(parts, caller)  # takes the shared queue, and is no route

    parts.heard(phone, later + timedelta(seconds=5))
    agent.heartbeat(at=later + timedelta(seconds=5))
    run_round(parts, later + timedelta(seconds=10))

    assert parts.reload(message).routed_to is None
    assert waits(parts, message) == (shared(caller), {phone.device_id})


def own_queue(device_id: str) -> str:
    return wire.device_queue(device_id, 3)


def test_an_otp_of_a_client_of_phones_alone_stays_on_the_shared_queue_and_is_never_routed_masked(parts):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377")
    message = otp_message(parts, caller, utcnow())
    # The relay enqueues it with its code, never routed (``api.otp``).
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [replace(message, body="Code: 123456")])

    run_round(parts, utcnow() + timedelta(seconds=5))

    assert parts.reload(message).routed_to is None
    assert parts.pulled(phone) == []
    job = bus.fetch(wire.send_job_id(caller.client_id, message.message_id), parts.redis)
    assert job.origin == wire.client_queue(caller.client_id, 1)  # an OTP's priority
    assert "Code: 123456" in repr(job.args)


def test_a_round_reads_no_shared_backlog_of_a_client_whose_agents_are_down_and_that_has_no_route_up(parts):
    caller = parts.client()
    agent = parts.device(caller)
    backlog = parts.store.insert_messages([parts.new_message(caller, to=ECONET) for _ in range(3)])
    placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, backlog)
    agent.heartbeat(at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS + 60))  # down: its queue is read by none
    phone_route(parts, caller, "+26377", heard_at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS + 60))
    read: list[str] = []
    get_messages_by_ids = parts.store.get_messages_by_ids
    parts.store.get_messages_by_ids = lambda ids: read.extend(ids) or get_messages_by_ids(ids)

    run_round(parts)

    assert read == []  # no device of a route could take one: the backlog waits unread
    assert [waits(parts, message) for message in backlog] == [(shared(caller), {agent.device_id})] * 3


def read_then_moved_to_the_phone(
    parts: Parts, message: Message, phone: MobileDevice, now: datetime
) -> tuple[Message, routes.StatesOf]:
    """A round reads the message and its client's devices (no device of its route can take it);
    meanwhile another placing, with the phone back, moves it to the phone, whose pull hands it.
    The message and the device states as the round read them."""
    read = parts.reload(message)
    states_of = recovery.live_states_of(parts.ctx, parts.store.devices.signing_keys, now)
    assert states_of(message.client_id)
    parts.heard(phone, now)
    [placed] = recovery.give_jobs(parts.ctx, [read], now)
    assert placed.routed_to == phone.device_id
    assert [m.message_id for m in parts.pulled(phone)] == [message.message_id]
    return read, states_of


def test_a_placing_that_read_a_message_before_another_moved_it_to_a_phone_leaves_it_the_phones(parts):
    caller = parts.client()
    econet = route(parts, caller, "+26377")
    route(parts, caller)  # an agent reading the shared queue
    message = routed(parts, caller)
    assert message.routed_to == econet.device_id
    phone = phone_route(parts, caller, "+26377", heard_at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS + 60))
    parts.store.devices.disable(econet.device_id)
    now = utcnow()
    read, states_of = read_then_moved_to_the_phone(parts, message, phone, now)

    assert recovery.give_jobs(parts.ctx, [read], now, states_of) == []  # the round's, by what it read

    assert parts.reload(message).routed_to == phone.device_id  # the phone alone may send it
    run_round(parts)  # the job the round took off is given back, by the route the store keeps
    assert waits(parts, message) == (own_queue(phone.device_id), {phone.device_id})


def test_a_message_routed_to_a_phone_since_deleted_moves_to_another_device_of_its_route(parts):
    caller = parts.client()
    phone = phone_route(parts, caller, "+26377")
    message = routed(parts, caller)
    spare = route(parts, caller, "+26377")

    # Deleted, the phone can neither pull nor report: none of its marks is left to be read.
    with parts.store.engine.begin() as conn:
        for table in (phone_events, mobile_devices, device_events, device_status, devices):
            conn.execute(sa.delete(table).where(table.c.device_id == phone.device_id))
    run_round(parts)

    assert parts.reload(message).routed_to == spare.device_id
    assert waits(parts, message) == (own(spare), {spare.device_id})


def test_a_placing_that_read_a_message_unrouted_before_another_moved_it_to_a_phone_places_no_shared_job(parts):
    caller = parts.client()
    route(parts, caller)  # an agent reads the shared queue, and sends what the phone may have sent
    phone = phone_route(parts, caller, "+26377", heard_at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS + 60))
    message = parts.message(caller, to=ECONET)
    now = utcnow()
    read, states_of = read_then_moved_to_the_phone(parts, message, phone, now)
    assert read.routed_to is None

    # The round's placing, by what it read, keeps the route it read: the store keeps another now.
    placed_again = recovery.give_jobs(parts.ctx, [read], now, states_of)

    assert waits(parts, message) is None  # no agent has it to send beside the phone
    assert placed_again == []
    run_round(parts)
    assert waits(parts, message) == (own_queue(phone.device_id), {phone.device_id})
