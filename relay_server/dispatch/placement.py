"""Where a stored message waits in Redis until it leaves: its RQ jobs.

A message's send job has ``wire.send_job_id`` (client and message id) as its
job id and goes on the device's queue (when the client asked for a device), else on the client's
shared queue, or on the simulated device's queue for a ``zs_test_`` message.
A send job for an agent carries its signature for every device that may take
it (``signing.sign_send_job``, with the keys the store keeps), or, when several
shared jobs of a client are placed together, the id of the manifest they
share (``zimsend_common.manifest``: one signature per device for the lot);
the simulated device needs none, it checks the message against the store.
A shared message some devices refused (``relay_server/worker/refusals.py``) is
signed for the client's other devices only, and never shares a manifest.
A shared message routed by its destination (``dispatch.routes``) goes on the
own queue of the device the store keeps it routed to (``Message.routed_to``),
signed for that device alone.

A scheduled message has no job until it is due: the store keeps its time, and
the relay's worker alone gives it its send job then (``worker.due``). This
departs from DESIGN.md, which has RQ's scheduler hold it: a scheduler that
dies with a Redis timeout, or a Redis that loses its data, then strands the
message silently, while the store cannot lose it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, cast

from redis import Redis
from redis.exceptions import NoScriptError
from rq.job import Job, JobStatus

from relay_server.dispatch import unique_jobs
from relay_server.mobile import wake
from relay_server.store.models import Message
from zimsend_common import bus, device_written, job_deletion, manifest, signing, wire
from zimsend_common.job_hashes import JobHash, JobMaker
from zimsend_common.timefmt import isoformat_precise, isoformat_z, utcnow

log = logging.getLogger(__name__)

# Long enough for a rate-limited modem to finish one send; a send job is
# never retried by RQ (a retry could send twice), so this only bounds a hang.
SEND_JOB_TIMEOUT_SECONDS = 600
# An agent's job never finishes in RQ (the agent deletes the job it takes). A simulated one that
# failed is kept a day, for its error; one played is deleted at once: its message is over in the
# store, and its call holds the text, a one-time password's code among them.
PLAYED_JOB_TTL_SECONDS = 0
FAILED_JOB_TTL_SECONDS = 24 * 3600
_QUEUED = JobStatus.QUEUED.value.encode()
_BATCH = 500  # messages looked up per round trip
# Jobs made and sent in one pipeline: a bulk's thousand at once held their data
# and the pipeline's buffers together, the relay's highest use of memory.
_PIPELINED = 200
# A client's signing keys by device id, given the client's id.
KeysOf = Callable[[str], Mapping[str, str]]
# A client's shared jobs placed together share a manifest from this many
# devices: below it, each job's own signatures cost less than a manifest kept.
MANIFEST_FROM_DEVICES = 4
# The queues whose job makers are kept (a maker is RQ's model job of its queue):
# a client's shared queues and its devices' at each priority.
_MAKERS_KEPT = 512
_MAKERS_ATTRIBUTE = "_zimsend_send_job_makers"
_LIVE_STATUSES = frozenset(
    status.value.encode()
    for status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.FINISHED)
)


def send_job(message: Message) -> wire.SendJob:
    """The payload an agent (or the simulated device) needs to send ``message``, issued now."""
    return wire.SendJob(
        message_id=message.message_id,
        client_id=message.client_id,
        to=message.to,
        text=message.body,
        priority=message.priority,
        device_id=message.device_id,
        valid_until=isoformat_z(message.valid_until),
        issued_at=isoformat_precise(utcnow()),
        nonce=signing.new_nonce(),
    )


def send_job_args(
    message: Message, client_keys: Mapping[str, str], leave_out: Collection[str] = (), route: str | None = None
) -> list[Any]:
    """The send job's arguments: its payload, and (for an agent) its signatures by device.

    ``client_keys`` are the signing keys of the message's client's enabled devices
    (``store.devices.signing_keys``): a message for one device (or a shared one routed
    to the device ``route``) is signed for that device alone, and for none when it is
    disabled; a shared one for each of them but the devices ``leave_out`` names (those
    that refused it).
    """
    payload = send_job(message)
    if message.is_test:
        return [payload.to_dict()]
    device_id = message.device_id or route
    if device_id:
        key = client_keys.get(device_id)
        keys = {} if key is None else {device_id: key}
    else:
        keys = {device_id: key for device_id, key in client_keys.items() if device_id not in leave_out}
    return [payload.to_dict(), signing.sign_send_job(payload, keys)]


def queue_name(message: Message, route: str | None = None) -> str:
    """The queue the message's send job goes on (``route``: the device a shared message is routed to)."""
    if message.is_test:
        return wire.SIMULATED_QUEUE
    device_id = message.device_id or route
    if device_id:
        return wire.device_queue(device_id, message.priority)
    return wire.client_queue(message.client_id, message.priority)


