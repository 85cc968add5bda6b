"""Routed messages left waiting for a device that can no longer take them.

A shared message routed by its destination (``dispatch.routes``) waits on
its route device's own queue. Should that device be disabled, deleted,
silent past ``device_offline_after_seconds``, stopped, or paused (past its
daily send limit, or after its SIM refused for want of credit) before it
takes the message, the message would wait for it, for ever if it never comes
back. So each recovery round looks, among the queued messages whose job it
read as waiting on a device's own queue, at those of devices that cannot take
a routed message now (``routes.takes_routed_now``), and hands the shared ones
(routed: the store keeps them without a device) to recovery to place again
(``recovery.give_jobs``): on another device of their route, or on the
client's shared queue. Both judge the devices by the same states, read once
a round as live as known (the store's heartbeats, or a device's heartbeat key
where newer: ``recovery.live_states_of``): judged by two readings, a device
the store has silent while its key shows it up would lose its message only
to be given it back. A device that took the old job meanwhile still holds
it, and the claim decides which of the two sends the message, as for any job
recovery places again. A pinned message stays where it waits: its client
chose the device; and so does one claimed (a device has it, or recovery
returned it to the device that claimed it). One routed to a phone moves
only while the phone cannot hold it: a phone claims a message with its first
report, which may come after it sent, so one a pull may have handed it stays
the phone's, as a pinned one does (``unreported`` ends it should the phone
never come back). A pull may have handed it when the phone was heard from
since the message came due (``last_heard``) and the pull's mark
says so (``handing.handed_key``), or cannot tell: the message came due more
than the mark's life (``PHONE_REPORT_GRACE``) ago, or before Redis lost its
data. A pull reads the store, then marks what it read: so the move marks the
message moved off the phone, in one step with the check that no pull marked
it handed meanwhile (one that did keeps it), and takes off a moved mark of
the phone it goes to (``handing.move``, from ``off_phones``), before it
writes the message's new route (or none) to the store and places its new
job (``recovery.give_jobs``): the phone's pull lists it no more, not even
one that read it routed to the phone before the move. The store keeps the
new route only over the one the round read, while the message is queued
(another placing, the due release's or a declined message's, may have moved
it since, to a phone whose pull then handed it), and the job is placed only
where it did; a route kept as read is placed by only while the store still
keeps it. A client of phones
alone (which may send the numbers its phones' routes cover) has no agent to
read its shared queue, and a phone pulls from the store, where a message put
there is nobody's: so a round also takes such a client's messages waiting on
its shared queue, while a device of their route can take them again, and
places them on it. A one-time password's
message is never routed (``api.otp``), so none waits so: its code, in its
job alone, could not be placed again from the store's masked text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

from relay_server.dispatch import routes
from relay_server.mobile import downtime, handing
from relay_server.store.device_state import DeviceState
from relay_server.store.models import Message
from relay_server.worker import epoch
from relay_server.worker.context import WorkerContext
from relay_server.worker.expiry import PHONE_REPORT_GRACE
from relay_server.worker.last_heard import last_heard
from zimsend_common import wire


def stranded(
    ctx: WorkerContext, waiting: Mapping[str, Sequence[tuple[str, str]]], now: datetime, states_of: routes.StatesOf
) -> list[Message]:
    """Of the (client id, message id) pairs read as waiting queued, by queue name, the routed,
    unclaimed messages still queued on the own queue of a device that cannot take them at
    ``now``, as ``states_of`` tells (the live states the round places them again by), and the
    shared ones on a client's shared queue that no agent of the client reads now while a device
    of their route takes them (``_unread``), but a one-time password's: one read of those
    messages, when any waits so, and the claims of those alone (a pinned backlog costs no Redis
    command a message)."""
    # A queue's messages are all of one client: its shared queue's, or its device's.
    left = {
        message_id: wire.queue_device(name) is None  # on a shared queue
        for name, theirs in waiting.items()
        if theirs and _left_on(name, states_of(theirs[0][0]), now, ctx)
        for _, message_id in theirs
    }
    if not left:
        return []
    found = ctx.store.get_messages_by_ids(list(left))
    routed = [
        message
        for message in found.values()
        if message.status == "queued"
        and message.device_id is None
        and not message.is_test
        and (not left[message.message_id] or _has_route(message, states_of, now, ctx))
    ]
    # A one-time password's job alone holds its code: never placed again from the store's masked text.
    otps = ctx.store.otp_messages([message.message_id for message in routed if left[message.message_id]])
    routed = [message for message in routed if message.message_id not in otps]
    if not routed:
        return []
    # A claimed one is in a device's hands, or returned to the device that claimed it (``recovery``).
    claims = ctx.redis.mget([wire.claim_key(message.client_id, message.message_id) for message in routed])
    unclaimed = [message for message, claim in zip(routed, cast("list[bytes | None]", claims)) if claim is None]
    held = held_by_phones(ctx, unclaimed, now, states_of)
    return [message for message in unclaimed if message.message_id not in held]


def _left_on(queue: str, states: Sequence[DeviceState], now: datetime, ctx: WorkerContext) -> bool:
    """Whether a message waiting on ``queue`` may wait there for ever (``states``: its
    client's): the own queue of a device that cannot take it now, or a shared queue that no
    agent of the client reads now (``_unread``) while a device of a route could take one."""
    device_id = wire.queue_device(queue)
    if device_id is not None:
        return not _takes(states, device_id, now, ctx)
    # No route device up, none of its messages is placed again: a backlog read for nothing, a round.
    return _unread(states, now, ctx) and any(
        state.prefixes and routes.takes_routed_now(state, now, ctx.offline_after) for state in states
    )


def _unread(states: Sequence[DeviceState], now: datetime, ctx: WorkerContext) -> bool:
    """Whether no agent of the client reads its shared queues now: its devices online are
    phones alone (or none), which pull from the store, where a message of the shared queue is
    nobody's. A client of phones alone sends the numbers its phones' routes cover; a message
    of theirs put on the shared queue while its phone could not take it waits there for a
    route device to come back (``_has_route``)."""
    return not any(state.online(now, ctx.offline_after) and not state.is_phone for state in states)


def _has_route(message: Message, states_of: routes.StatesOf, now: datetime, ctx: WorkerContext) -> bool:
    """Whether a device of the message's route takes it now."""
    return routes.route_device(message, states_of(message.client_id), now, ctx.offline_after, ()) is not None


def held_by_phones(
    ctx: WorkerContext, messages: Sequence[Message], now: datetime, states_of: routes.StatesOf
) -> set[str]:
    """The ids of those of ``messages`` routed to a phone (``_on_phone``, by ``states_of``) that
    may have been handed them (``_may_hold``): theirs still, wherever the phone is. A phone
    looked up only when one is their route."""
    theirs = [message for message in messages if _on_phone(message, states_of)]
    phones = {cast(str, message.routed_to) for message in theirs}
    if not phones:
        return set()
    noted = downtime.last_heard(ctx.redis, sorted(phones))
    pulled_by = {
        device_id: heard.pulled_by
        for device_id, device in ctx.store.devices.get_many(phones).items()
        if (heard := last_heard(device, noted.get(device_id), ctx.offline_after)) is not None
    }
    marks = ctx.redis.mget([handing.handed_key(cast(str, m.routed_to), m.message_id) for m in theirs])
    resumed = epoch.recovery_resumed_at(ctx.redis)
    lost_by = now if resumed is None else min(resumed, now)  # a loss, unnoticed or not, took the marks before
    return {
        message.message_id
        for message, mark in zip(theirs, cast("list[bytes | None]", marks))
        if _may_hold(message, pulled_by.get(cast(str, message.routed_to)), handing.handed(mark), lost_by, now)
    }


def off_phones(
    ctx: WorkerContext, messages: Sequence[Message], routed: Sequence[Message], states_of: routes.StatesOf
) -> list[Message]:
    """``routed``, the new routes of ``messages`` (in their order), but for those a pull marked
    handed to the phone they leave, which keep it (``handing.move``): each other is marked moved
    off that phone, and loses its moved mark of the phone it goes to, before the store keeps the
    move. Phones are told by ``states_of``, the states the new routes were chosen by: a phone
    since deleted is in them no more, and needs no mark, as it can pull no more. One Redis
    round trip when one leaves or goes to a phone; none else."""
    moves: list[handing.Move] = []
    for before, after in zip(messages, routed, strict=True):
        off = before.routed_to if after.routed_to != before.routed_to and _on_phone(before, states_of) else None
        onto = after.routed_to if _on_phone(after, states_of) else None
        if off is not None or onto is not None:
            moves.append(handing.Move(after.message_id, off, onto))
    kept = handing.move(ctx.redis, moves)
    return [before if before.message_id in kept else after for before, after in zip(messages, routed, strict=True)]


def _on_phone(message: Message, states_of: routes.StatesOf) -> bool:
    """Whether the message is routed to a phone, as its client's ``states_of`` tell (a phone
    disabled or paused among them; one deleted not: it is no device of theirs any more); its
    client's states not asked for when it is routed to no device."""
    to = message.routed_to
    return to is not None and any(state.device_id == to and state.is_phone for state in states_of(message.client_id))


def _may_hold(message: Message, pulled_by: datetime | None, marked: bool, lost_by: datetime, now: datetime) -> bool:
    """Whether the phone the message is routed to may have been handed it: it may have pulled
    since the message came due (``last_heard``; never, when None), and the message
    is marked handed, or came due too long ago, or before Redis's loss, for a mark to tell
    (a mark lasts ``PHONE_REPORT_GRACE`` from the first pull that listed the message)."""
    came_due = _came_due_at(message)
    if pulled_by is None or came_due > pulled_by:
        return False
    return marked or came_due < lost_by or now - came_due >= PHONE_REPORT_GRACE


def _came_due_at(message: Message) -> datetime:
    """When a pull could first list the message: once stored, and its scheduled time come."""
    return max(message.created_at, message.scheduled_at or message.created_at)


def _takes(states: Sequence[DeviceState], device_id: str, now: datetime, ctx: WorkerContext) -> bool:
    """Whether the device, of ``states`` (its client's), can take a routed message at ``now``."""
    return any(
        state.device_id == device_id and routes.takes_routed_now(state, now, ctx.offline_after) for state in states
    )
