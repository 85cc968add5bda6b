"""The wire contract between the relay and the device agents.

Everything that crosses Redis is named here: queue names, Redis keys, job
ids, the send job's payload and signatures, the device binding and the
events agents report back. Both sides import this module; it imports nothing
heavy (no Flask, no serial, no SQL). How jobs are stored (JSON, size limit,
allow-listed functions) is ``zimsend_common.bus``; how the send jobs, the
binding and the heartbeats are signed and checked is ``zimsend_common.signing``;
the Redis users that keep each agent to its own keys are ``zimsend_common.redis_acl``.

Jobs are RQ jobs stored as JSON: a job hash ``rq:job:<job id>`` whose
``data`` is the (zlib-compressed) JSON array ``[function, null, [args],
{kwargs}]``, ``function`` one of ``JOB_FUNCTIONS``.

Outgoing, per message of client C (job id ``send_job_id(C, message_id)`` =
``"<C>-<message_id>"``):

    relay ──enqueue──▶ device queue (X-Device-ID given) or the client's shared queue
    agent ──dequeue──▶ verify ──▶ claim (SET NX on claim_key) ──▶ modem ──▶ "sent" event

The send job's args are ``[payload, signatures]``: ``payload`` is
``SendJob.to_dict()`` (with ``issued_at``, when the relay signed it, and a
fresh ``nonce``); ``signatures`` maps each device that may take it (the
named device, or every enabled device of the client for a shared queue) to
``sign(payload, that device's signing key)``. An agent takes the job only
when its own entry verifies, ``issued_at`` is less than
``SEND_JOB_MAX_AGE_SECONDS`` old, and the payload names this device (or
none, and this device's client); otherwise it reports a ``job_refused``
event. Shared jobs placed together carry instead the id of the manifest
they share, ``[payload, manifest_id]``: one signature per device for the
whole batch (``zimsend_common.manifest``). A job for the simulated device
(``SIMULATED_QUEUE``) has args ``[payload]`` only: the worker checks it
against the store.

A shared message the device's SIM refuses for want of credit, before any of its
parts went, is not failed by the agent: it reports ``declined``, gives its claim
back (compare-and-delete, only while the claim is its own) and never sends that
message; the relay's worker keeps the refusal in the store and places the
message again, signed only for the client's devices that have not refused it,
or fails it NO_CREDIT once every one has (``relay_server/worker/refusals.py``).
A shared message of more SMS parts than the device's whole ``daily_send_limit``
is declined so too, with DEVICE_ERROR (``DECLINE_CODES``): the device could
never send it, and another of a larger limit may; once every device has
refused it, it fails with DEVICE_ERROR when each refused it for its limit,
else with NO_CREDIT.

A cancel claims the same key; whoever sets it first wins, the other learns it.
So does the relay's worker before it fails a message that can no longer
leave (``CLAIM_EXPIRED``, ``CLAIM_OTP_LOST``, ``CLAIM_BLOCKED``, ``CLAIM_DEVICE_GONE``).
Claims live under ``zimsend:claim:<C>:<message_id>``. A scheduled message
has nothing in Redis until it is due: the relay's worker finds it due in the
store and puts it on its device or shared queue then.

The device's client: ``device_client_key(D)`` holds ``binding(D, C, key)``,
the JSON ``{"device_id", "client_id", "signature"}`` signed with the
device's key; an agent that cannot verify it serves its own queues only.

Back, per event: the agent enqueues APPLY_EVENT_FUNC on EVENTS_QUEUE with
args ``[event dict, signature]`` under job id ``event_job_id(D, event_id)``
= ``"<D>-<event_id>"``; the relay's worker checks the signature against the
device's key, applies it to the store, then sets the event's ack key
``zimsend:event-ack:<D>:<event_id>``. The agent keeps the event until it
sees that key, and hands it on again when none comes: Redis may lose a job
before the worker ran it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from zimsend_common.failures import FailureCode

# -- queues ------------------------------------------------------------------

PRIORITY_LEVELS = (1, 2, 3, 4, 5)  # 1 urgent .. 5 bulk
EVENTS_QUEUE = "zimsend.events"
SIMULATED_QUEUE = "zimsend.simulated"  # zs_test_ messages, sent by the relay's worker

# A send job's function name says what the job is: agents take send jobs in
# their own loop (``gateway_agent.agent.jobs.accept``) and never run it as code. The
# name stays what queued jobs and deployed agents know.
SEND_JOB_FUNC = "gateway_agent.agent.jobs.send_message"
APPLY_EVENT_FUNC = "relay_server.worker.events.apply_event"
SIMULATED_SEND_FUNC = "relay_server.worker.simulated.send_message"
# The only function names a job on the bus may carry (see ``zimsend_common.bus``).
JOB_FUNCTIONS = frozenset({SEND_JOB_FUNC, APPLY_EVENT_FUNC, SIMULATED_SEND_FUNC})


def device_queue(device_id: str, priority: int) -> str:
    """The queue of messages that must leave through this device."""
    return f"zimsend.device.{device_id}.p{priority}"


def queue_device(name: str) -> str | None:
    """The device whose own queue ``name`` is (``device_queue``); None for any other queue."""
    if not name.startswith("zimsend.device."):
        return None
    device_id, _, priority = name.removeprefix("zimsend.device.").rpartition(".p")
    return device_id if device_id and priority.isdigit() else None


def client_queue(client_id: str, priority: int) -> str:
    """The queue any of the client's devices may take from."""
    return f"zimsend.client.{client_id}.p{priority}"


