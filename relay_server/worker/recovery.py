"""Keeping Redis in step with the store, whatever Redis lost.

The store is the truth: every message it shows as queued must have a job in
Redis, or be in the hands of the device or the cancel that claimed it.
Recovery gives the others their job again (except one-time passwords, whose
code only the lost job held: those fail); placing is idempotent, so running
it while the relay is enqueueing is safe, and the claim keeps a message from
leaving twice. A scheduled message is the due release's (``due``) until that
has looked past its time; recovery covers it after. A shared message devices
refused (for want of credit, or for their daily send limit) is placed for the
client's other devices only, or fails when none is left (``refusals``). A shared message is
placed on a device of its route when its destination has one that can take
it (``dispatch.routes``), and one left waiting for a route device that can no
longer take it is placed again so (``rerouted``).

A placing is steps apart: it takes a message's old job off, keeps its route
in the store (only over the route read: ``_routed``), then places its job
unless one of its id exists. Two at once could leave the job by a route the
store no longer keeps (one keeps the route it read, the other moves it, and
the first's job, placed between, keeps the second's out): a phone pulls by
the store's route and claims only after it sent, so it and the agent holding
the job would both send. So this process's placings (the event pump's, the
due release's, the round's, its returns to claimants) each hold
``WorkerContext.placing`` from first step to last, for ``_PLACING`` messages
at most (a second or two on PostgreSQL). Only the lease holder places, but the
relay places each message it stores by the route stored with it, and may do
so while a placing moves it: that placing, its route the store's while it
holds the lock, takes the relay's job over (``enqueue_sends``' ``take_over``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from relay_server.dispatch import heartbeat_keys, placement, routes
from relay_server.store.device_state import DeviceState
from relay_server.store.models import Device, Message, StatusChange
from relay_server.worker import abandoned, device_gone, expiry, newly_blocked, refusals, rerouted
from relay_server.worker.context import WorkerContext
from relay_server.worker.expiry import LOST_OTP
from relay_server.worker.messages import fail_all_with, fail_outcome_unknown
from relay_server.worker.round_keys import RoundKeys
from zimsend_common import device_written, signing, wire
from zimsend_common.failures import FailureCode

log = logging.getLogger(__name__)

_BATCH = 500  # messages looked up in Redis, and read from the store, at once
# Messages placed at once: a statement names each (its id, its number), and PostgreSQL takes
# 65,535 parameters at most; a scheduled campaign of 70,000 came due in one look, and every
# look failed on it.
_PLACING = 1_000
# A device that claimed a message reports on it within seconds; this long
# without a word, the claim is taken to be the last thing the device did,
# and the message goes back to it: at most once every STUCK_AFTER.
STUCK_AFTER = timedelta(minutes=5)
OTP_SUBMIT_MARGIN = timedelta(minutes=1)


def publish_device_clients(ctx: WorkerContext) -> None:
    """Tell agents which client each device serves (they listen on its shared queues),
    in a binding signed with the device's key, so that no one else can say it."""
    devices = ctx.store.devices.listed()
    keys = ctx.store.devices.signing_keys()
    with ctx.redis.pipeline(transaction=False) as pipe:
        for device in devices:
            key = keys.get(device.device_id)
            if key is None:  # disabled: no binding, so no shared queue
                pipe.delete(wire.device_client_key(device.device_id))
            else:
                binding = signing.binding(device.device_id, device.client_id, key)
                pipe.set(wire.device_client_key(device.device_id), binding)
        pipe.execute()


