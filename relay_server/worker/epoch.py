"""Noticing that Redis lost its data, and letting agents speak before recovery acts.

Claims and events not yet applied vanish with Redis's data while the store
still shows their messages queued. Giving those messages a job at once could
let another device of the client claim and send one that was in fact sent.
So the worker keeps a sentinel, ``wire.redis_epoch_key``; finding it gone,
it sets it again to the moment recovery may resume, a grace period later.
Meanwhile agents notice the new value, claim again what they took and hand
on their unacknowledged events. The moment lives in Redis, not in this
process, so a worker restarted during the grace period still keeps to it.

A Redis may also lose only its last writes and keep the sentinel: one that
writes its append-only file once a second and crashes, one restarted from
an older snapshot, a replica promoted before it caught up. Each of these is
a new server process, with a new ``run_id``; the sentinel names the process
it was written to, so finding another one running counts as a loss too. So
does a key evicted since (a ``maxmemory-policy`` other than ``noeviction``:
claims, which expire, are the first that volatile policies evict), by the
count of evicted keys the sentinel names. A restart that lost nothing costs
one grace period and a harmless round of claims made again.

No grace period is needed when the store shows no claim at stake
(``Store.claims_at_stake``): no message queued, or the store's first start.
A worker finding no sentinel cannot tell from Redis whether it lost its data
or was never looked at; the store keeps a mark of a worker having looked
(``relay_server.store.worker_mark``), set once the sentinel is in place. A
store without it never had a worker see its claims, so a send or a scheduled
message stored the moment the gateway first starts, before the worker's
first look, gets its job at once. Not one that waited a grace period or
more: the relay and agents may have run without a worker (its unit failing,
say) and an agent taken it, then Redis lost the claim; only a loss within
that same period could take a younger one's. A store restored from a backup
onto a fresh Redis has the mark, and waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from redis import Redis

from zimsend_common import device_written, wire

log = logging.getLogger(__name__)

_NO_LOSS = datetime.fromtimestamp(0, timezone.utc)  # what a sentinel that names no moment tells


def server_id(redis: Redis) -> str | None:
    """What names the data the running Redis holds: its process (``INFO server``'s
    ``run_id``, new at each start) and how many keys it has evicted (``INFO stats``),
    as ``run_id:evicted``; None when Redis will not say (INFO renamed away)."""
    return _look(redis)[1]


def _look(redis: Redis) -> tuple[bytes | None, str | None]:
    """The sentinel's value (None when there is none) and ``server_id``, in one round trip."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.get(wire.redis_epoch_key())
        pipe.info("server")
        pipe.info("stats")
        value, server, stats = pipe.execute(raise_on_error=False)  # INFO may be renamed away
    if not isinstance(server, dict) or not server.get("run_id") or not isinstance(stats, dict):
        named = None
    else:
        named = f"{server['run_id']}:{stats.get('evicted_keys', 0)}"
    return (value if isinstance(value, bytes) else None), named


def recovery_resumes_at(
    redis: Redis, now: datetime, grace: timedelta, claims_at_stake: Callable[[datetime], bool] | None = None
) -> datetime:
    """When recovery may give queued messages their job again; restarts the grace
    period when Redis lost the sentinel, or restarted or evicted keys since it was set, unless
    ``claims_at_stake``, asked with the moment a grace period ago, says the store shows none
    (no message queued, or none older than that at the store's first start): no claim can then
    have been lost, and nothing waits (without it, something may be)."""
    key = wire.redis_epoch_key()
    value, server = _look(redis)
    if value is None:
        if redis.set(key, wire.epoch_value(now + grace, server), nx=True):
            why = "Redis holds no data of the gateway (Redis lost it, or a first start)"
            return _grace_begun(redis, now, grace, server, why, claims_at_stake)
        written = redis.get(key)  # set meanwhile
        if not isinstance(written, bytes):
            return now  # gone again already, or not a string: the next round looks again
        value = written
    written_to = wire.epoch_server(value)
    if server is None or written_to == server:
        return wire.epoch_resumes_at(value) or now  # one not ours names no moment
    if written_to is None:  # set before sentinels named their server: adopted as it stands
        resume_at = wire.epoch_resumes_at(value) or now
        device_written.replace_if_equal(redis, key, value, wire.epoch_value(resume_at, server), ex=None)
        return resume_at
    if not device_written.replace_if_equal(redis, key, value, wire.epoch_value(now + grace, server), ex=None):
        return recovery_resumes_at(redis, now, grace, claims_at_stake)  # replaced meanwhile: read it again
    return _grace_begun(redis, now, grace, server, _what_changed(written_to, server), claims_at_stake)