def agent_queue_order(device_id: str, client_id: str) -> list[str]:
    """The queues an agent listens on, in the order it takes from them.

    Higher priority first; within a priority, the device's own queue before
    the client's shared one.
    """
    order: list[str] = []
    for priority in PRIORITY_LEVELS:
        order += [device_queue(device_id, priority), client_queue(client_id, priority)]
    return order


# -- Redis keys ----------------------------------------------------------------

CLAIM_TTL_SECONDS = 7 * 24 * 3600


def claim_key(client_id: str, message_id: str) -> str:
    """Set once (NX) to ``claim_value_device(...)``, ``CLAIM_CANCELLED``, ``CLAIM_EXPIRED``,
    ``CLAIM_OTP_LOST``, ``CLAIM_BLOCKED`` (``relay_server/worker/expiry.py``) or
    ``CLAIM_DEVICE_GONE`` (``relay_server/worker/device_gone.py``), or ``CLAIM_ABANDONED`` for
    a message a phone will never report on (``relay_server/worker/unreported.py``); the relay
    may replace a device's with ``CLAIM_ABANDONED`` (``relay_server/worker/abandoned.py``), or, when that
    device declined the message, with ``CLAIM_DECLINED`` or nothing
    (``relay_server/worker/refusals.py``). A device that declines a message gives its own
    claim back (compare-and-delete).

    Under the client's name, so that a device's Redis user may claim its own
    client's messages and no one else's.
    """
    return f"zimsend:claim:{client_id}:{message_id}"


CLAIM_CANCELLED = "cancelled"
# Taken over from a device that will never report on the message, or won for a phone's message
# it was handed and will never report on (it claims one only with its report): it fails, outcome unknown.
CLAIM_ABANDONED = "abandoned"
# Won by the relay for a message that can no longer leave: it fails with TIMEOUT, because its
# valid_until passed, or because its one-time password's code was lost with its send job. Each
# reason has its own value, so that recovery, should the failure not be stored, ends it the same way.
CLAIM_EXPIRED = "expired"
CLAIM_OTP_LOST = "otp-lost"
# Won by the relay for a message whose number its client blocked before the message left (a
# scheduled one, at its time): it fails with BLOCKED_NUMBER, unsent.
CLAIM_BLOCKED = "blocked"
# Won by the relay for a shared message every device of its client that could send it
# refused (``declined`` events): it fails unsent, with DEVICE_ERROR when each refused it for its
# daily_send_limit, else with NO_CREDIT.
CLAIM_DECLINED = "declined"
# Why a device declines a shared message (a ``declined`` event's code): its SIM refused it for
# want of credit, or it has more SMS parts than the device's whole daily_send_limit.
DECLINE_CODES = frozenset({FailureCode.NO_CREDIT, FailureCode.DEVICE_ERROR})
# Won by the relay for a message meant for one device that was disabled or deleted before
# it left: it fails with DEVICE_ERROR, unsent (``relay_server/worker/device_gone.py``).
CLAIM_DEVICE_GONE = "device-gone"


