"""After Redis lost its data: the agent claims again what it took, and speaks again.

A flush takes with it the claims that keep each message with the device that
took it, and the events the relay's worker had not applied yet, while the
store still shows those messages queued. The worker keeps a sentinel in
Redis (``wire.redis_epoch_key``) and holds its recovery back for a while
after setting it anew. The agent looks at the sentinel with each heartbeat;
when its value changed (or it is gone), the agent sets again (NX) the claim
of every message its ledger shows taken within a claim's lifetime, and hands
on again at once every event not yet acknowledged. A job the relay gives such
a message again then loses the claim on every other device. At the agent's
first look it only claims again (Redis may have lost its data while the
agent was away); when nothing was lost, both are harmless repeats.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis

from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.outbox import Outbox
from zimsend_common import wire

log = logging.getLogger(__name__)

_BATCH = 500  # claims set per round trip


class EpochWatch:
    """Follows the relay's sentinel in Redis for one device."""

    def __init__(self, connection: redis.Redis, ledger: Ledger, outbox: Outbox, device_id: str) -> None:
        self._connection = connection
        self._ledger = ledger
        self._outbox = outbox
        self._claim_value = wire.claim_value_device(device_id)
        self._device_id = device_id
        self._looked = False
        self._seen: Any = None  # the sentinel as Redis returned it, compared only

    def check(self, client_id: str | None) -> None:
        """Claim again and hand on again when the sentinel changed since the last look.

        ``client_id`` is the device's client (claims are kept under it); while
        it is unknown nothing is claimed again and the next look tries again.
        Raises ``redis.RedisError`` when Redis is unreachable (the next look tries again).
        """
        epoch = self._connection.get(wire.redis_epoch_key())
        if self._looked and epoch == self._seen:
            return
        if client_id is None:
            return
        claimed = self._claim_again(client_id)
        if self._looked:  # at the first look, events are just being handed on anyway
            self._outbox.rehand_all()
            log.warning(
                "Redis lost its data; claims and events asserted again",
                extra={"device_id": self._device_id, "claims_restored": claimed},
            )
        self._looked, self._seen = True, epoch

    def _claim_again(self, client_id: str) -> int:
        """Set the claim of every message taken within a claim's lifetime; returns how many were missing."""
        now = time.time()
        taken = self._ledger.taken_since(now - wire.CLAIM_TTL_SECONDS)
        restored = 0
        for start in range(0, len(taken), _BATCH):
            pipeline = self._connection.pipeline(transaction=False)
            for message_id, taken_at in taken[start : start + _BATCH]:
                lifetime = max(1, int(taken_at + wire.CLAIM_TTL_SECONDS - now))
                pipeline.set(wire.claim_key(client_id, message_id), self._claim_value, nx=True, ex=lifetime)
            restored += sum(1 for done in pipeline.execute() if done)
        return restored
