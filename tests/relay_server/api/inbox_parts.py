"""What the tests of incoming SMS share: a device's agent that reports what its modem received,
applied by the worker's own event handling."""

from __future__ import annotations

from relay_server.worker.events import apply_event
from zimsend_common import signing, wire
from zimsend_common.timefmt import isoformat_z, utcnow


class Agent:
    """Reports events as a device's agent signs them."""

    def __init__(self, relay, client_id: str) -> None:
        device, password = relay.store.devices.add(client_id)
        self.device_id = device.device_id
        self.key = signing.device_signing_key(password)

    def received(self, sender: str, text: str, parts: int = 1, **kind: object) -> dict:
        event = wire.Event(
            kind="received",
            device_id=self.device_id,
            at=isoformat_z(utcnow()),
            data={"sender": sender, "text": text, "received_at": isoformat_z(utcnow()), "parts": parts, **kind},
        )
        return event.to_dict()

    def report(self, document: dict) -> str:
        return apply_event(document, signing.sign(document, self.key))