def claim_value_device(device_id: str) -> str:
    return f"device:{device_id}"


def returned_key(message_id: str) -> str:
    """Set (with an expiry) when the relay handed a claimed message back to its silent device."""
    return f"zimsend:returned:{message_id}"


def inflight_key(device_id: str) -> str:
    """The message an agent is handing to its modem right now (absent when idle)."""
    return f"zimsend:inflight:{device_id}"


def heartbeat_key(device_id: str) -> str:
    """The device's last heartbeat, ``seal``-ed, expiring when the device counts as offline.

    The agent also enqueues each heartbeat on EVENTS_QUEUE, like any event. An agent
    writes it only while it holds no live heartbeat of another agent instance
    (``gateway_agent.agent.instance``).
    """
    return f"zimsend:heartbeat:{device_id}"


def heartbeat_instance(data: Mapping[str, Any]) -> str | None:
    """The agent instance a heartbeat's data names; None when it names none (an agent of an
    earlier version, a phone)."""
    instance = data.get("instance")
    return instance if isinstance(instance, str) and instance else None


def describe_instance(instance: str | None) -> str:
    """An agent instance as the agent's and the worker's logs name it."""
    return (
        "an agent of an earlier version (its heartbeat names no instance)"
        if instance is None
        else f"instance {instance}"
    )


def device_client_key(device_id: str) -> str:
    """The device's ``binding``: whose device it is, signed by the relay; agents read it."""
    return f"zimsend:device:{device_id}:client"


EVENT_ACK_TTL_SECONDS = 24 * 3600  # far longer than an agent waits before handing an event again


def event_ack_key(device_id: str, event_id: str) -> str:
    """Set by the worker once an event was applied (or found a repeat, or refused for good)."""
    return f"zimsend:event-ack:{device_id}:{event_id}"


# -- RQ job ids: scoped, so that a device's Redis user may be kept to its own ----------
# (RQ keeps a job under ``rq:job:<job id>``; ids are [A-Za-z0-9_-]+.)


def send_job_id(client_id: str, message_id: str) -> str:
    """The id of a message's send job, on whichever queue of its client it waits."""
    return f"{client_id}-{message_id}"


def event_job_id(device_id: str, event_id: str) -> str:
    """The id of the job that carries a device's event to the worker."""
    return f"{device_id}-{event_id}"


def redis_epoch_key() -> str:
    """A sentinel the relay's worker keeps in Redis: its absence says Redis lost its data,
    and a server id not the running server's says Redis restarted since (and may have
    lost its last writes).

    The worker sets it again with a new value, naming when it resumes recovery;
    agents that see the value change claim again what they took and hand on
    again their unacknowledged events.
    """
    return "zimsend:epoch"


def epoch_value(resume_at: datetime, server: str | None) -> str:
    """The sentinel's value: ``resume_at`` (seconds since the Unix epoch), then the id of the
    Redis server process it is written to (``INFO server``'s ``run_id``), when known."""
    stamp = f"{resume_at.timestamp():.6f}"
    return stamp if server is None else f"{stamp} {server}"


def epoch_resumes_at(value: bytes) -> datetime | None:
    """The moment a sentinel's value names; None when it names none (not the worker's)."""
    try:
        return datetime.fromtimestamp(float(value.split(maxsplit=1)[0]), timezone.utc)
    except (ValueError, OverflowError, OSError, IndexError):
        return None


def epoch_server(value: bytes) -> str | None:
    """The Redis server process a sentinel's value was written to; None when it names none."""
    words = value.split()
    return words[1].decode(errors="replace") if len(words) == 2 else None


WORKER_HEARTBEAT_KEY = "zimsend:worker:heartbeat"
"""The relay's worker's last round: its UTC ISO 8601 time, set with an expiry
(``worker_heartbeat_ttl``) at each release round, so its absence says the worker stopped."""


