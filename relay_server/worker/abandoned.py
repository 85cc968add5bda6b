"""Claims no device will ever report on: their messages fail, outcome unknown.

A device that claimed a message and then went silent gets it back from
recovery (``recovery``), on its own queue. A device that never comes back
would leave it queued for ever, claimed, or waiting on that queue: so once
the claiming device is unknown (deleted), disabled (its reports are refused)
or silent for its ``silence_bound``, the message fails with DEVICE_ERROR,
saying its outcome is unknown (the device may have sent it). The bound is
``claim_abandoned_after_seconds``, and for an Android phone never less than
``PHONE_REPORT_GRACE``: the phone claims a message with its first report
(``Pending``), and its app retries each report that long once it has a
network, so a phone offline for less may still report the message sent.
The relay first takes the claim over (``wire.CLAIM_ABANDONED``), only while
it still names that device, then fails the message: should the store fail
in between, recovery finds that claim and fails the message then
(``recovery``), where a cancel's claim would have made it cancelled. A
report the device makes later changes nothing, and is logged (``events``).
A phone's message it was handed and never reported on holds no claim of the
phone's: ``unreported`` ends it so.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import cast

from relay_server.dispatch import placement
from relay_server.store.models import Device, Message
from relay_server.store.store import Store
from relay_server.worker.context import WorkerContext
from relay_server.worker.expiry import PHONE_REPORT_GRACE
from relay_server.worker.messages import fail_outcome_unknown
from zimsend_common import bus, device_written, wire

log = logging.getLogger(__name__)

ABANDONED = "the device that took the message {why}; the outcome is unknown and the message was not sent again"
NO_DEVICE = "is no device of its client (deleted, or never one)"


def silence_bound(ctx: WorkerContext, *, phone: bool) -> timedelta:
    """How long a device is not heard from before it is taken never to report again:
    ``claim_abandoned_after``, and for a phone never less than ``PHONE_REPORT_GRACE`` (its app
    retries a report that long once it has a network)."""
    return max(ctx.claim_abandoned_after, PHONE_REPORT_GRACE) if phone else ctx.claim_abandoned_after


class Phones:
    """The registered phones (only such a phone may have claimed a message, or been handed one),
    read from the store at the first ask and kept: make one a round, for all its duties."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @functools.cached_property
    def devices(self) -> list[Device]:
        """The phones as devices (client, whether disabled, when last seen), as the round first asked."""
        return self._store.mobile_devices.registered_phones()

    @functools.cached_property
    def ids(self) -> frozenset[str]:
        """The phones' device ids."""
        return frozenset(phone.device_id for phone in self.devices)


def why_abandoned(device: Device, claimed_by: datetime, now: datetime, after: timedelta) -> str | None:
    """Why ``device``, which claimed a message by ``claimed_by`` at the latest, will never
    report on it once silent for ``after``; None while it may."""
    if device.disabled:
        return "is disabled, and its reports refused"
    # It was alive when it claimed the message.
    heard_at = max(device.last_seen_at or claimed_by, claimed_by)
    if now - heard_at >= after:
        return f"has not been heard from for {int((now - heard_at).total_seconds())} s"
    return None


def why_given_up(ctx: WorkerContext, device: Device, claimed_by: datetime, now: datetime, phones: Phones) -> str | None:
    """Why ``device``, which claimed a message by ``claimed_by`` at the latest, will never report
    on it, by its own ``silence_bound``; None while it may."""
    # An agent's bound is the least: only a device silent past it makes the round read the phones.
    why = why_abandoned(device, claimed_by, now, ctx.claim_abandoned_after)
    if why is None or device.disabled:
        return why
    return why_abandoned(device, claimed_by, now, silence_bound(ctx, phone=device.device_id in phones.ids))


def give_up(ctx: WorkerContext, message: Message, claim: bytes, device: Device | None, now: datetime, why: str) -> bool:
    """Fail a message its claiming device abandoned, if the claim still names that device
    and the message is still queued; whether it did."""
    # A claim given back and made again since (by a device that may have sent the message) is not abandoned.
    key = wire.claim_key(message.client_id, message.message_id)
    if not device_written.replace_if_equal(ctx.redis, key, claim, wire.CLAIM_ABANDONED, ex=wire.CLAIM_TTL_SECONDS):
        return False
    # Jobless from here, so that recovery, reading the claim, ends it should the store fail next.
    placement.remove_jobs(ctx.redis, [(message.client_id, message.message_id)])
    device_id = device.device_id if device is not None else None
    if not fail_outcome_unknown(ctx.store, message.message_id, now, ABANDONED.format(why=why), device_id):
        return False
    log.warning(
        "claimed message failed: its device will not report on it",
        extra={"message_id": message.message_id, "device_id": device_id, "why": why},
    )
    return True


def give_up_returned(ctx: WorkerContext, now: datetime, phones: Phones) -> int:
    """Fail the messages that wait, returned, on the own queues of the devices that claimed
    them and that will never take them (which of them are phones, ``phones`` tells); returns
    how many failed."""
    failed = 0
    for device in ctx.store.devices.listed():
        # A device never heard from has no moment to count silence from: its messages are judged one by one.
        claimed_by = device.last_seen_at or now
        why = why_given_up(ctx, device, claimed_by, now, phones)
        if why is not None:
            failed += _give_up_waiting(ctx, device, now, why)
    return failed


def _give_up_waiting(ctx: WorkerContext, device: Device, now: datetime, why: str) -> int:
    claim = wire.claim_value_device(device.device_id).encode()
    refs = _waiting_on_own_queues(ctx, device)
    claims = cast("list[bytes | None]", ctx.redis.mget([wire.claim_key(*ref) for ref in refs])) if refs else []
    theirs = [message_id for (_, message_id), found in zip(refs, claims, strict=True) if found == claim]
    failed = 0
    for message in ctx.store.get_messages_by_ids(theirs).values():
        if message.client_id != device.client_id or message.status != "queued":
            continue
        failed += give_up(ctx, message, claim, device, now, why)
    return failed


def _waiting_on_own_queues(ctx: WorkerContext, device: Device) -> list[tuple[str, str]]:
    """The (client id, message id) of each send job of the device's client on the device's own queues."""
    with ctx.redis.pipeline(transaction=False) as pipe:
        for priority in wire.PRIORITY_LEVELS:
            pipe.lrange(bus.queue_key(wire.device_queue(device.device_id, priority)), 0, -1)
        listed = device_written.answers(pipe)
    prefix = wire.send_job_id(device.client_id, "")
    return [
        (device.client_id, job_id.decode(errors="replace").removeprefix(prefix))
        for items in listed
        if not device_written.unreadable(items)
        for job_id in items
        if job_id.startswith(prefix.encode())
    ]
