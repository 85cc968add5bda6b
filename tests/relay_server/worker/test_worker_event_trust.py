"""Believing agents' events: only a well-formed event signed by the enabled device it names is applied."""

from __future__ import annotations

from relay_parts import Parts

from relay_server.worker.events import apply_event
from zimsend_common import signing, wire
from zimsend_common.timefmt import isoformat_z, utcnow


def test_an_event_signed_with_another_devices_key_is_refused_and_changes_nothing(parts: Parts):
    caller = parts.client()
    device, intruder = parts.device(caller), parts.device(parts.client())
    message = parts.message(caller)
    document = device.event("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}).to_dict()
    assert apply_event(document, signing.sign(document, intruder.signing_key)) == "refused"
    assert parts.reload(message).status == "queued"


def test_events_of_unknown_devices_and_malformed_events_are_refused(parts: Parts):
    ghost = wire.Event(kind="sent", device_id="device_000000000000", at=isoformat_z(utcnow()), data={}).to_dict()
    assert apply_event(ghost, signing.sign(ghost, signing.device_signing_key("guess"))) == "refused"
    assert apply_event({"kind": "sent"}, "00") == "refused"
    assert apply_event("not an event", "00") == "refused"  # type: ignore[arg-type]
