"""Where a stored message waits in Redis until it leaves: its RQ jobs.

A message's send job has ``wire.send_job_id`` (client and message id) as its
job id and goes on the device's queue (when the client asked for a device), else on the client's
shared queue, or on the simulated device's queue for a ``zs_test_`` message.
A send job for an agent carries its signature for every device that may take
it (``wire.sign_send_job``, with the keys the store keeps); the simulated
device needs none, it checks the message against the store.
A message scheduled for later waits as a release job on the schedule queue,
which the relay's worker (and its RQ scheduler) turns into the send job when
it is due.
"""

from __future__ import annotations

from datetime import datetime

from typing import Any

from redis import Redis
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from relay_server.store.models import Message
from relay_server.store.store import Store
from zimsend_common import bus, wire
from zimsend_common.timefmt import isoformat_z, utcnow

# Long enough for a rate-limited modem to finish one send; a send job is
# never retried by RQ (a retry could send twice), so this only bounds a hang.
SEND_JOB_TIMEOUT_SECONDS = 600
# Finished jobs are kept a day so that recovery sees the message was taken.
FINISHED_JOB_TTL_SECONDS = 24 * 3600
_LIVE_STATUSES = frozenset(
    status.value.encode()
    for status in (
        JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.FINISHED
    )
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
        issued_at=isoformat_z(utcnow()),
        nonce=wire.new_nonce(),
    )


def send_job_args(store: Store, message: Message) -> list[Any]:
    """The send job's arguments: its payload, and (for an agent) its signatures by device."""
    payload = send_job(message)
    if message.is_test:
        return [payload.to_dict()]
    if message.device_id:
        key = store.device_signing_key(message.device_id)
        keys = {} if key is None else {message.device_id: key}
    else:
        keys = store.device_signing_keys(message.client_id)
    return [payload.to_dict(), wire.sign_send_job(payload, keys)]


def queue_name(message: Message) -> str:
    """The queue the message's send job goes on."""
    if message.is_test:
        return wire.SIMULATED_QUEUE
    if message.device_id:
        return wire.device_queue(message.device_id, message.priority)
    return wire.client_queue(message.client_id, message.priority)


def release_job_id(client_id: str, message_id: str) -> str:
    """The id of the job that releases a scheduled message when it is due."""
    return f"{wire.send_job_id(client_id, message_id)}-release"


def _job_ids(client_id: str, message_id: str) -> tuple[str, str]:
    """The message's send and release job ids."""
    return wire.send_job_id(client_id, message_id), release_job_id(client_id, message_id)


def place(redis: Redis, store: Store, message: Message, now: datetime | None = None) -> None:
    """Give the message its job: scheduled for later, or queued to leave now.

    Placing a message that already has its job does nothing, so recovery and
    a late submit may both place the same message safely.
    """
    now = now or utcnow()
    if message.scheduled_at is not None and message.scheduled_at > now:
        _schedule_release(redis, message)
    else:
        enqueue_send(redis, store, message)


def enqueue_send(redis: Redis, store: Store, message: Message) -> None:
    """Put the message's send job on its queue, unless it is already there."""
    func = wire.SIMULATED_SEND_FUNC if message.is_test else wire.SEND_JOB_FUNC
    queue = bus.queue(queue_name(message), redis)
    try:
        queue.enqueue(
            func,
            *send_job_args(store, message),
            job_id=wire.send_job_id(message.client_id, message.message_id),
            job_timeout=SEND_JOB_TIMEOUT_SECONDS,
            result_ttl=FINISHED_JOB_TTL_SECONDS,
            failure_ttl=FINISHED_JOB_TTL_SECONDS,
            unique=True,
        )
    except DuplicateJobError:
        pass


def _schedule_release(redis: Redis, message: Message) -> None:
    queue = bus.queue(wire.SCHEDULE_QUEUE, redis)
    job = queue.create_job(
        wire.RELEASE_SCHEDULED_FUNC,
        args=(message.message_id,),
        job_id=release_job_id(message.client_id, message.message_id),
        result_ttl=FINISHED_JOB_TTL_SECONDS,
    )
    try:
        queue.schedule_job(job, message.scheduled_at, unique=True)
    except DuplicateJobError:
        pass


def jobless(redis: Redis, messages: list[tuple[str, str]]) -> dict[str, bytes | None]:
    """Of the (client id, message id) pairs, the messages that have no live job in Redis,
    each with its claim (None: unclaimed).

    A job that failed or was stopped no longer carries its message; one that
    finished did, and its message has moved on (or was claimed).
    """
    with redis.pipeline(transaction=False) as pipe:
        for client_id, message_id in messages:
            pipe.get(wire.claim_key(client_id, message_id))
            for job_id in _job_ids(client_id, message_id):
                pipe.hget(Job.key_for(job_id), "status")
        answers = pipe.execute()
    found = {}
    for index, (_, message_id) in enumerate(messages):
        claim, *statuses = answers[index * 3 : index * 3 + 3]
        if not any(status in _LIVE_STATUSES for status in statuses):
            found[message_id] = claim
    return found


def withdraw(redis: Redis, client_id: str, message_id: str) -> None:
    """Take the message's send and release jobs out of their queues and schedule.

    The jobs are marked cancelled rather than deleted: an agent may hold one
    it has just taken, and still finds it (then loses the claim).
    """
    for job_id in _job_ids(client_id, message_id):
        try:
            job = bus.fetch(job_id, redis)
            if not job.is_canceled:
                job.cancel()
        except (NoSuchJobError, InvalidJobOperation):
            continue
        redis.expire(job.key, FINISHED_JOB_TTL_SECONDS)


def remove_jobs(redis: Redis, client_id: str, message_id: str) -> None:
    """Delete what is left of the message's send and release jobs."""
    for job_id in _job_ids(client_id, message_id):
        try:
            bus.fetch(job_id, redis).delete()
        except NoSuchJobError:  # gone, or refused: a hash that is no job must not block the next
            redis.delete(Job.key_for(job_id))