def _what_changed(written_to: str, server: str) -> str:
    if written_to.partition(":")[0] != server.partition(":")[0]:
        return "Redis restarted since the worker last saw it, and may have lost its last writes"
    return "Redis evicted keys to stay under its maxmemory: set its maxmemory-policy to noeviction"


def _grace_begun(
    redis: Redis,
    now: datetime,
    grace: timedelta,
    server: str | None,
    why: str,
    claims_at_stake: Callable[[datetime], bool] | None,
) -> datetime:
    """The sentinel was just set to name ``now + grace``: when recovery resumes after all."""
    if claims_at_stake is not None and not claims_at_stake(now - grace):
        redis.set(wire.redis_epoch_key(), wire.epoch_value(now, server))
        log.info(
            "Redis may have lost claims, but the store shows none it could miss"
            " (no message queued, or none waiting long at the store's first start)",
            extra={"cause": why},
        )
        return now
    log.warning(
        "Redis may have lost claims: recovery waits for agents",
        extra={"cause": why, "grace_seconds": grace.total_seconds()},
    )
    return now + grace


def recovery_wait(redis: Redis, now: datetime, grace: timedelta) -> timedelta | None:
    """How long recovery still waits for agents after a loss, read without writing: None
    when it is not waiting, the whole ``grace`` for a loss the worker has yet to notice."""
    resume_at = recovery_resumed_at(redis)
    if resume_at is None:
        return grace
    return resume_at - now if resume_at > now else None


def recovery_resumed_at(redis: Redis) -> datetime | None:
    """When recovery resumes, or resumed, after Redis's last loss (what Redis held before it
    may be gone), read without writing; None for a loss the worker has yet to notice (the
    sentinel gone, or naming a server process no longer running or fewer evicted keys).
    A sentinel that names no moment (not the worker's) tells of no loss: the Unix epoch."""
    value, server = _look(redis)
    if value is None:
        return None
    written_to = wire.epoch_server(value)
    if written_to is not None and server is not None and written_to != server:
        return None
    return wire.epoch_resumes_at(value) or _NO_LOSS


class EpochWatch:
    """What this worker process knows of Redis's data; shared by its threads.

    Whoever gives a message its first job (recovery, the due release) asks
    ``held_back_through`` first, with the ``now`` it then releases by: so every
    message released before Redis lost its data was due at or before the last
    moment this process asked, and one due later cannot have been taken by an
    agent. A grace period holds back what was due by the last moment asked
    before it began, grace periods included: a look during one releases what
    came due since, and a second loss must hold that back too. This holds for
    one releasing worker per deployment, which the worker lease makes so
    (``lease``: each term of its holder has a watch of its own); a watch that
    meets a grace period before it ever asked (a worker started, or a lease
    taken, after the loss) takes the moment the loss was first noticed instead
    (every releaser notices a loss before it releases anything).
    """

    def __init__(
        self,
        grace: timedelta,
        claims_at_stake: Callable[[datetime], bool] | None = None,
        mark_looked: Callable[[datetime], None] | None = None,
    ) -> None:
        self.grace = grace
        self._claims_at_stake = claims_at_stake  # see ``recovery_resumes_at``
        # Keeps in the store that a worker looked (``Store.mark_worker_looked``); once a watch.
        self._mark_looked = mark_looked
        self._asked_at: datetime | None = None  # the latest ``now`` any releaser asked with
        self._grace: tuple[datetime, datetime] | None = None  # (resumes at, held back through)
        self._lock = threading.Lock()

    def held_back_through(self, redis: Redis, now: datetime) -> datetime | None:
        """None when recovery may act on every due message; during the grace period
        after Redis lost its data, the moment at or before which due messages wait for it."""
        resume_at = recovery_resumes_at(redis, now, self.grace, self._claims_at_stake)
        if self._mark_looked is not None:
            # After the sentinel is in place: a loss from now on finds it missing.
            self._mark_looked(now)
            self._mark_looked = None  # two threads may both mark: the mark is kept once
        with self._lock:
            held_back = None if now >= resume_at else self._held_back_during(resume_at)
            self._asked_at = max(now, self._asked_at or now)
            return held_back

    def _held_back_during(self, resume_at: datetime) -> datetime:
        # Fixed when this grace period is first met, before this look's moment counts.
        if self._grace is None or self._grace[0] != resume_at:
            self._grace = (resume_at, self._asked_at or resume_at - self.grace)
        return self._grace[1]
