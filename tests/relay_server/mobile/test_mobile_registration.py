"""A phone joins as a device: registration, its tokens, its heartbeats and what it tells of itself."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests
from relay_process import RELAY
from smsgate_phone import Phone
from waiting import wait_until

pytestmark = pytest.mark.slow  # every test calls the module's zimsend-relay serve and worker processes


def test_a_phone_registers_with_its_token_and_shows_online_with_its_number_and_carrier(relay):
    account = relay.account()
    phone = relay.phone(account)
    assert phone.device_id and phone.token and phone.password
    with phone.events():  # while its stream is open, the phone counts as heard from
        device = relay.wait_online(account, phone)
    assert device["phone_number"] == "+33612340000"
    assert device["operator"] == "Orange F"
    assert "1.68.0" in (device.get("app_version") or device.get("firmware") or str(device))


def _device_after_update(relay, sim_card: dict) -> dict:
    """A phone's device once the phone, registered with its SIM in full, told ``sim_card``
    instead (``PATCH /device``) while its stream is open, as the next heartbeat shows it."""
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        before = relay.wait_online(account, phone)["phone_number"]
        answer = phone.call("PATCH", "/device", json={"id": phone.device_id, "simCards": [sim_card]})
        assert answer.status_code == 204
        return wait_until(
            lambda: (d := relay.device(account, phone.device_id))["phone_number"] != before and d,
            "a heartbeat with what the phone told",
        )


def test_a_sim_the_phone_tells_while_its_stream_is_open_shows_at_its_next_heartbeat(relay):
    device = _device_after_update(relay, {"slotIndex": 0, "phoneNumber": "+33799990000", "carrierName": "Free"})
    assert device["phone_number"] == "+33799990000"
    assert device["operator"] == "Free"


# What the app sends from 1.65: each SIM field masked to its last 4 characters.
_MASKED_SIM = {
    "slotIndex": 0,
    "simNumber": 1,
    "phoneNumber": "********4567",
    "carrierName": "****ge F",
    "iccid": "****************1234",
}


def test_a_masked_sim_number_and_carrier_are_not_shown_as_the_phones_own(relay):
    account = relay.account()
    _, token = relay.store.mobile_devices.add_android(account.client_id, None)
    phone = Phone(relay.mobile_url, token)
    assert phone.register(sim_cards=[_MASKED_SIM]).status_code == 201
    phone.use_sse()
    with phone.events():
        device = relay.wait_online(account, phone)
    assert device["phone_number"] is None
    assert device["operator"] is None


def test_a_device_update_with_masked_sim_fields_leaves_the_number_and_carrier_unknown(relay):
    device = _device_after_update(relay, _MASKED_SIM)
    assert device["phone_number"] is None
    assert device["operator"] is None


def test_an_unknown_registration_token_or_device_token_answers_401(relay):
    stranger = Phone(relay.mobile_url, "zsreg_not-a-real-token")
    assert stranger.register().status_code == 401
    stranger.token = "zsdev_forged"
    for method, path in (
        ("GET", "/message"),
        ("GET", "/settings"),
        ("GET", "/device"),
        ("PATCH", "/device"),
        ("GET", "/events"),
    ):
        answer = stranger.call(method, path, json={})
        assert answer.status_code == 401, (method, path)
        assert answer.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_phone_that_gets_401_registers_again_with_the_same_token_and_the_old_token_stops_working(relay):
    account = relay.account()
    phone = relay.phone(account)
    device_id, old_token, password = phone.device_id, phone.token, phone.password
    # Another registration (a reinstall, a copied token) replaces the device token.
    again = Phone(relay.mobile_url, phone.registration_token)
    assert again.register().status_code == 201
    assert again.device_id == device_id and "password" not in again.call("GET", "/settings").json()
    assert phone.call("GET", "/message").status_code == 401
    phone.use_sse()  # the app's reaction to the 401: register again, same device, same password
    assert phone.registrations == 2 and phone.device_id == device_id and phone.token != old_token
    assert phone.password == password
    assert phone.call("GET", "/message").status_code == 200


def test_get_device_tells_the_phone_its_address_as_the_relay_sees_it(relay):
    phone = relay.phone(relay.account())
    # No proxy is trusted here (trusted_proxy_hops = 0): a forwarded address the caller wrote is not taken.
    answer = phone.call("GET", "/device", headers={"X-Forwarded-For": "203.0.113.7"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"externalIp": "127.0.0.1"}


def test_settings_are_sectioned_snake_case_and_never_move_the_phone_to_the_public_cloud(relay):
    phone = relay.phone(relay.account())
    settings = phone.call("GET", "/settings").json()
    assert settings["gateway"] == {"notification_channel": "SSE_ONLY"}
    assert settings["ping"]["interval_seconds"] >= 1
    assert len(settings["webhooks"]["signing_key"]) == 64
    assert all(isinstance(section, dict) for section in settings.values())


def _relay_command(relay, *args: str) -> dict:
    """What ``zimsend-relay ARGS``, run as the operator runs it beside this relay, printed."""
    done = subprocess.run([RELAY, *args], env=relay.env, capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)


def test_a_phone_disable_device_took_out_is_refused_its_message_fails_and_enable_device_brings_it_back(relay):
    account = relay.account()
    phone = relay.phone(account)
    with phone.events():
        relay.wait_online(account, phone)
        message_id = relay.send(account, phone)

    assert _relay_command(relay, "disable-device", phone.device_id)["disabled"] is True

    assert phone.call("GET", "/message").status_code == 401  # as a wrong token is
    assert Phone(relay.mobile_url, phone.registration_token).register().status_code == 401
    named = relay.v1(
        "POST",
        "/sms/send",
        account,
        json={"to": "+33612345678", "message": "Hi"},
        headers={"X-Device-ID": phone.device_id},
    )
    assert named.status_code == 404 and named.json()["error"]["code"] == "INVALID_DEVICE_ID"
    relay.wait_status(account, message_id, "failed")  # at the worker's next round
    assert relay.v1("GET", f"/sms/status/{message_id}", account).json()["error"]["code"] == "DEVICE_ERROR"

    assert _relay_command(relay, "enable-device", phone.device_id)["disabled"] is False

    assert phone.pull() == []  # its token good again; the failed message is not handed to it
    with phone.events():
        relay.wait_online(account, phone)
        relay.send(account, phone)


def test_add_device_android_prints_the_url_and_token_to_type_into_the_app(relay, tmp_path):
    account = relay.account()
    env = relay.env | {"ZIMSEND_PUBLIC_URL": "https://sms.example.org/"}
    printed = subprocess.run(
        [RELAY, "add-device", "--android", account.client_id], env=env, capture_output=True, text=True, check=True
    )
    document = json.loads(printed.stdout)
    assert document["server_url"] == "https://sms.example.org/api/mobile/v1"
    phone = Phone(relay.mobile_url, document["registration_token"])
    assert phone.register().status_code == 201 and phone.device_id == document["device_id"]
    assert relay.store.mobile_devices.get_registered(phone.device_id) is not None
    assert requests.get(f"{relay.base}/v1/devices", headers=account.headers, timeout=10).status_code == 200