def requeue_orphans(
    ctx: WorkerContext, now: datetime, scheduled_through: datetime | None, phones: abandoned.Phones
) -> int:
    """Give a job to every queued message that lost its own; returns how many were placed.

    Scheduled messages count from ``scheduled_through`` back, where the due
    release has looked (none when it has not looked yet). An unclaimed
    message is placed as new, and so is one whose claim key a device filled
    with another kind of value (cleared first). One a cancel claimed is
    marked cancelled; one the relay claimed to fail it unsent fails as its
    claim says (its failure was not stored): with TIMEOUT for an expiry or a
    lost one-time password (``CLAIM_EXPIRED``, ``CLAIM_OTP_LOST``), with
    BLOCKED_NUMBER for a blocked number (``CLAIM_BLOCKED``), with
    DEVICE_ERROR for a device gone (``CLAIM_DEVICE_GONE``). One a device
    claimed and never reported on for ``STUCK_AFTER`` goes back to that
    device alone, which either answers with what it already reported or,
    having never handed it to its modem, sends it; and again after each
    further ``STUCK_AFTER`` of silence, never more often; unless that device
    will never report on it (``abandoned``, by the bound of a phone for one of
    ``phones``). One claimed by a device that refused it is taken from that
    device and placed for the others; one the relay claimed when every device
    had refused it fails as ``refusals.fail_declined`` says (its failure was not stored).
    """
    refs = ctx.store.queued_message_refs(scheduled_through)
    placed, queued = 0, dict[str, list[tuple[str, str]]]()
    # One reading for the round: a message moved for a device these call unable is never placed back on it.
    keys = RoundKeys(ctx.store)
    states_of = live_states_of(ctx, keys, now)
    # A batch's Redis state is acted on as soon as it is read: a message read jobless
    # long ago may have been enqueued by the relay, and claimed, since.
    for start in range(0, len(refs), _BATCH):
        jobless, queued_here = placement.without_live_job(ctx.redis, refs[start : start + _BATCH])
        placed += _give_jobs_back(ctx, jobless, now, phones, states_of, keys)
        for name, theirs in queued_here.items():
            queued.setdefault(name, []).extend(theirs)
    placed += _move_stranded(ctx, queued, now, states_of, keys)
    # Each queue is read once a round, not once a batch: it may hold every queued message.
    taken_off = placement.taken_off_queue(ctx.redis, queued)
    return placed + _give_jobs_back(ctx, taken_off, now, phones, states_of, keys)


def _move_stranded(
    ctx: WorkerContext,
    queued: dict[str, list[tuple[str, str]]],
    now: datetime,
    states_of: routes.StatesOf,
    keys: RoundKeys,
) -> int:
    """Place again the routed messages waiting for a device that cannot take them (``rerouted``),
    and take them out of ``queued``, whose jobs were read where they no longer wait; how many were placed."""
    moving = rerouted.stranded(ctx, queued, now, states_of)
    if not moving:
        return 0
    moved = {message.message_id for message in moving}
    for name, refs in queued.items():
        queued[name] = [ref for ref in refs if ref[1] not in moved]
    placed = give_jobs(ctx, moving, now, states_of, keys)
    for message in placed:
        log.info("routed message moved from a device that cannot take it", extra={"message_id": message.message_id})
    return len(placed)


def _give_jobs_back(
    ctx: WorkerContext,
    jobless: dict[str, bytes | None],
    now: datetime,
    phones: abandoned.Phones,
    states_of: routes.StatesOf,
    keys: RoundKeys,
) -> int:
    """Act on each jobless message by its claim, as ``requeue_orphans`` says, by the round's
    ``states_of`` and ``keys``; returns how many were placed."""
    unclaimed: list[Message] = []
    stuck: list[tuple[Message, Device]] = []  # returned, if at all, once all are known: see _return_to_claimants
    stored = ctx.store.get_messages_by_ids(list(jobless))
    # Read at the first message returned, for the batch's every claim: one query, not one a message.
    claimants = functools.cache(lambda: _named_devices(ctx, jobless.values()))
    refused = ctx.store.refusals([message_id for message_id, claim in jobless.items() if claim is not None])
    for message_id, claim in jobless.items():
        message = stored.get(message_id)
        if message is None or message.status != "queued":
            continue
        found = refused.get(message_id, [])
        if claim is None:
            unclaimed.append(message)
        elif claim == wire.CLAIM_DECLINED.encode():  # every device refused it; its failure was not stored
            refusals.fail_declined(ctx.store, message_id, found, now)
        elif refusals.refuser_holds(claim, found):  # one that refused it never gave its claim back
            if refusals.release_refusers_claim(ctx, message, found):
                unclaimed.append(message)
        elif claim == wire.CLAIM_CANCELLED.encode():
            ctx.store.apply_status_change(StatusChange(message_id, "cancelled", now))
        elif claim == wire.CLAIM_ABANDONED.encode():  # taken over; its failure was not stored
            fail_outcome_unknown(ctx.store, message_id, now, abandoned.ABANDONED.format(why="was given up"), None)
        elif claim in expiry.DETAILS:  # won by an expiry; its failure was not stored
            expiry.fail(ctx, [message], now, expiry.DETAILS[claim])
        elif claim == wire.CLAIM_DEVICE_GONE.encode():  # its device went; its failure was not stored
            device_gone.fail(ctx, [message], now)
        else:
            device = _stuck_with(ctx, message, claim, now, phones, claimants)
            if device is not None:
                stuck.append((message, device))
    return _place_again(ctx, unclaimed, now, states_of, keys) + _return_to_claimants(ctx, stuck, now, keys)


