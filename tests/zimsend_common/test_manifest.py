"""A manifest signs a batch of send jobs once per device, and believes a job only as it was made."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from zimsend_common import manifest, signing, wire

CLIENT = "client_1000000001"
KEYS = {"device_a": signing.device_signing_key("one"), "device_b": signing.device_signing_key("two")}


def payload(n: int) -> dict:
    return wire.SendJob(
        message_id=f"msg_{n:016d}",
        client_id=CLIENT,
        to="+263771234567",
        text=f"Livraison n° {n} ☕",
        priority=3,
        issued_at="2026-12-04T18:00:00.123456Z",
        nonce=f"{n:032x}",
    ).to_dict()


BATCH = [payload(n) for n in range(3)]
MANIFEST_ID = manifest.new_id()
STORED = manifest.signed(CLIENT, MANIFEST_ID, BATCH, KEYS)


def test_a_manifest_lists_each_payloads_sha256_and_is_signed_per_device_with_hmac_of_its_canonical_json():
    stored = json.loads(STORED)
    digests = [
        hashlib.sha256(json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
        for p in BATCH
    ]
    document = {"client_id": CLIENT, "digests": digests, "manifest_id": MANIFEST_ID}
    canonical = json.dumps(document, separators=(",", ":")).encode()

    assert stored["manifest"] == document
    assert stored["signatures"] == {
        device: hmac.new(key.encode(), canonical, hashlib.sha256).hexdigest() for device, key in KEYS.items()
    }


def test_each_device_believes_the_manifest_with_its_own_key_only():
    found = manifest.read(STORED, CLIENT, MANIFEST_ID)

    assert found.signed_for("device_a", KEYS["device_a"])
    assert found.signed_for("device_b", KEYS["device_b"])
    assert not found.signed_for("device_a", KEYS["device_b"])
    assert not found.names("device_c")
    assert not found.signed_for("device_c", KEYS["device_a"])


def test_a_manifest_lists_its_payloads_as_they_were_made_and_no_other():
    found = manifest.read(STORED, CLIENT, MANIFEST_ID)

    assert all(found.lists(p) for p in BATCH)
    assert not found.lists({**BATCH[0], "to": "+15550006666"})
    assert not found.lists(payload(3))


def test_a_manifest_whose_list_was_rewritten_is_believed_by_no_device():
    stored = json.loads(STORED)
    stored["manifest"]["digests"].append(manifest.digest(payload(3)))  # a job slipped into the batch

    found = manifest.read(json.dumps(stored), CLIENT, MANIFEST_ID)

    assert found.lists(payload(3))
    assert not any(found.signed_for(device, key) for device, key in KEYS.items())


def test_a_signature_that_is_not_ascii_text_is_simply_not_believed():
    stored = json.loads(STORED)
    stored["signatures"]["device_a"] = "é" * 64

    assert not manifest.read(json.dumps(stored), CLIENT, MANIFEST_ID).signed_for("device_a", KEYS["device_a"])


@pytest.mark.parametrize(
    "value",
    [
        manifest.signed("client_2000000002", MANIFEST_ID, BATCH, KEYS),  # another client's
        manifest.signed(CLIENT, manifest.new_id(), BATCH, KEYS),  # copied from another key
        b"not json",
        b"[]",
        json.dumps(
            {"manifest": {"client_id": CLIENT, "manifest_id": MANIFEST_ID, "digests": ["00"]}, "signatures": {}}
        ),
        json.dumps({"manifest": {"client_id": CLIENT, "manifest_id": MANIFEST_ID, "digests": []}, "signatures": [1]}),
        json.dumps({"manifest": {"client_id": CLIENT, "manifest_id": MANIFEST_ID, "digests": [], "x": 1}}),
        b" " * (manifest.MAX_BYTES + 1),
    ],
)
def test_what_is_not_this_clients_manifest_of_this_id_is_refused(value):
    with pytest.raises(ValueError):
        manifest.read(value, CLIENT, MANIFEST_ID)


def test_a_manifest_id_is_told_from_a_jobs_signatures():
    assert manifest.is_manifest_id(MANIFEST_ID)
    assert not manifest.is_manifest_id(signing.sign_send_job(wire.SendJob.from_dict(BATCH[0]), KEYS))
    assert not manifest.is_manifest_id("manifest_")
    assert manifest.key(CLIENT, MANIFEST_ID) == f"rq:job:{CLIENT}-{MANIFEST_ID}"
