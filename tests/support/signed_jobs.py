"""Whose signature a placed send job carries, read as an agent reads it: the job's own
signatures, or the manifest of its batch (``zimsend_common.manifest``)."""

from __future__ import annotations

from collections.abc import Mapping

from redis import Redis
from rq.job import Job

from zimsend_common import manifest, signing


def signed_for(redis: Redis, job: Job, keys: Mapping[str, str]) -> set[str]:
    """The devices of ``keys`` (device id -> signing key) for which the job's payload, as it is, is signed."""
    payload, proof = job.args
    if manifest.is_manifest_id(proof):
        value = redis.get(manifest.key(payload["client_id"], proof))
        if value is None:
            return set()
        found = manifest.read(value, payload["client_id"], proof)
        if not found.lists(payload):
            return set()
        return {device_id for device_id, key in keys.items() if found.signed_for(device_id, key)}
    return {
        device_id
        for device_id, key in keys.items()
        if device_id in proof and signing.verify(payload, proof[device_id], key)
    }