def _place_again(
    ctx: WorkerContext, messages: list[Message], now: datetime, states_of: routes.StatesOf, keys: RoundKeys
) -> int:
    otps = ctx.store.otp_messages([message.message_id for message in messages])
    # Its send job alone carried the code; the store keeps it masked. Unlike placing,
    # failing is not idempotent: leave the relay time to enqueue what it just stored.
    lost = [m for m in messages if m.message_id in otps and now - m.created_at >= OTP_SUBMIT_MARGIN]
    expiry.fail(ctx, lost, now, LOST_OTP)
    placed = give_jobs(ctx, [message for message in messages if message.message_id not in otps], now, states_of, keys)
    for message in placed:
        log.info("message queued again", extra={"message_id": message.message_id})
    return len(placed)


def give_jobs(
    ctx: WorkerContext,
    messages: Sequence[Message],
    now: datetime,
    states_of: routes.StatesOf | None = None,
    keys_of: placement.KeysOf | None = None,
) -> list[Message]:
    """Put each unclaimed, due message's send job on its queue, signed for the devices that
    may take it (``refusals``); returns those put. The others' number was blocked by their
    client meanwhile: they failed with BLOCKED_NUMBER instead (but for a phone's that a pull
    handed it, or may have: ``newly_blocked.fail_blocked``); or their ``valid_until`` had
    passed: they failed with TIMEOUT; or every device that could send them refused them:
    they failed with NO_CREDIT; or the device they were meant for was disabled or deleted:
    they failed with DEVICE_ERROR (``device_gone``); or they were claimed by the time their
    job would be put (a cancel, a device, the relay's worker failing them NO_CREDIT), which
    the caller read them before: they get none, as a job of theirs would wait on its queue
    with no device to take it; nor does one whose route another writer changed since the
    caller read it, or that left the queued (``_routed``): the other placed it, and should
    this placing have taken that job off first, the next recovery round places it again by
    the route the store keeps. A shared message goes on its route (``dispatch.routes``) by
    ``states_of``, the devices' live states (``live_states_of``, read here when None), both
    judged by ``keys_of``, the round's reading of its clients' keys when it has one. Each
    ``_PLACING`` of them are placed while no other placing of this process runs
    (``WorkerContext.placing``), and one whose job the relay placed meanwhile by the route
    this placing moved it from has that job taken to its new route."""
    # Each client's keys read once: who is gone, and whom the jobs are signed for.
    keys_of = keys_of or functools.cache(ctx.store.devices.signing_keys)
    states_of = states_of or live_states_of(ctx, keys_of, now)  # read as first asked
    placed: list[Message] = []
    for start in range(0, len(messages), _PLACING):
        with ctx.placing:
            placed += _give_some_jobs(ctx, messages[start : start + _PLACING], now, keys_of, states_of)
    return placed


