"""Shared messages that devices refused: where each may go next.

A device whose SIM refuses a message of its client's shared queue before any
part of it went (no credit, barred: a ``declined`` event, ``worker.declined``)
never sends that message, and gives its claim back. So does one of a
``daily_send_limit`` below the message's SMS parts, which could never send it
in a day (code DEVICE_ERROR): a device of a larger limit may. The store keeps who
refused it (``Store.record_refusal``); from that durable record the worker
decides, whenever it places the message (after the refusal, in recovery):

- while one of the devices that could send it has not refused it, it is
  placed again signed for the devices that have not refused it only
  (``placement.enqueue_sends``'s ``leave_out``): a device that refused it
  cannot take it. The devices that could send it are the client's devices
  that take shared jobs (its agents; and a phone of the message's route, which
  takes what is routed to it: ``routes``), online now, and taking them before
  the message's ``valid_until`` (a paused device: below);
- once every one of them has refused it (or none other is online, or back
  in time, or none other of a daily send limit that its parts fit in, as the
  devices' heartbeats tell their limits), it fails, each refusing device
  named with its words (the modem's, or its limit's): with DEVICE_ERROR when
  every one refused it for its daily limit, else with NO_CREDIT. Online is
  what the send path asks before it takes a shared message
  (``RQDispatcher.choose_device``, which answers NO_DEVICE_AVAILABLE
  otherwise): a message refused while the client's other devices are
  offline (or disabled) fails at once, as one sent then would have been
  refused, rather than waiting queued for them. The worker first takes its
  claim (``wire.CLAIM_DECLINED``), from nobody or from a device that refused
  it, never from a cancel or from a device that may be sending it, so a
  cancel that came first wins; should the store then lose the failure,
  recovery finds that claim and fails the message the same way.

A device online may be paused (``DeviceState.takes_shared_again_at``): past its
daily send limit it takes nothing until its next day begins; after its own
SIM refused a send for want of credit, with ``no_credit_pause_seconds`` set,
it takes no shared job until that pause ends. It counts as a device that
could send the message when it takes shared jobs again before the message's
``valid_until`` (whenever, for a message without one): the message waits,
placed for it, as a message sent now would wait for it (the send path
accepts it and estimates it from then), since its SIM may well send it then:
one past its limit has credit, one paused for credit may have had it topped
up. When none that did not refuse it comes back before the message's
``valid_until``, the message fails NO_CREDIT at once: waiting would end in
TIMEOUT at that time, unsent all the same, and the client would learn it hours
late.

A claim still held by a device that refused the message (one that stopped
before giving it back) is taken from it likewise, compare-and-delete: that
device's ledger keeps the message as declined, and it never sends it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from relay_server.dispatch import heartbeat_keys, placement, routes
from relay_server.store.device_state import DeviceState
from relay_server.store.models import Message, MessageError, Refusal, StatusChange
from relay_server.store.store import Store
from relay_server.worker.context import WorkerContext
from zimsend_common import wire
from zimsend_common.failures import FailureCode, describe

log = logging.getLogger(__name__)

EVERY_DEVICE_REFUSED = "refused by every online device of the client that could send it in time: {refusals}"
REFUSALS_LOST = "refused for want of credit by every online device of the client that could send it in time"


@dataclass
class Outlook:
    """What the refusals say of messages about to be placed."""

    placeable: list[Message] = field(default_factory=list)
    # By message id: the devices that refused it, whose signature its job must not carry.
    leave_out: dict[str, frozenset[str]] = field(default_factory=dict)
    # Messages every device that could send them refused, with those refusals, oldest first.
    exhausted: list[tuple[Message, list[Refusal]]] = field(default_factory=list)


def outlook(ctx: WorkerContext, messages: list[Message], now: datetime) -> Outlook:
    """Sort messages about to be placed at ``now`` by what their refusals leave them (one
    query for the refusals, one for each client whose messages have any)."""
    shared = [message.message_id for message in messages if message.device_id is None and not message.is_test]
    refused = ctx.store.refusals(shared) if shared else {}
    senders: dict[str, list[DeviceState]] = {}
    sorted_out = Outlook()
    for message in messages:
        found = refused.get(message.message_id)
        if not found:
            sorted_out.placeable.append(message)
            continue
        if message.client_id not in senders:
            senders[message.client_id] = shared_senders(ctx, message.client_id, now)
        refusers = frozenset(refusal.device_id for refusal in found)
        if _sent_in_time(message, senders[message.client_id], refusers, now, ctx):
            sorted_out.placeable.append(message)
            sorted_out.leave_out[message.message_id] = refusers
        else:
            sorted_out.exhausted.append((message, found))
    return sorted_out


def shared_senders(ctx: WorkerContext, client_id: str, now: datetime) -> list[DeviceState]:
    """The client's devices online at ``now`` (enabled, heard from within
    ``device_offline_after_seconds``, an agent's modem working): its agents, which may take any
    shared message, as the send path counts them before it accepts one, and its phones, which
    may take one routed to them (``_sent_in_time``)."""
    # The store's heartbeats may wait behind this worker's own backlog: the keys' are never behind.
    states = heartbeat_keys.live_states(ctx.store, ctx.redis, client_id=client_id, now=now)
    return [state for state in states if state.online(now, ctx.offline_after)]


def _sent_in_time(
    message: Message, senders: list[DeviceState], refusers: frozenset[str], now: datetime, ctx: WorkerContext
) -> bool:
    """Whether one of ``senders`` that did not refuse ``message``, and whose whole daily send
    limit its parts fit in, takes it (at ``now``, or once its pause ends) before its
    ``valid_until``: an agent, or a phone of its route (``routes``), which the message goes to
    next when no longer prefix of an agent's is left (a phone pulls only what is placed on it)."""
    route = routes.route_devices(message, senders, now, ctx.offline_after, refusers)
    return any(
        state.device_id not in refusers
        and (not state.is_phone or state.device_id in route)
        and state.sends_within_a_day(message.segments)
        and (message.valid_until is None or (state.takes_shared_again_at(now) or now) < message.valid_until)
        for state in senders
    )


