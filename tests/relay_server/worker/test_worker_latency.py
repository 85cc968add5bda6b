"""The send and delivery latency histograms, observed as the worker applies a device's reports."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from relay_parts import Parts

from zimsend_common.timefmt import isoformat_z


def bucket(name: str, le: str) -> float:
    return REGISTRY.get_sample_value(f"{name}_bucket", {"le": le}) or 0.0


def test_sent_and_delivered_are_timed_from_the_stored_times_once_each(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    sent_at = message.queued_at.replace(microsecond=0) + timedelta(seconds=1)
    delivered_at = sent_at + timedelta(seconds=4)
    send = "zimsend_send_latency_seconds"
    delivery = "zimsend_delivery_latency_seconds"
    before = {(name, le): bucket(name, le) for name in (send, delivery) for le in ("1.0", "2.0", "5.0")}

    sent = {"message_id": message.message_id, "sent_at": isoformat_z(sent_at)}
    assert device.report("sent", sent) == "applied"
    assert device.report("sent", sent) == "repeat"  # a repeat is not timed again
    assert (
        device.report("delivered", {"message_id": message.message_id, "delivered_at": isoformat_z(delivered_at)})
        == "applied"
    )

    grew = {key: bucket(*key) - value for key, value in before.items()}
    assert grew == {
        (send, "1.0"): 1,
        (send, "2.0"): 1,
        (send, "5.0"): 1,
        (delivery, "1.0"): 0,
        (delivery, "2.0"): 0,
        (delivery, "5.0"): 1,
    }