def _give_some_jobs(
    ctx: WorkerContext,
    messages: Sequence[Message],
    now: datetime,
    keys_of: placement.KeysOf,
    states_of: routes.StatesOf,
) -> list[Message]:
    """``give_jobs`` for at most ``_PLACING`` messages."""
    # A claim key of another kind would block the new job's claim, and the expiry's as well.
    placement.clear_planted_claims(ctx.redis, [(message.client_id, message.message_id) for message in messages])
    takeable, gone = device_gone.split(messages, keys_of)
    device_gone.fail(ctx, gone, now)
    # A blocked number first, as the maintenance round fails it: whatever else stops the message.
    blocked = ctx.store.blocked_numbers.among(takeable)
    left_to_phones = newly_blocked.fail_blocked(ctx, blocked, now).left_to_phones
    stopped = {message.message_id for message in blocked} - {message.message_id for message in left_to_phones}
    seen = refusals.outlook(ctx, [message for message in takeable if message.message_id not in stopped], now)
    for message, found in seen.exhausted:
        refusals.fail_exhausted(ctx, message, found, now)
    past = expiry.past_validity(ctx, seen.placeable, now)
    expiry.fail(ctx, [message for message in seen.placeable if message.message_id in past], now)
    due = [message for message in seen.placeable if message.message_id not in past]
    # A failed job's remains would block the new one.
    placement.remove_jobs(ctx.redis, [(message.client_id, message.message_id) for message in due])
    route_of = routes.router(states_of, now, ctx.offline_after)
    due = _routed(ctx, due, seen.leave_out, route_of, rerouted.held_by_phones(ctx, due, now, states_of), states_of)
    claimed = placement.enqueue_sends(ctx.redis, keys_of, due, seen.leave_out, unclaimed_only=True, take_over=True)
    return [message for message in due if message.message_id not in claimed]


def _routed(
    ctx: WorkerContext,
    messages: Sequence[Message],
    leave_out: Mapping[str, Collection[str]],
    route_of: routes.RouteOf,
    held: Collection[str],
    states_of: routes.StatesOf,
) -> list[Message]:
    """``messages``, each shared one routed as ``route_of`` says now (``dispatch.routes``), but
    for those a phone may hold (``held``: ``rerouted.held_by_phones``), or a pull marked handed
    to it meanwhile (``rerouted.off_phones``), which keep their phone; the store keeps each
    route that changed before any job is placed by it: a phone lists the messages the store
    routes to it, and no longer one routed elsewhere. One whose route another writer changed
    since it was read (another placing, its status), whether this placing moves it or keeps
    the route it read, is left out: the route read is no longer its, and a job placed by it
    would stand beside the other's (an agent's, say, beside the phone a pull handed it to).
    The job the other placed, taken off before (``give_jobs``), comes back at the next recovery
    round, by the route the store keeps: rare, and a round late rather than a window in which
    an old job and a new route both stand."""
    routed = rerouted.off_phones(
        ctx,
        messages,
        [
            message
            if message.device_id is not None or message.is_test or message.message_id in held
            else replace(message, routed_to=route_of(message, leave_out.get(message.message_id, ())))
            for message in messages
        ],
        states_of,
    )
    # Every shared one's route is checked, kept or moved: one kept by what was read, which another
    # placing moved meanwhile (to a phone whose pull handed it, say), would have its job placed
    # by a route the store no longer keeps.
    checked = {
        after.message_id: (before.routed_to, after.routed_to)
        for before, after in zip(messages, routed, strict=True)
        if after.device_id is None and not after.is_test
    }
    kept = ctx.store.route_messages(checked)
    return [message for message in routed if message.message_id not in checked or message.message_id in kept]


def live_states_of(ctx: WorkerContext, keys_of: placement.KeysOf, now: datetime) -> routes.StatesOf:
    """Each client's device states as live as known at ``now`` (``heartbeat_keys.live_states``),
    read when first asked and kept: make one a placing, or a round for all it judges."""

    @functools.cache
    def states_of(client_id: str) -> list[DeviceState]:
        return heartbeat_keys.live_states(ctx.store, ctx.redis, client_id=client_id, now=now, keys=keys_of(client_id))

    return states_of


