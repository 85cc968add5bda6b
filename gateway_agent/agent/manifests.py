"""The manifests an agent reads: each from Redis once for the jobs of its batch.

A batch's shared jobs follow one another on the queue and name the same
manifest (``zimsend_common.manifest``), so the last few read are kept; what
is kept is only what Redis held, and every job is still checked against it
(``jobs.accept``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import redis

from zimsend_common import manifest
from zimsend_common.manifest import Manifest

log = logging.getLogger(__name__)

KEPT = 8  # batches placed together, when the agent serves several of its client's queues


class Manifests:
    """A client's manifests, as an agent on ``connection`` finds them."""

    def __init__(self, connection: redis.Redis, kept: int = KEPT) -> None:
        self._connection = connection
        self._kept = kept
        self._read: OrderedDict[tuple[str, str], Manifest] = OrderedDict()

    def find(self, client_id: str, manifest_id: str) -> Manifest | None:
        """The client's manifest of this id, or None when Redis holds nothing readable as it."""
        found = self._read.get((client_id, manifest_id))
        if found is not None:
            self._read.move_to_end((client_id, manifest_id))
            return found
        value = self._connection.get(manifest.key(client_id, manifest_id))
        if value is None:
            return None
        try:
            found = manifest.read(value, client_id, manifest_id)
        except ValueError as exc:
            log.error("manifest unreadable", extra={"manifest_id": manifest_id, "error": str(exc)})
            return None
        self._read[(client_id, manifest_id)] = found
        if len(self._read) > self._kept:
            self._read.popitem(last=False)
        return found
