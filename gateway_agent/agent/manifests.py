"""The manifests an agent reads: each read from Redis, and checked against the
device's key, once for all the jobs of its batch.

A batch's shared jobs follow one another on the queue and name the same
manifest (``zimsend_common.manifest``), so the last few read are kept, each
with whether its signature for this device holds; every job is still checked
against the list it names (``jobs.accept``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import cast

import redis

from zimsend_common import manifest
from zimsend_common.manifest import Manifest

log = logging.getLogger(__name__)

KEPT = 8  # batches placed together, when the agent serves several of its client's queues


@dataclass(frozen=True)
class Found:
    """A manifest as Redis held it, and whether the relay signed it for this device."""

    manifest: Manifest
    signed: bool


class Manifests:
    """The manifests of this device's client, as its agent on ``connection`` finds them."""

    def __init__(self, connection: redis.Redis, device_id: str, signing_key: str, kept: int = KEPT) -> None:
        self._connection = connection
        self._device_id = device_id
        self._signing_key = signing_key
        self._kept = kept
        self._read: OrderedDict[tuple[str, str], Found] = OrderedDict()

    def find(self, client_id: str, manifest_id: str) -> Found | None:
        """The client's manifest of this id, or None when Redis holds nothing readable as it."""
        found = self._read.get((client_id, manifest_id))
        if found is not None:
            self._read.move_to_end((client_id, manifest_id))
            return found
        value = cast("bytes | None", self._connection.get(manifest.key(client_id, manifest_id)))
        if value is None:
            return None
        try:
            read = manifest.read(value, client_id, manifest_id)
        except ValueError as exc:
            log.error("manifest unreadable", extra={"manifest_id": manifest_id, "error": str(exc)})
            return None
        found = Found(read, read.signed_for(self._device_id, self._signing_key))
        self._read[(client_id, manifest_id)] = found
        if len(self._read) > self._kept:
            self._read.popitem(last=False)
        return found