def _stuck_with(
    ctx: WorkerContext,
    message: Message,
    claim: bytes,
    now: datetime,
    phones: abandoned.Phones,
    claimants: Callable[[], Mapping[str, Device]],
) -> Device | None:
    """The device that claimed the message and has said nothing of it for ``STUCK_AFTER``, to
    return it to; None when it is not due back: the device spoke too lately, its modem has it
    (liveness decides), or the claim was given up (the message failed: no such device, or one
    that will never report on it, ``abandoned``)."""
    due_at = max(moment for moment in (message.created_at, message.queued_at, message.scheduled_at) if moment)
    if now - due_at < STUCK_AFTER:
        return None
    device = _claimant(message, claim, claimants())
    if device is None:
        abandoned.give_up(ctx, message, claim, None, now, abandoned.NO_DEVICE)
        return None
    if device_written.string_at(ctx.redis, wire.inflight_key(device.device_id)) == message.message_id.encode():
        return None
    why = abandoned.why_given_up(ctx, device, due_at, now, phones)
    if why is not None:
        abandoned.give_up(ctx, message, claim, device, now, why)
        return None
    return device


def _return_to_claimants(
    ctx: WorkerContext, stuck: Sequence[tuple[Message, Device]], now: datetime, keys: RoundKeys
) -> int:
    """Put each message back on the own queue of the device it is stuck with, but an OTP's,
    which fails (its code was in the lost job alone), and one returned within ``STUCK_AFTER``;
    returns how many were put back. The batch's OTP rows are read at once, and the keys of its
    clients whose keys the round has not read yet in one query (``keys``), however many
    messages it holds."""
    if not stuck:
        return 0
    otps = ctx.store.otp_messages([message.message_id for message, _ in stuck])
    if otps:
        fail_all_with(ctx.store, sorted(otps), now, FailureCode.TIMEOUT, LOST_OTP)
    # The device deletes the job it takes, so a returned message is jobless
    # again at once: only the mark keeps the next return STUCK_AFTER away.
    stuck_seconds = int(STUCK_AFTER.total_seconds())
    returning = [
        replace(message, device_id=device.device_id)
        for message, device in stuck
        if message.message_id not in otps
        and ctx.redis.set(wire.returned_key(message.message_id), device.device_id, nx=True, ex=stuck_seconds)
    ]
    if not returning:
        return 0
    keys_of = _claimants_keys(keys, [device for _, device in stuck])
    with ctx.placing:
        placement.remove_jobs(ctx.redis, [(message.client_id, message.message_id) for message in returning])
        placement.enqueue_sends(ctx.redis, keys_of, returning)
    for message in returning:
        log.warning(
            "claimed message returned to its device",
            extra={"message_id": message.message_id, "device_id": message.device_id},
        )
    return len(returning)


def _claimants_keys(keys: RoundKeys, claimants: Iterable[Device]) -> placement.KeysOf:
    """Each client's keys of the enabled ``claimants``: the only keys a message returned to the
    device that claimed it is signed with; of the round's ``keys``, those of the claimants'
    clients it had not read yet read at once."""
    wanted = {device.device_id: device.client_id for device in claimants}
    keys.read(set(wanted.values()))

    def keys_of(client_id: str) -> dict[str, str]:
        return {device_id: key for device_id, key in keys(client_id).items() if wanted.get(device_id) == client_id}

    return keys_of


def _named_devices(ctx: WorkerContext, claims: Iterable[bytes | None]) -> dict[str, Device]:
    """The devices the store holds that ``claims`` name, by id, read in one query."""
    named = (_named_device_id(claim) for claim in claims if claim is not None)
    return ctx.store.devices.get_many({device_id for device_id in named if device_id is not None})


def _named_device_id(claim: bytes) -> str | None:
    value, prefix = claim.decode(errors="replace"), wire.claim_value_device("")
    # A value of another shape (the relay's own, or anything a device wrote) is no device id.
    return value.removeprefix(prefix) if value.startswith(prefix) else None


def _claimant(message: Message, claim: bytes, devices: Mapping[str, Device]) -> Device | None:
    """The device of the message's client that ``claim`` names, among ``devices``; None (logged)
    when it names none. The client's devices write its claims, and may write anything there."""
    device_id = _named_device_id(claim)
    device = None if device_id is None else devices.get(device_id)
    if device is not None and device.client_id == message.client_id:
        return device
    log.warning("claim names no device of the message's client", extra={"message_id": message.message_id})
    return None
