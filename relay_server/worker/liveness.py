"""Which devices are online, and what a device that died mid-send leaves behind.

A device goes offline when its heartbeats stop for longer than the offline
threshold, and online again with its next heartbeat; each transition is kept
as a ``device.connected``/``device.disconnected`` record.

An agent heartbeats even while its modem is busy with a send (from a thread
of its own, which falls silent only when the agent's loop has been stuck for
longer than the longest send). So silence alone says an agent is dead, once
it lasted twice the offline threshold: the second threshold leaves room for
heartbeats still waiting in the events queue. A dead agent that was handing a message to its modem
leaves that message's outcome unknown: it fails with DEVICE_ERROR, and is
never sent again on its own.

Each round first takes every device's latest heartbeat from its key in
Redis (signed like an event, ``dispatch.heartbeat_keys``), not only from the
events queue: under a burst of reports the queue runs behind, and the
transitions recorded must not wait for it. (The relay's send path reads the
keys itself: it does not wait for this round either.)
"""

from __future__ import annotations

import logging
from datetime import datetime

from relay_server.dispatch import heartbeat_keys
from relay_server.store.device_state import DeviceState
from relay_server.worker.context import WorkerContext
from relay_server.worker.messages import fail_outcome_unknown
from zimsend_common import device_written, wire

log = logging.getLogger(__name__)

LOST_SEND_DETAIL = (
    "the device's agent stopped while handing the message to the modem; "
    "the outcome is unknown and the message was not sent again"
)


def check_devices(ctx: WorkerContext, now: datetime) -> None:
    """Record online/offline transitions and fail the lost sends of offline devices."""
    states = ctx.store.devices.states()
    if take_latest_heartbeats(ctx, now, states):
        states = ctx.store.devices.states()
    recorded = ctx.store.devices.recorded_online()
    dead_after = 2 * ctx.offline_after
    for state in states:
        online = state.online(now, ctx.offline_after)
        if online != recorded.get(state.device_id, False):
            reason = None if online else state.offline_reason(now, ctx.offline_after)
            ctx.store.devices.record_transition(state, online=online, at=now, reason=reason)
            log.info("device " + ("online" if online else "offline"), extra={"device_id": state.device_id})
        # Only an agent that stopped reporting is dead; one whose modem is lost
        # is alive and answers for its own send.
        if state.last_seen_at is not None and not state.heard_from(now, dead_after):
            fail_lost_send(ctx, state.device_id, state.client_id, now)


def take_latest_heartbeats(ctx: WorkerContext, now: datetime, states: list[DeviceState]) -> int:
    """Record each device's heartbeat key when it is newer than what ``states`` say
    (``heartbeat_keys.newer``: one its device did not sign is ignored); returns how many were recorded."""
    if not states:
        return 0
    heartbeats = heartbeat_keys.newer(ctx.redis, states, ctx.store.devices.signing_keys(), now)
    for device_id, heartbeat in heartbeats.items():
        ctx.store.devices.record_heartbeat(device_id, heartbeat.seen_at, heartbeat.data)
    return len(heartbeats)


def fail_lost_send(ctx: WorkerContext, device_id: str, client_id: str, now: datetime) -> str | None:
    """Fail the message a dead device was sending, if any; returns its id.

    The device writes its in-flight key itself: a message of another client, or
    anything but a message id, is no send of its own, and nothing fails.
    """
    raw = device_written.string_at(ctx.redis, wire.inflight_key(device_id))
    if raw is None:
        return None
    message_id = raw.decode(errors="replace")
    message = ctx.store.get_message_by_id(message_id)
    if (
        message is not None
        and message.status == "queued"
        and message.client_id == client_id
        and fail_outcome_unknown(ctx.store, message_id, now, LOST_SEND_DETAIL, device_id)
    ):
        log.warning("send outcome unknown", extra={"message_id": message_id, "device_id": device_id})
    # Only if it still names the message failed: its device may have written it since.
    device_written.delete_if_equal(ctx.redis, wire.inflight_key(device_id), raw)
    return message_id