def place_all(redis: Redis, keys_of: KeysOf, messages: Sequence[Message]) -> None:
    """Give each new message its job, unless it is scheduled (the worker releases those
    when they are due, after checking that Redis kept its data), as ``enqueue_sends`` does."""
    due = [message for message in messages if message.scheduled_at is None]
    enqueue_sends(redis, keys_of, due)


def enqueue_send(redis: Redis, keys_of: KeysOf, message: Message) -> None:
    """Put the message's send job on its queue, unless it is already there.

    Enqueueing a message that already has its job does nothing, so recovery,
    the due release and a late submit may all place the same message safely.
    """
    enqueue_sends(redis, keys_of, [message])


def enqueue_sends(
    redis: Redis,
    keys_of: KeysOf,
    messages: Sequence[Message],
    leave_out: Mapping[str, Collection[str]] | None = None,
    *,
    unclaimed_only: bool = False,
    take_over: bool = False,
) -> set[str]:
    """``enqueue_send`` for each message, in one round trip (a pipeline) for every
    ``_PIPELINED`` of them, asking ``keys_of`` for each client's signing keys once (a bulk
    send is one client's): ``store.devices.signing_keys``, or a cache of it. ``leave_out``
    names, by message id, the devices a shared message's job is not signed for. With
    ``unclaimed_only``, a message claimed by the time its job would be placed gets none
    (checked in the same step): returns the ids of those messages. A shared message routed
    to a device (``routed_to``: ``dispatch.routes``) goes on that device's own queue. With
    ``take_over``, a job of the same id still waiting on another queue is taken off it, and
    the new one placed instead: for a placer that knows its route is the store's, and the
    other job's is not (``worker.recovery``).

    Each job is what ``Queue.enqueue(..., unique=True)`` would store, field for field: RQ
    makes it (``create_job``, and its own preparation for a queue: ``job_hashes``), and ``unique_jobs``
    saves and pushes it unless its id is taken, as RQ's script does, a chunk in one call.
    """
    claimed: set[str] = set()
    if not messages:
        return claimed
    keys = {
        client_id: keys_of(client_id)
        for client_id in {message.client_id for message in messages if not message.is_test}
    }
    now = utcnow()
    routes = _routes(messages, keys)
    for start in range(0, len(messages), _PIPELINED):
        chunk = messages[start : start + _PIPELINED]
        args, manifests = _chunk_args(chunk, keys, leave_out or {}, routes)
        jobs = [
            send_job_maker(redis, message, routes.get(message.message_id)).make(
                wire.send_job_id(message.client_id, message.message_id), job_args, now
            )
            for message, job_args in zip(chunk, args)
        ]
        claim_keys = [wire.claim_key(m.client_id, m.message_id) for m in chunk] if unclaimed_only else None
        try:
            left_out = _enqueue_unique(redis, jobs, chunk, manifests, claim_keys, take_over)
        except NoScriptError:  # a Redis restarted or flushed of scripts: give it ours, then send again
            unique_jobs.load(redis)
            # The refused pipeline's wake-ups went: a phone pulls from the store, where its message is.
            left_out = _enqueue_unique(redis, jobs, chunk, manifests, claim_keys, take_over, wake_phones=False)
        claimed.update(message.message_id for message, job in zip(chunk, jobs) if job.job_id in left_out)
    return claimed