def fail_exhausted(ctx: WorkerContext, message: Message, found: list[Refusal], now: datetime) -> bool:
    """Fail with NO_CREDIT a message every device that could send it refused, once its claim
    is the relay's (taken from nobody, or from a device that refused it), and withdraw any
    job of it; whether it failed it."""
    key = wire.claim_key(message.client_id, message.message_id)
    refusers = _claims_of(found)
    if not ctx.redis.eval(_TAKE_CLAIM, 1, key, wire.CLAIM_DECLINED, wire.CLAIM_TTL_SECONDS, *refusers):
        return False  # a cancel, or a device that has not refused it, holds it
    # A job placed before the claim (recovery, finding the message jobless and unclaimed while
    # the last device's refusal was not yet committed) would wait on the shared queue for a
    # message no device may take, costing each device a take; one placed after it is none
    # (``recovery.give_jobs`` places only unclaimed messages).
    placement.remove_jobs(ctx.redis, [(message.client_id, message.message_id)])
    failed = fail_declined(ctx.store, message.message_id, found, now)
    if failed:
        log.warning(
            "message failed: every device of its client refused it for want of credit",
            extra={"message_id": message.message_id, "devices": [refusal.device_id for refusal in found]},
        )
    return failed


def fail_declined(store: Store, message_id: str, found: list[Refusal], now: datetime) -> bool:
    """Fail the queued message every device refused (``found``, oldest first), each device named
    with its words: with DEVICE_ERROR when each refused it for having more parts than its whole
    daily send limit, else with NO_CREDIT (one SIM's credit, topped up, would send it; so when
    the store lost them too); False when it had moved on."""
    last = found[-1] if found else None
    code = _failure_of(found)
    if last is None:
        detail = REFUSALS_LOST
    else:
        said = "; ".join(f"{refusal.device_id}: {refusal.detail or describe(_code(refusal))}" for refusal in found)
        detail = EVERY_DEVICE_REFUSED.format(refusals=said)
    error = MessageError(code, describe(code), detail)
    change = StatusChange(message_id, "failed", now, device_id=last.device_id if last else None, error=error)

    def while_queued(message: Message) -> StatusChange:
        return change if message.status == "queued" else replace(change, status=message.status)

    return store.apply_status_change(change, check=while_queued).applied


def _failure_of(found: list[Refusal]) -> FailureCode:
    """What a message that every device refused (``found``) fails with."""
    if found and all(_code(refusal) == FailureCode.DEVICE_ERROR for refusal in found):
        return FailureCode.DEVICE_ERROR
    return FailureCode.NO_CREDIT


def _code(refusal: Refusal) -> FailureCode:
    """Why the device refused: a code the store kept, NO_CREDIT for any it could not know."""
    return FailureCode(refusal.code) if refusal.code in wire.DECLINE_CODES else FailureCode.NO_CREDIT


def release_refusers_claim(ctx: WorkerContext, message: Message, found: list[Refusal]) -> bool:
    """Delete the message's claim when a device that refused it holds it; whether the
    message is unclaimed now."""
    key = wire.claim_key(message.client_id, message.message_id)
    refusers = _claims_of(found)
    return bool(ctx.redis.eval(_RELEASE_CLAIM, 1, key, *refusers))


def refuser_holds(claim: bytes, found: list[Refusal]) -> bool:
    """Whether ``claim`` is that of a device that refused the message."""
    return claim.decode(errors="replace") in _claims_of(found)


def _claims_of(found: list[Refusal]) -> list[str]:
    """The claim values of the devices that refused the message."""
    return [wire.claim_value_device(refusal.device_id) for refusal in found]


# KEYS: a claim key; ARGV: the relay's claim, its lifetime, then the claims of the devices
# that refused the message. Sets the relay's claim when the key is empty or holds one of
# those (or the relay's own); answers 1 when it did, 0 otherwise.
_TAKE_CLAIM = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'string' and kind ~= 'none' then return 0 end
local held = redis.call('GET', KEYS[1])
local free = held == false or held == ARGV[1]
for i = 3, #ARGV do
    if held == ARGV[i] then free = true end
end
if not free then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""

# KEYS: a claim key; ARGV: the claims of the devices that refused the message. Deletes the
# claim when it is one of those; answers 1 when the key is empty now, 0 otherwise.
_RELEASE_CLAIM = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return 1 end
if kind ~= 'string' then return 0 end
local held = redis.call('GET', KEYS[1])
for i = 1, #ARGV do
    if held == ARGV[i] then
        redis.call('DEL', KEYS[1])
        return 1
    end
end
return 0
"""
