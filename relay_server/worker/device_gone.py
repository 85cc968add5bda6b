"""Messages meant for one device that was disabled or deleted before they left: they fail.

A message sent with ``X-Device-ID`` leaves through that device alone. Once the
device is disabled (``zimsend-relay disable-device``) or gone from the store
(deleted in the database: no route or command deletes one), no job is signed for it and its
reports are refused, so the message would wait queued for ever. Instead it
fails with DEVICE_ERROR (``DEVICE_GONE``) and its ``sms.failed`` webhook,
as any failure: a scheduled one at its time (the due release), one already
queued at the worker's next maintenance round.

Such a message surely never left: the relay first claims it
(``wire.CLAIM_DEVICE_GONE``), which no device can do after it, and takes its
job away. One a device claimed first may have been sent: it is
``abandoned``'s, and fails with its outcome unknown. Should the store lose the
failure, the claim makes the next round fail the message the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from relay_server.dispatch.placement import KeysOf
from relay_server.store.models import Message
from relay_server.worker.context import WorkerContext
from relay_server.worker.relay_claim import fail_unless_taken
from zimsend_common import wire
from zimsend_common.failures import FailureCode

log = logging.getLogger(__name__)

DEVICE_GONE = "the device the message was meant for was disabled or deleted before it left; it was not sent"


def split(messages: Sequence[Message], keys_of: KeysOf) -> tuple[list[Message], list[Message]]:
    """The messages whose device may still take them (shared ones, test ones, those of an
    enabled device of their client, as ``keys_of`` gives its signing keys), and those meant
    for a device that is gone."""
    keys = {client_id: keys_of(client_id) for client_id in {m.client_id for m in messages if _meant_for_one(m)}}
    kept, gone = [], []
    for message in messages:
        if _meant_for_one(message) and message.device_id not in keys[message.client_id]:
            gone.append(message)
        else:
            kept.append(message)
    return kept, gone


def fail(ctx: WorkerContext, messages: Sequence[Message], now: datetime) -> int:
    """Fail each message its device will never take, unless a device or a cancel claimed it
    first (``relay_claim``); returns how many failed."""
    failed = fail_unless_taken(ctx, messages, now, wire.CLAIM_DEVICE_GONE, FailureCode.DEVICE_ERROR, DEVICE_GONE)
    for message in failed:
        log.warning(
            "message failed: its device was disabled or deleted",
            extra={"message_id": message.message_id, "device_id": message.device_id},
        )
    return len(failed)


def fail_stranded(ctx: WorkerContext, now: datetime, scheduled_through: datetime | None) -> int:
    """Fail every queued message, due by ``scheduled_through`` when scheduled, whose device is
    gone (``fail``); returns how many failed."""
    return fail(ctx, ctx.store.queued_for_gone_devices(scheduled_through), now)


def _meant_for_one(message: Message) -> bool:
    return message.device_id is not None and not message.is_test