WORKER_LEASE_KEY = "zimsend:worker:lease"
"""Which relay worker is the active one: its ``host:pid:nonce``, set with a short expiry
that the holder renews (``relay_server.worker.lease``)."""


def worker_heartbeat_ttl(round_seconds: float) -> int:
    """How long one worker heartbeat lasts: three rounds, and never less than 30 s."""
    return max(30, int(3 * round_seconds) + 1)


def send_times_key(device_id: str) -> str:
    """Recent send durations in seconds (a capped list), for estimated delivery."""
    return f"zimsend:send-times:{device_id}"


# -- payloads ------------------------------------------------------------------


@dataclass(frozen=True)
class SendJob:
    """What an agent needs to send one message."""

    message_id: str
    client_id: str
    to: str
    text: str
    priority: int
    device_id: str | None = None  # set when the client asked for this device
    valid_until: str | None = None  # ISO 8601 Z; past it the message fails TIMEOUT
    issued_at: str = ""  # ISO 8601 Z, when the relay signed the job
    nonce: str = ""  # random, new for every signing

    def to_dict(self) -> dict[str, Any]:
        # Every field is a str, an int or None, so a shallow copy is a deep one; asdict's
        # recursive walk cost a bulk of 1,000 messages more than its SQL insert.
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SendJob:
        fields: dict[str, Any] = {name: data.get(name) for name in cls.__dataclass_fields__}
        return cls(**fields)


EventKind = Literal["sent", "delivered", "failed", "received", "heartbeat", "job_refused", "declined"]


@dataclass(frozen=True)
class Event:
    """One report from a device agent.

    ``data`` by kind:
      sent:      message_id, sent_at, references (one TP-MR per part)
      delivered: message_id, delivered_at (the network's discharge time)
      failed:    message_id, failed_at, code (a FailureCode), message, detail
      received:  sender, text, received_at, parts
      heartbeat: signal_percent, signal_dbm, operator, registration, model,
                 manufacturer, firmware, phone_number, sent_today (since the
                 device's local midnight), day_ends_at (ISO 8601 Z: its next
                 local midnight, when sent_today's day ends; absent from
                 agents before it and from phones), queue_depth, instance (the
                 agent's, one per host and boot; absent from agents before it
                 and from phones): two instances heartbeating for one device
                 are two agents serving it; daily_limit_reached_until (ISO
                 8601 Z, or None): the device sent its day's daily_send_limit
                 and takes no job until then, the start of its next day;
                 shared_paused_until (ISO 8601 Z, or None): after its SIM
                 refused a send for want of credit it takes no job of its
                 client's shared queues until then, its own queues' still;
                 daily_send_limit (the SMS parts it sends a day at most, 0
                 for no limit; absent from agents before it and from
                 phones): a shared message of more parts is routed elsewhere
      job_refused: reason (a JobRefusal reason), job_id, queue, message_id
                 (the id the job claimed, or None): a job the agent would not
                 take, which never reached its modem
      declined:  message_id, declined_at, code (one of DECLINE_CODES), message, detail: a
                 message of the client's shared queue that the device's SIM
                 refused before any of its parts went (NO_CREDIT: no credit,
                 barred), or that has more parts than the device's whole
                 daily_send_limit (DEVICE_ERROR); the device gave its claim
                 back and will never send it, and the relay offers it to the
                 client's other devices (after a refusal for credit, heartbeats
                 then carry shared_paused_until while the device leaves the
                 shared queues alone)
    """

    kind: EventKind
    device_id: str
    at: str  # ISO 8601 Z, when the agent observed it
    data: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: f"evt_{uuid.uuid4().hex}")

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON document, its ``data`` a dict of its own. The values inside
        ``data`` (a send's list of references, say) are shared, not copied: an event is
        made to be written out once, and asdict's deep copy took 9 µs an event where this
        takes 0.2 (an agent makes two or three a message)."""
        return {**self.__dict__, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


# How long a send job's signature is good for after its ``issued_at`` (``signing.sign_send_job``):
# shorter than a claim's and a ledger entry's life.
SEND_JOB_MAX_AGE_SECONDS = 6 * 24 * 3600
