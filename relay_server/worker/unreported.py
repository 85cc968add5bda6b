"""Messages a phone was handed and will never report on: they fail, outcome unknown.

A phone takes the messages a pull lists without claiming them, and claims
one only with its first report (``relay_server.mobile.handing``). One it
reported on is claimed, and ``abandoned`` ends it should the phone never
report again. One it was handed and never reported on (the phone lost, reset
or uninstalled before its report got through) stays unclaimed and queued,
its send job on the phone's queue: for ever without a ``valid_until``, as
only the phone's own pulls list it again.

So each maintenance round looks for the phones that will never report:
disabled (their calls are refused), or not heard from for a phone's
``abandoned.silence_bound``: ``claim_abandoned_after_seconds`` and never
less than ``PHONE_REPORT_GRACE`` (the app retries a report for that long
once it has a network, so a phone silent for less may still report what it
sent), the same bound after which ``abandoned`` ends a message the phone
claimed. Each message such a phone may have been handed fails with
DEVICE_ERROR, saying its outcome is unknown (the phone may have sent it),
with its ``sms.failed`` webhook. The relay claims it first
(``wire.CLAIM_ABANDONED``, through ``relay_claim``): one a cancel or the
phone's report claimed first is left alone, a report the phone makes after
changes nothing and is logged (``mobile.reports``), and should the store
not keep the failure, recovery finds the claim and fails the message then.

A message routed to the phone by its number, rather than sent to it, fails
so only when a pull may have handed it (``rerouted.held_by_phones``: marked
handed, or come due too long ago, or before a loss of Redis's data, for a
mark to tell): one no pull handed the phone is left to recovery, later in
the same round, which moves it off the phone for another device
(``rerouted``), as it would had the phone made no call since.

Which messages a phone may have been handed, the handed marks cannot tell
by then: each lasts ``PHONE_REPORT_GRACE`` from the first pull, so none is
left once the phone has been silent that long, and a Redis loss takes them
sooner. The store answers instead, whatever Redis lost: a pull lists only
a message due by then (stored, and its scheduled time come), so one due by
the phone's last sign of life may have been handed (``last_heard``). The
relay's note of the phone's last call, in Redis, counts only where it is
later than the store's sight of the phone: a note planted there may keep a
phone looking alive, never make one look silent.

One due after it never reached the phone: it waits, as a message meant for
one agent's device waits for that agent to come back. It surely never left;
the phone sends it should it come back (set up again with its registration
token, a reset phone is the same device); its ``valid_until`` ends it, and
disabling the phone ends it at once, unsent (``device_gone``, which the round
runs after this).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import NamedTuple, cast

from relay_server.mobile import downtime
from relay_server.store.models import Device, Message
from relay_server.worker.abandoned import ABANDONED, Phones, silence_bound, why_abandoned
from relay_server.worker.context import WorkerContext
from relay_server.worker.last_heard import last_heard
from relay_server.worker.recovery import live_states_of
from relay_server.worker.relay_claim import fail_unless_taken
from relay_server.worker.rerouted import held_by_phones
from relay_server.worker.round_keys import RoundKeys
from zimsend_common import wire
from zimsend_common.failures import FailureCode

log = logging.getLogger(__name__)


class Gone(NamedTuple):
    """A phone that will never report: why, and the latest moment it may have pulled."""

    phone: Device
    why: str
    pulled_by: datetime


def give_up_unreported(ctx: WorkerContext, now: datetime, phones: Phones) -> int:
    """Fail every message a phone that will never report may have been handed (the registered
    ``phones``), but for one a cancel or the phone claimed first; returns how many failed.

    One routed to the phone, rather than sent to it, fails only when a pull may have handed it
    (``rerouted.held_by_phones``, by the devices' live states read for it as a round reads
    them): else recovery moves it off the phone (``rerouted``), for another device."""
    gone = {found.phone.device_id: found for found in _gone_phones(ctx, now, phones)}
    due = ctx.store.mobile_devices.queued_due_by([(found.phone, found.pulled_by) for found in gone.values()])
    routed = [message for message in due if message.device_id is None]
    held = held_by_phones(ctx, routed, now, live_states_of(ctx, RoundKeys(ctx.store), now)) if routed else set()
    handed: dict[str, list[Message]] = {}
    for message in due:
        if message.device_id is not None or message.message_id in held:
            handed.setdefault(cast(str, message.placed_on), []).append(message)
    return sum(len(_fail(ctx, gone[device_id], messages, now)) for device_id, messages in handed.items())


def _gone_phones(ctx: WorkerContext, now: datetime, registered: Phones) -> list[Gone]:
    """The phones that will never report: disabled, or not heard from for ``silence_bound``."""
    bound = silence_bound(ctx, phone=True)
    # The store's sight of a phone is never newer than the relay's note: only a phone the
    # store finds silent (or disabled) is looked up in Redis, and none on a round without one.
    phones = [phone for phone in registered.devices if _may_be_gone(phone, now, bound)]
    noted = downtime.last_heard(ctx.redis, [phone.device_id for phone in phones])
    found = []
    for phone in phones:
        heard = last_heard(phone, noted.get(phone.device_id), ctx.offline_after)
        why = None if heard is None else why_abandoned(phone, heard.at, now, bound)
        if heard is not None and why is not None:
            found.append(Gone(phone, why, heard.pulled_by))
    return found


def _may_be_gone(phone: Device, now: datetime, bound: timedelta) -> bool:
    return phone.disabled or phone.last_seen_at is None or now - phone.last_seen_at >= bound


def _fail(ctx: WorkerContext, gone: Gone, messages: list[Message], now: datetime) -> list[Message]:
    detail = ABANDONED.format(why=gone.why)
    failed = fail_unless_taken(ctx, messages, now, wire.CLAIM_ABANDONED, FailureCode.DEVICE_ERROR, detail)
    for message in failed:
        log.warning(
            "message failed: the phone it was handed to will not report on it",
            extra={"message_id": message.message_id, "device_id": gone.phone.device_id, "why": gone.why},
        )
    return failed
