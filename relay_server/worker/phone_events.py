"""Handing on again the phones' events that Redis lost, as a modem agent hands on its own.

The relay keeps each event it makes of a phone's reports in the store before
it answers the phone (``mobile.outbox``). Each maintenance round looks at
those handed on ``event_rehand_seconds`` ago or more (the agents' own
setting): one the worker acknowledged (``wire.event_ack_key``) is forgotten;
one whose job still waits is left to it; any other was lost with Redis's
data before it was applied, and is put on the events queue again, with the
same id and signature, so that the store applies it once whatever happened
to the first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from relay_server.mobile import outbox
from relay_server.store.phone_events import Key, PhoneEvent
from relay_server.worker.context import WorkerContext
from zimsend_common import bus, wire

log = logging.getLogger(__name__)

BATCH = 500  # events looked at per round trip


def hand_on_again(ctx: WorkerContext, now: datetime) -> int:
    """Forget the phones' events the worker has applied and hand on again those Redis lost;
    how many were handed on again."""
    handed_before = now - timedelta(seconds=ctx.settings.agent.event_rehand_seconds)
    again = 0
    # Each event looked at is forgotten or marked handed at ``now``: the next batch holds others.
    while batch := ctx.store.phone_events.handed_before(handed_before, BATCH):
        acknowledged, lost = _sorted(ctx, batch)
        ctx.store.phone_events.forget([_key(event) for event in acknowledged])
        for event in lost:
            outbox.enqueue(ctx.redis, event)
        forgotten = {_key(event) for event in acknowledged}
        ctx.store.phone_events.mark_handed([_key(event) for event in batch if _key(event) not in forgotten], now)
        again += len(lost)
        if len(batch) < BATCH:
            break
    if again:
        log.warning("phone events handed on again: Redis lost them", extra={"count": again})
    return again


def _sorted(ctx: WorkerContext, batch: list[PhoneEvent]) -> tuple[list[PhoneEvent], list[PhoneEvent]]:
    """Of ``batch``, those the worker acknowledged, and those neither acknowledged nor still waiting."""
    pipeline = ctx.redis.pipeline(transaction=False)
    for event in batch:
        pipeline.exists(wire.event_ack_key(event.device_id, event.event_id))
    answers = pipeline.execute()
    acknowledged = [event for event, found in zip(batch, answers, strict=True) if found]
    rest = [event for event, found in zip(batch, answers, strict=True) if not found]
    waiting = bus.still_waiting(ctx.redis, [_job_id(event) for event in rest])
    return acknowledged, [event for event in rest if _job_id(event) not in waiting]


def _key(event: PhoneEvent) -> Key:
    return event.device_id, event.event_id


def _job_id(event: PhoneEvent) -> str:
    return wire.event_job_id(event.device_id, event.event_id)
