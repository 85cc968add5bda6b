"""A phone's signed ``system:ping`` tells its battery, which reaches the device's state at
once, even when a heartbeat was sent a moment before; a level that is no percent is not told."""

from __future__ import annotations

import pytest
from phone_relay import wait_until

from relay_server.mobile import inbound


def _ping(level: object, flags: object) -> dict:
    """The health document the app sends with its ping (the app's docs, features/health)."""
    return {
        "health": {
            "status": "pass",
            "version": "1.0.0",
            "releaseId": 1,
            "checks": {
                "battery:level": {
                    "description": "Battery level in percent",
                    "observedUnit": "percent",
                    "observedValue": level,
                    "status": "pass",
                },
                "battery:charging": {
                    "description": "Is the phone charging?",
                    "observedUnit": "flags",
                    "observedValue": flags,
                    "status": "pass",
                },
                "connection:status": {"observedUnit": "boolean", "observedValue": 1, "status": "pass"},
            },
        }
    }


def _battery(relay, device_id: str) -> tuple[int | None, bool | None]:
    [state] = relay.store.devices.states(device_id=device_id)
    return state.battery_percent, state.battery_charging


@pytest.mark.slow
def test_a_signed_ping_tells_the_phones_battery_even_right_after_a_heartbeat(relay):
    account = relay.account()
    phone = relay.phone(account)
    key = phone.call("GET", "/settings").json()["webhooks"]["signing_key"]  # this call was a heartbeat already
    url = f"{relay.mobile_url}/webhooks/in/{phone.device_id}"
    assert phone.webhook(url, "system:ping", _ping(94, 4), key=key).status_code == 204
    wait_until(lambda: _battery(relay, phone.device_id) == (94, True), "the battery of the first ping")
    assert phone.webhook(url, "system:ping", _ping(93, 0), key=key).status_code == 204
    wait_until(lambda: _battery(relay, phone.device_id) == (93, False), "the battery of the second ping")


@pytest.mark.slow
def test_a_ping_with_a_wrong_signature_tells_no_battery(relay):
    account = relay.account()
    phone = relay.phone(account)
    phone.call("GET", "/settings")
    url = f"{relay.mobile_url}/webhooks/in/{phone.device_id}"
    assert phone.webhook(url, "system:ping", _ping(94, 4), key="0" * 64).status_code == 401
    assert relay.redis.get(f"zimsend:mobile:{phone.device_id}:battery") is None


@pytest.mark.parametrize(
    ("level", "flags", "told"),
    [
        (94, 4, (94, True)),
        (0, 1, (0, True)),
        (100, 0, (100, False)),
        (57, "4", (57, None)),
        (101, 0, None),
        (-1, 0, None),
        ("94", 0, None),
        (94.5, 0, None),
        (True, 0, None),
        (None, 0, None),
    ],
)
def test_the_battery_a_ping_tells_is_a_whole_percent_with_its_charging_flag(level, flags, told):
    webhook = inbound.WebhookBody(id="wh1", event="system:ping", payload=_ping(level, flags))
    assert inbound.battery(webhook) == told


def test_a_ping_without_a_health_document_or_another_event_tells_no_battery():
    assert (
        inbound.battery(inbound.WebhookBody(id="wh1", event="system:ping", payload={"health": {"status": "pass"}}))
        is None
    )
    assert inbound.battery(inbound.WebhookBody(id="wh1", event="system:ping", payload={"health": "fine"})) is None
    assert inbound.battery(inbound.WebhookBody(id="wh1", event="sms:sent", payload=_ping(94, 4))) is None
