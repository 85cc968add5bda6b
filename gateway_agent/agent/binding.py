"""The device's client, learnt from the binding the relay signed with the device's key.

The client decides the shared queues an agent listens on, so it is taken only
from a binding that passes its check (``signing.read_binding``): one that fails
leaves the agent on its own device queues until a good one is read. The client
last learnt is kept in the ledger, so an agent starting while Redis is away
serves the client's queues as soon as Redis is back.
"""

from __future__ import annotations

import logging
from typing import cast

import redis

from gateway_agent.agent.ledger import Ledger
from zimsend_common import signing, wire

log = logging.getLogger(__name__)


class ClientBinding:
    """The client of one device, as far as a signed binding tells it."""

    def __init__(self, connection: redis.Redis, ledger: Ledger, device_id: str, signing_key: str) -> None:
        self._connection = connection
        self._ledger = ledger
        self._device_id = device_id
        self._signing_key = signing_key
        self.client_id: str | None = ledger.get_meta("client_id")  # from a binding that passed its check
        self._refused = False

    def learn(self) -> None:
        """Read the binding again and take the client it names, or none when it fails its
        check; a binding gone from Redis changes nothing. Raises ``redis.RedisError``."""
        value = cast("bytes | None", self._connection.get(wire.device_client_key(self._device_id)))
        if value is None:
            return
        client_id = signing.read_binding(value, self._device_id, self._signing_key)
        if client_id is None:
            if not self._refused:
                log.error(
                    "device binding refused: not signed for this device; shared queues left",
                    extra={"device_id": self._device_id},
                )
            self.client_id, self._refused = None, True
            return
        self._refused = False
        if client_id == self.client_id:
            return
        self.client_id = client_id
        self._ledger.set_meta("client_id", client_id)
        log.info("device's client known", extra={"device_id": self._device_id, "client_id": client_id})