def _routes(messages: Sequence[Message], keys: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """By message id, the device each shared message is routed to, of those that have a
    signing key still (enabled)."""
    return {
        message.message_id: message.routed_to
        for message in messages
        if message.device_id is None
        and not message.is_test
        and message.routed_to is not None
        and message.routed_to in keys.get(message.client_id, {})
    }


def _chunk_args(
    messages: Sequence[Message],
    keys: Mapping[str, Mapping[str, str]],
    leave_out: Mapping[str, Collection[str]],
    routes: Mapping[str, str],
) -> tuple[list[list[Any]], dict[str, bytes]]:
    """Each message's send job args, and the manifests they name (Redis key -> stored value).

    A client's shared jobs share a manifest when there are several of them
    and the client has ``MANIFEST_FROM_DEVICES`` devices or more: signed once
    per device, where ``send_job_args`` signs every job for every device.
    Any other job carries its own signatures, as does one some devices refused
    (``leave_out``): it is signed for the others only; and one routed (``routes``): it is
    signed for its route device only.
    """
    shared: dict[str, list[int]] = {}
    for index, message in enumerate(messages):
        alone = message.message_id in leave_out or message.message_id in routes
        if not message.is_test and message.device_id is None and not alone:
            shared.setdefault(message.client_id, []).append(index)
    args: dict[int, list[Any]] = {}
    manifests: dict[str, bytes] = {}
    for client_id, indexes in shared.items():
        client_keys = keys.get(client_id, {})
        if len(indexes) < 2 or len(client_keys) < MANIFEST_FROM_DEVICES:
            continue
        manifest_id = manifest.new_id()
        payloads = [send_job(messages[index]).to_dict() for index in indexes]
        stored = manifest.signed(client_id, manifest_id, payloads, client_keys)
        manifests[manifest.key(client_id, manifest_id)] = stored
        args.update({index: [payload, manifest_id] for index, payload in zip(indexes, payloads)})
    return [
        args.get(index)
        or send_job_args(
            message,
            keys.get(message.client_id, {}),
            leave_out.get(message.message_id, ()),
            routes.get(message.message_id),
        )
        for index, message in enumerate(messages)
    ], manifests


def _enqueue_unique(
    redis: Redis,
    jobs: list[JobHash],
    messages: Sequence[Message],
    manifests: Mapping[str, bytes],
    claim_keys: Sequence[str] | None,
    take_over: bool,
    *,
    wake_phones: bool = True,
) -> set[str]:
    """What ``Queue.enqueue_job(job, unique=True)`` stores for each job (``unique_jobs``), all
    in one pipeline, except for a job whose message's claim key (``claim_keys``) exists;
    returns the ids of those jobs. With ``take_over``, a job of the same id waiting on
    another queue is taken off it, and the new one placed instead (logged). The manifests
    the jobs name go first, so no agent finds a job before its manifest. Sent again after a
    refusal, it stores nothing twice; a phone a message was placed on is woken in the same
    pipeline, unless ``wake_phones`` is False."""
    with redis.pipeline(transaction=False) as pipe:
        for key, stored in manifests.items():
            pipe.set(key, stored, ex=manifest.KEPT_SECONDS)
        unique_jobs.save_and_push(pipe, jobs, claim_keys, take_over=take_over)
        answer_at = len(pipe) - 1  # the script's answer: the queue keys it cleared, the jobs it left out
        for message in messages if wake_phones else ():
            wake.message_enqueued(pipe, message)  # a phone pulls its messages: tell it there is one
        answers = pipe.execute(raise_on_error=False)
    # Raised here, not by the pipeline: redis-py writes the refused command whole into its error's
    # message before shortening it, and the script's (refused by a Redis that forgot it) carries a
    # chunk of jobs: 3-4 MB held at once, the relay's highest use of memory.
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    cleared, left_out, taken_over = answers[answer_at]
    for queue_key in cleared:
        log.warning("queue cleared: its key held another kind of value", extra={"queue": queue_key.decode()})
    for job_id in taken_over:
        log.warning("send job taken off a queue other than its message's route", extra={"job_id": job_id.decode()})
    return {job_id.decode() for job_id in left_out}


def send_job_maker(redis: Redis, message: Message, route: str | None = None) -> JobMaker:
    """What makes the send jobs of the message's queue (``route``: the device a shared message
    is routed to): its function, RQ's options for it. Made once for each queue of ``redis``
    (RQ makes a model job) and kept for the next sends."""
    # Kept on the client, as RQ keeps the server's version: they go with it.
    makers: dict[str, JobMaker] = redis.__dict__.setdefault(_MAKERS_ATTRIBUTE, {})
    name = queue_name(message, route)
    maker = makers.get(name)
    if maker is None:
        if len(makers) >= _MAKERS_KEPT:
            makers.clear()
        maker = makers[name] = JobMaker(
            bus.queue(name, redis),
            wire.SIMULATED_SEND_FUNC if message.is_test else wire.SEND_JOB_FUNC,
            timeout=SEND_JOB_TIMEOUT_SECONDS,
            result_ttl=PLAYED_JOB_TTL_SECONDS,
            failure_ttl=FAILED_JOB_TTL_SECONDS,
        )
    return maker


def jobless(redis: Redis, messages: Sequence[tuple[str, str]]) -> dict[str, bytes | None]:
    """Of the (client id, message id) pairs, the messages that have no live job in Redis,
    each with its claim (None: unclaimed, see ``_claims``): ``without_live_job``, then
    ``taken_off_queue`` for those whose job reads as queued."""
    found, queued = without_live_job(redis, messages)
    found.update(taken_off_queue(redis, queued))
    return found


def without_live_job(
    redis: Redis, messages: Sequence[tuple[str, str]]
) -> tuple[dict[str, bytes | None], dict[str, list[tuple[str, str]]]]:
    """Of the (client id, message id) pairs, the messages whose job is gone or over, each
    with its claim (None: unclaimed, see ``_claims``); and, by queue name, those whose job reads as
    queued there, for ``taken_off_queue`` to check against the queue itself.

    A job that failed or was stopped no longer carries its message; one that
    finished did, and its message has moved on (or was claimed). The claims
    are read after the jobs, and only for the messages whose job is gone: most
    have a live one. Read in that order, a device that deletes the job as it
    claims the message (``job_deletion.discard`` before ``SET NX``) is seen with its claim.
    """
    jobs: list[Any] = []
    for start in range(0, len(messages), _BATCH):
        with redis.pipeline(transaction=False) as pipe:
            for client_id, message_id in messages[start : start + _BATCH]:
                pipe.hmget(Job.key_for(wire.send_job_id(client_id, message_id)), ["status", "origin"])
            jobs += device_written.answers(pipe)
    gone: list[tuple[str, str]] = []
    queued: dict[str, list[tuple[str, str]]] = {}
    for (client_id, message_id), job in zip(messages, jobs):
        # A job key of another kind carries no message: gone, as far as placing goes
        # (``remove_jobs`` deletes it before the message is placed again).
        status, origin = (None, None) if device_written.unreadable(job) else job
        if status == _QUEUED and origin is not None:
            queued.setdefault(origin.decode(errors="replace"), []).append((client_id, message_id))
        elif status not in _LIVE_STATUSES:
            gone.append((client_id, message_id))
    return dict(zip((message_id for _, message_id in gone), _claims(redis, gone))), queued


def _claims(redis: Redis, messages: Sequence[tuple[str, str]]) -> list[bytes | None]:
    """The claim of each (client id, message id), one MGET for every ``_BATCH``; None for
    none, and for another kind of value than a claim (a string), which MGET answers with
    nil. Only a device writes one, no agent can win a claim over it, and
    ``clear_planted_claims`` deletes it before the message is placed again: left alone,
    it would keep its message queued for good."""
    keys = [wire.claim_key(client_id, message_id) for client_id, message_id in messages]
    claims: list[bytes | None] = []
    for start in range(0, len(keys), _BATCH):
        claims += cast("list[bytes | None]", redis.mget(keys[start : start + _BATCH]))
    return claims


def _planted(subject: str, *answers: Any) -> bool:
    """Whether a device left another kind of value at one of the keys read for ``subject``
    (a message or a queue): that one is left alone (logged), and the rest goes on."""
    if not any(device_written.unreadable(answer) for answer in answers):
        return False
    log.warning("left alone: a key holds another kind of value", extra={"subject": subject[:80]})
    return True


def taken_off_queue(redis: Redis, waiting: Mapping[str, list[tuple[str, str]]]) -> dict[str, bytes | None]:
    """Of the (client id, message id) pairs whose job was read as queued, by queue name,
    the messages whose job is on no queue, with their claim.

    Such a job was taken by a process that died before it deleted the job or
    claimed the message (a dequeue is a pop, then a read): it carries its
    message no further, and placing again is safe, since a taker still alive
    loses the claim. Each queue is read whole once, after the jobs were (a job
    is stored and pushed in one script, so one missing there was popped), and
    each job missing is asked about again: a live agent deletes the job it
    popped within moments, so only one that still reads as queued, and is
    still on no queue, was left by a taker that died. Its claim is read after
    that, as ``without_live_job`` reads claims.
    """
    with redis.pipeline(transaction=False) as pipe:
        for name in waiting:
            pipe.lrange(bus.queue_key(name), 0, -1)
        listed = device_written.answers(pipe)
    missing = []
    for (name, refs), items in zip(waiting.items(), listed):
        if _planted(name, items):
            continue
        on_queue = set(items)
        missing += [(name, ref) for ref in refs if wire.send_job_id(*ref).encode() not in on_queue]
    with redis.pipeline(transaction=False) as pipe:
        for name, (client_id, message_id) in missing:
            job_id = wire.send_job_id(client_id, message_id)
            pipe.hget(Job.key_for(job_id), "status")
            pipe.lpos(bus.queue_key(name), job_id)
        answers = device_written.answers(pipe)
    left: list[tuple[str, str]] = []
    for index, (_, ref) in enumerate(missing):
        status, position = answers[index * 2 : index * 2 + 2]
        if not _planted(ref[1], status, position) and status == _QUEUED and position is None:
            left.append(ref)
    return dict(zip((message_id for _, message_id in left), _claims(redis, left)))


def clear_planted_claims(redis: Redis, messages: Sequence[tuple[str, str]]) -> None:
    """Delete the claim key of each (client id, message id) that holds another kind of value
    than a claim (a string), each in one step with the check, so that a claim made meanwhile stays."""
    for start in range(0, len(messages), _BATCH):
        keys = [wire.claim_key(client_id, message_id) for client_id, message_id in messages[start : start + _BATCH]]
        cleared = cast("list[int]", redis.eval(_CLEAR_PLANTED_CLAIMS, len(keys), *keys))
        for position in cleared:
            log.warning("claim cleared: its key held another kind of value", extra={"key": keys[position - 1]})


# KEYS: claim keys. Deletes those holding another kind of value than a string; answers their positions (from 1).
_CLEAR_PLANTED_CLAIMS = """
local cleared = {}
for position, key in ipairs(KEYS) do
    local kind = redis.call('TYPE', key)['ok']
    if kind ~= 'string' and kind ~= 'none' then
        redis.call('DEL', key)
        cleared[#cleared + 1] = position
    end
end
return cleared
"""


def remove_jobs(redis: Redis, messages: Sequence[tuple[str, str]]) -> None:
    """Delete what is left of the send job of each (client id, message id), wherever it
    waits, in two round trips; a hash that is no job goes too, as it would block the next.

    A job withdrawn (its message cancelled, or failed unsent) goes whole, its call (the
    text, a one-time password's code among them) with it. An agent that has just taken
    it holds what it read, and loses the message's claim; one that pops it after finds
    no job, and skips it."""
    job_deletion.delete_jobs(redis, [wire.send_job_id(client_id, message_id) for client_id, message_id in messages])
