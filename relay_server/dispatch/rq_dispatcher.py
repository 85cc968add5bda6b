"""The RQ dispatcher: stored messages become jobs on device and client queues."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError

from relay_server.dispatch import estimate, heartbeat_keys, placement, routes
from relay_server.dispatch.dispatcher import CancelUndecided, DeviceOffline, NoDeviceAvailable
from relay_server.dispatch.recent import Recent
from relay_server.mobile import wake
from relay_server.store.device_state import DeviceState
from relay_server.store.errors import DATABASE_UNAVAILABLE
from relay_server.store.models import Caller, Message, NewMessage
from relay_server.store.store import Store
from relay_server.worker import epoch
from zimsend_common import wire
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

# How long a cancel that could not reach Redis asks to be retried after (as for the database).
REDIS_RETRY_AFTER = timedelta(seconds=5)
# What keeps stored messages from their jobs for now: the worker's recovery places them later.
_LEFT_TO_RECOVERY: tuple[type[Exception], ...] = (RedisError, *DATABASE_UNAVAILABLE)


class RQDispatcher:
    """Puts messages on the queues the client's agents take from (see ``placement``).

    Device availability comes from the heartbeats the worker records in the
    store, or from a device's heartbeat key in Redis where that is newer
    (``heartbeat_keys``): the store's may wait behind a backlog of the
    worker's. Redis is needed only to queue, estimate and cancel: with Redis
    down the store's heartbeats decide, and a send made then stays queued in
    the store for the worker's recovery to enqueue. ``recovery_grace`` is the worker's wait for agents
    after Redis lost its data (see ``relay_server.worker.epoch``).
    """

    def __init__(self, store: Store, redis: Redis, offline_after: timedelta, recovery_grace: timedelta) -> None:
        self.redis = redis
        self.offline_after = offline_after
        self.recovery_grace = recovery_grace
        self.store = store
        self.keys = Recent(store.devices.signing_keys)
        self.states = Recent(self._device_states)

    def _device_states(self, client_id: str) -> list[DeviceState]:
        """The client's device states, each as live as its store record or its heartbeat key says."""
        return heartbeat_keys.live_states(self.store, self.redis, client_id=client_id, keys=self.keys.of(client_id))

    def choose_device(
        self, caller: Caller, device_id: str | None, *, scheduled: bool, to: Collection[str] = ()
    ) -> str | None:
        """The asked-for device, or None for the client's shared queues (any online agent, or
        for shared messages to ``to`` a device of each number's route that takes it now: a rack
        of phones alone sends what its routes cover). A paused device (past its daily send
        limit, or leaving the shared queues after its SIM refused for want of credit) is online:
        it sends later, as the estimate says."""
        if scheduled or caller.is_test:
            return device_id
        now = utcnow()
        states = self.states.of(caller.client_id)
        if device_id is not None:
            states = [state for state in states if state.device_id == device_id]
        online = [state for state in states if state.online(now, self.offline_after)]
        if device_id is None:  # the shared queues are the agents': a phone serves only what is placed on it
            online = [state for state in online if not state.is_phone]
        if device_id is not None and not online:
            raise DeviceOffline(device_id)
        if not online and not (
            to and all(routes.number_route(number, states, now, self.offline_after) for number in to)
        ):
            raise NoDeviceAvailable(caller.client_id)
        return device_id

    def route(self, messages: list[NewMessage]) -> list[NewMessage]:
        """``messages``, each shared one due now routed to a device of its destination's route
        that can send now, when it has one (``routes.routed_new``): decided before it is stored."""
        return routes.routed_new(messages, self.states.of, utcnow(), self.offline_after)

    def submit(self, messages: list[Message]) -> None:
        """Give each message its job (a scheduled one gets it from the worker when due), a
        routed one on its route device's queue; a Redis outage leaves them to recovery, and so
        does a database that cannot say the device keys to sign them for now (read again past a
        second, after the messages' commit): they are stored, and their sender must be told so,
        not asked to send again."""
        try:
            placement.place_all(self.redis, self.keys.of, messages)
        except _LEFT_TO_RECOVERY as exc:
            log.warning(
                "messages left for recovery: Redis or the database unavailable",
                # The driver's own message: SQLAlchemy's would add the statement.
                extra={
                    "message_id": messages[0].message_id,
                    "count": len(messages),
                    "error": str(getattr(exc, "orig", exc)),
                },
            )

    def estimated_delivery(self, message: Message | NewMessage) -> datetime | None:
        """When the message should leave; None when Redis cannot tell."""
        try:
            return estimate.estimated_delivery(self.redis, self.states.of, message, utcnow(), self.offline_after)
        except RedisError:
            return None

    def cancel(self, message: Message) -> bool:
        """Claim the message for cancellation and drop its jobs.

        False when an agent claimed it first, or the worker did to fail it
        unsent (``worker.relay_claim``). Raises CancelUndecided
        when Redis cannot be asked (an agent may hold the message, so a cancel
        can be neither promised nor refused: ``REDIS_RETRY_AFTER``), and when
        the cancel would win a claim that Redis may have lost: until the
        worker's grace period after the loss is over, the agent that took the
        message may not have claimed it again yet.
        """
        key = wire.claim_key(message.client_id, message.message_id)
        now = utcnow()
        try:
            wait = None if _not_yet_placed(message, now) else epoch.recovery_wait(self.redis, now, self.recovery_grace)
            if wait is not None and self.redis.get(key) is None:
                raise CancelUndecided(wait)
            won = self.redis.set(key, wire.CLAIM_CANCELLED, nx=True, ex=wire.CLAIM_TTL_SECONDS)
            if not won:  # cancelled already, or in a device's or the worker's hands
                return self.redis.get(key) == wire.CLAIM_CANCELLED.encode()
            placement.remove_jobs(self.redis, [(message.client_id, message.message_id)])
            wake.message_cancelled(self.redis, message)
        except RedisError as exc:
            log.warning(
                "cancel undecided: Redis unavailable",
                extra={"message_id": message.message_id, "error": str(exc)},
            )
            # Not refused: the message is still queued, and a cancel once Redis answers may win.
            raise CancelUndecided(REDIS_RETRY_AFTER) from None
        return True


def _not_yet_placed(message: Message, now: datetime) -> bool:
    """Whether no job of the message was ever given out: the store alone decides its cancel.

    A scheduled message gets its job from the worker's due release only once
    due (see ``relay_server.worker.due``).
    """
    return message.scheduled_at is not None and message.scheduled_at > now
