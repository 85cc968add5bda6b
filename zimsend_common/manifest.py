"""Send manifests: a batch of shared send jobs signed once for each device.

A job on a client's shared queue may be taken by any of the client's
devices, so the relay signs it for each of them (``signing.sign_send_job``).
For a bulk to a client with many devices that is one HMAC per message per
device, carried in every job: with 100 devices, most of the cost of placing
a bulk. The shared jobs placed together share a manifest instead:

- the manifest lists the SHA-256 digest of each job's payload (its canonical
  JSON) and carries one signature of that list for each device;
- each job carries the manifest's id where its signatures would be: its args
  are ``[payload, manifest_id]``;
- an agent believes such a job when the manifest is this client's, its
  signature for this device verifies, and it lists the payload's digest.

A device still cannot sign for another: the trust is the same as with a
signature per job, paid once per batch.

The manifest is kept at ``key(client_id, manifest_id)``, under the client's
job prefix (``rq:job:<C>-``), which every device of the client may already
read (``redis_acl``): agents' Redis users need no new rule. A manifest is no
RQ job; nothing lists or restores the job prefix's keys. It is written
before its jobs, in the same round trip, and kept for ``KEPT_SECONDS``:

- nothing says when the last job of a batch is taken, so a manifest lapses
  by its age; its digests and signatures take about 110 bytes a message on
  a client of 100 devices, which a busy rack would pile up by the hundred
  megabytes if kept the six days a signature is good;
- a batch is taken within moments while its devices are up; a job still
  waiting when its manifest lapsed is left for the relay (as one signed
  before its device was added): the agent drops it unsent and unclaimed, and
  the worker's recovery places its message again, under a new manifest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zimsend_common import signing, wire

PREFIX = "manifest_"
KEPT_SECONDS = 3600
# The longest stored manifest read: a batch of 200 digests and a few thousand devices.
MAX_BYTES = 256 * 1024
_HEX_DIGEST = 64


def new_id() -> str:
    return PREFIX + secrets.token_hex(16)


def is_manifest_id(value: object) -> bool:
    """True when ``value`` can name a manifest (a job's second argument)."""
    return isinstance(value, str) and value.startswith(PREFIX) and len(value) == len(PREFIX) + 32


def key(client_id: str, manifest_id: str) -> str:
    """Where the client's manifest is kept: beside its jobs, readable by its devices alone."""
    return f"rq:job:{wire.send_job_id(client_id, manifest_id)}"


def digest(payload: Mapping[str, Any]) -> str:
    """The hex SHA-256 of a send job's payload, as its canonical JSON."""
    return hashlib.sha256(signing.canonical_json(dict(payload))).hexdigest()


def signed(
    client_id: str, manifest_id: str, payloads: Sequence[Mapping[str, Any]], device_keys: Mapping[str, str]
) -> bytes:
    """The stored value of a manifest of ``payloads``, signed with each device's key."""
    document = {"client_id": client_id, "manifest_id": manifest_id, "digests": [digest(p) for p in payloads]}
    canonical = signing.canonical_json(document)
    signatures = {device_id: signing.mac(canonical, signing_key) for device_id, signing_key in device_keys.items()}
    return json.dumps({"manifest": document, "signatures": signatures}, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Manifest:
    """A manifest as read from Redis: not believed until ``signed_for`` says so."""

    client_id: str
    manifest_id: str
    canonical: bytes  # the signed document, as signed
    digests: frozenset[str]
    signatures: Mapping[str, str] = field(repr=False)

    def names(self, device_id: str) -> bool:
        """True when the relay signed it for this device (a device added since was not)."""
        return device_id in self.signatures

    def signed_for(self, device_id: str, signing_key: str) -> bool:
        """True when its signature for ``device_id`` is the one made with that device's key (constant time)."""
        signature = self.signatures.get(device_id)
        if signature is None:
            return False
        try:
            return hmac.compare_digest(signing.mac(self.canonical, signing_key), signature)
        except TypeError:  # a signature that is not plain ASCII text
            return False

    def lists(self, payload: Mapping[str, Any]) -> bool:
        """True when the payload, as it is now, is one the manifest was made for."""
        return digest(payload) in self.digests


def read(value: bytes | str, client_id: str, manifest_id: str) -> Manifest:
    """The manifest stored as ``value``; ValueError when it is malformed or is not this
    client's manifest of this id."""
    if len(value) > MAX_BYTES:
        raise ValueError(f"{len(value)} bytes is more than a manifest may hold")
    try:
        stored = json.loads(value)
        document, signatures = stored["manifest"], stored["signatures"]
        digests = document["digests"]
        if document != {"client_id": client_id, "manifest_id": manifest_id, "digests": digests}:
            raise ValueError("another manifest")
    except (TypeError, KeyError) as exc:
        raise ValueError("not a manifest") from exc
    if not isinstance(digests, list) or not all(isinstance(d, str) and len(d) == _HEX_DIGEST for d in digests):
        raise ValueError("a manifest lists hex digests")
    if not isinstance(signatures, dict) or not all(isinstance(s, str) for s in signatures.values()):
        raise ValueError("a manifest's signatures are text")
    return Manifest(client_id, manifest_id, signing.canonical_json(document), frozenset(digests), signatures)
