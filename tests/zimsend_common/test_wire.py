"""What the relay signs a send job with, as an agent of any version checks it."""

from __future__ import annotations

import hashlib
import hmac
import json

from zimsend_common import signing, wire

JOB = wire.SendJob(
    message_id="msg_0000000000000001",
    client_id="client_1000000001",
    to="+263771234567",
    text="Rendez-vous à 9 h, café offert ☕",
    priority=3,
    device_id=None,
    valid_until="2026-12-05T09:00:00Z",
    issued_at="2026-12-04T18:00:00.123456Z",
    nonce="00112233445566778899aabbccddeeff",
)


def test_a_send_job_is_signed_per_device_with_hmac_sha256_of_its_sorted_compact_utf8_json():
    keys = {"device_a": signing.device_signing_key("one"), "device_b": signing.device_signing_key("two")}
    document = {
        "client_id": "client_1000000001",
        "device_id": None,
        "issued_at": "2026-12-04T18:00:00.123456Z",
        "message_id": "msg_0000000000000001",
        "nonce": "00112233445566778899aabbccddeeff",
        "priority": 3,
        "text": "Rendez-vous à 9 h, café offert ☕",
        "to": "+263771234567",
        "valid_until": "2026-12-05T09:00:00Z",
    }
    canonical = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    signatures = signing.sign_send_job(JOB, keys)

    assert signatures == {
        device: hmac.new(key.encode(), canonical, hashlib.sha256).hexdigest() for device, key in keys.items()
    }
    assert all(signing.verify(JOB.to_dict(), signatures[device], key) for device, key in keys.items())
    assert not signing.verify(JOB.to_dict(), signatures["device_a"], keys["device_b"])


def test_a_send_jobs_dict_holds_every_field_and_gives_the_job_back():
    document = JOB.to_dict()

    assert list(document) == list(wire.SendJob.__dataclass_fields__)
    assert wire.SendJob.from_dict(document) == JOB
    document["text"] = "changed"
    assert JOB.text == "Rendez-vous à 9 h, café offert ☕"


def test_an_events_document_holds_every_field_and_a_data_dict_of_its_own():
    event = wire.Event(
        kind="sent",
        device_id="device_a",
        at="2026-12-06T10:00:00.000001Z",
        data={"message_id": "msg_0000000000000001", "references": [7, 8], "parts": 2},
        event_id="evt_1",
    )

    document = event.to_dict()
    document["data"]["parts"] = 3

    assert document == {
        "kind": "sent",
        "device_id": "device_a",
        "at": "2026-12-06T10:00:00.000001Z",
        "data": {"message_id": "msg_0000000000000001", "references": [7, 8], "parts": 3},
        "event_id": "evt_1",
    }
    assert event.data["parts"] == 2
    assert wire.Event.from_dict(event.to_dict()) == event
