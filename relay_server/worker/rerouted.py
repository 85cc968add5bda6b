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
returned it to the device that claimed it). A one-time password's message is
never routed (``api.otp``), so none waits so: its code, in its job alone,
could not be placed again from the store's masked text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

from relay_server.dispatch import routes
from relay_server.store.device_state import DeviceState
from relay_server.store.models import Message
from relay_server.worker.context import WorkerContext
from zimsend_common import wire


def stranded(
    ctx: WorkerContext, waiting: Mapping[str, Sequence[tuple[str, str]]], now: datetime, states_of: routes.StatesOf
) -> list[Message]:
    """Of the (client id, message id) pairs read as waiting queued, by queue name, the routed,
    unclaimed messages still queued on the own queue of a device that cannot take them at
    ``now``, as ``states_of`` tells (the live states the round places them again by): one read
    of those messages, when any waits so, and the claims of the routed ones alone (a pinned
    backlog costs no Redis command a message)."""
    refs = [
        ref
        for name, theirs in waiting.items()
        if (device_id := wire.queue_device(name)) is not None
        for ref in theirs
        if not _takes(states_of(ref[0]), device_id, now, ctx)
    ]
    if not refs:
        return []
    found = ctx.store.get_messages_by_ids([message_id for _, message_id in refs])
    routed = [
        message
        for message in found.values()
        if message.status == "queued" and message.device_id is None and not message.is_test
    ]
    if not routed:
        return []
    # A claimed one is in a device's hands, or returned to the device that claimed it (``recovery``).
    claims = ctx.redis.mget([wire.claim_key(message.client_id, message.message_id) for message in routed])
    return [message for message, claim in zip(routed, cast("list[bytes | None]", claims)) if claim is None]


def _takes(states: Sequence[DeviceState], device_id: str, now: datetime, ctx: WorkerContext) -> bool:
    """Whether the device, of ``states`` (its client's), can take a routed message at ``now``."""
    return any(
        state.device_id == device_id and routes.takes_routed_now(state, now, ctx.offline_after) for state in states
    )
