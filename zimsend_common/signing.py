"""Signatures on what crosses Redis: send jobs, the device's binding, sealed heartbeats.

A device signs with ``device_signing_key(password)``, a digest the store keeps
in place of the password; the relay signs each send job for every device that
may take it (``sign_send_job``) and the device its events and heartbeats with
the same key. A signature is a hex HMAC-SHA256 of the document's canonical JSON
and is checked in constant time. What is signed and where it travels is
``zimsend_common.wire``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from zimsend_common import wire


def device_signing_key(device_password: str) -> str:
    """The key a device signs with; the store keeps this digest, never the password."""
    return hashlib.sha256(f"zimsend-device:{device_password}".encode()).hexdigest()


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(document: dict[str, Any], signing_key: str) -> str:
    """Hex HMAC-SHA256 of the document's canonical JSON."""
    return mac(canonical_json(document), signing_key)


def mac(canonical: bytes, signing_key: str) -> str:
    """Hex HMAC-SHA256 of bytes already canonical (``canonical_json``)."""
    return hmac.digest(signing_key.encode(), canonical, "sha256").hex()


def verify(document: dict[str, Any], signature: str, signing_key: str) -> bool:
    """True when ``signature`` is this key's signature of ``document`` (constant time)."""
    return hmac.compare_digest(sign(document, signing_key), signature)


def sign_send_job(job: wire.SendJob, device_keys: Mapping[str, str]) -> dict[str, str]:
    """The job's signature for each device that may take it (device id -> hex HMAC).

    The job must carry ``issued_at`` and ``nonce``: a signature is only good
    for ``wire.SEND_JOB_MAX_AGE_SECONDS`` after it was made.
    """
    if not job.issued_at or not job.nonce:
        raise ValueError("a send job is signed with its issued_at and nonce")
    canonical = canonical_json(job.to_dict())  # once, whatever the number of devices
    return {device_id: mac(canonical, key) for device_id, key in device_keys.items()}


def new_nonce() -> str:
    return secrets.token_hex(16)


def binding(device_id: str, client_id: str, signing_key: str) -> str:
    """The value of ``device_client_key``: the device's client, signed with the device's key."""
    document = {"device_id": device_id, "client_id": client_id}
    return json.dumps({**document, "signature": sign(document, signing_key)}, sort_keys=True)


def read_binding(value: str | bytes, device_id: str, signing_key: str) -> str | None:
    """The client a ``binding`` names, when it is this device's and signed with its key; else None."""
    try:
        wrapper = json.loads(value)
        document = {"device_id": wrapper["device_id"], "client_id": wrapper["client_id"]}
        signature = wrapper["signature"]
        if not isinstance(signature, str) or document["device_id"] != device_id:
            return None
        if not isinstance(document["client_id"], str) or not verify(document, signature, signing_key):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return document["client_id"]


def seal(event: wire.Event, signing_key: str) -> str:
    """The event and its signature as one JSON document (the heartbeat key's value)."""
    document = event.to_dict()
    return json.dumps({"event": document, "signature": sign(document, signing_key)})


def unseal(sealed: str | bytes, signing_key: str) -> wire.Event | None:
    """The event ``seal`` wrapped, or None when it is malformed or not signed with this key."""
    try:
        wrapper = json.loads(sealed)
        document, signature = wrapper["event"], wrapper["signature"]
        if not verify(document, signature, signing_key):
            return None
        return wire.Event.from_dict(document)
    except (ValueError, KeyError, TypeError):
        return None
