"""Releasing a scheduled message when it is due: the job behind ``wire.RELEASE_SCHEDULED_FUNC``.

RQ's scheduler, run by the relay's worker, enqueues this job at the
message's ``scheduled_at``; it puts the message's send job on its queue.
"""

from __future__ import annotations

import logging

from relay_server.dispatch import placement
from relay_server.worker import context
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)


def release(message_id: str) -> bool:
    """Queue the message to leave now; False when it is no longer queued (cancelled, gone)
    or not yet due (a release job planted early in Redis)."""
    ctx = context.current()
    message = ctx.store.get_message_by_id(message_id) if isinstance(message_id, str) else None
    due = message is not None and (message.scheduled_at is None or message.scheduled_at <= utcnow())
    if message is None or message.status != "queued" or not due:
        log.info("scheduled message not released", extra={"message_id": message_id})
        return False
    placement.enqueue_send(ctx.redis, ctx.store, message)
    return True
