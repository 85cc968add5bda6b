"""Keeping Redis in step with the store, whatever Redis lost.

The store is the truth: every message it shows as queued must have a job in
Redis, unless a device or a cancel has already claimed it. Recovery gives
the others their job again; placing is idempotent, so running it while the
relay is enqueueing is safe, and the claim keeps a message from leaving twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from relay_server.dispatch import placement
from relay_server.worker.context import WorkerContext
from relay_server.worker.messages import expire, load_message, queued_message_ids
from zimsend_common import wire

log = logging.getLogger(__name__)

_BATCH = 500  # messages checked in Redis per round trip


def publish_device_clients(ctx: WorkerContext) -> None:
    """Tell agents which client each device serves (they listen on its shared queues)."""
    devices = ctx.store.list_devices()
    with ctx.redis.pipeline(transaction=False) as pipe:
        for device in devices:
            pipe.set(wire.device_client_key(device.device_id), device.client_id)
        pipe.execute()


def requeue_orphans(ctx: WorkerContext, now: datetime) -> int:
    """Give a job to every queued, unclaimed message that has none; returns how many."""
    placed = 0
    queued = queued_message_ids(ctx.store)
    orphans = [
        message_id
        for start in range(0, len(queued), _BATCH)
        for message_id in placement.unplaced(ctx.redis, queued[start : start + _BATCH])
    ]
    for message_id in orphans:
        message = load_message(ctx.store, message_id)
        if message is None or message.status != "queued":
            continue
        if message.valid_until is not None and message.valid_until < now:
            _expire(ctx, message_id, now)
            continue
        placement.remove_jobs(ctx.redis, message_id)  # a failed job's remains would block the new one
        placement.place(ctx.redis, message, now)
        placed += 1
        log.info("message queued again", extra={"message_id": message_id})
    return placed


def _expire(ctx: WorkerContext, message_id: str, now: datetime) -> None:
    """Fail a message whose validity ran out while it had no job, if nobody claims it first."""
    won = ctx.redis.set(
        wire.claim_key(message_id), wire.CLAIM_CANCELLED, nx=True, ex=wire.CLAIM_TTL_SECONDS
    )
    if not won:
        return
    expire(ctx.store, message_id, now)
