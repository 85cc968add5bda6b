"""The devices list and a device's page show a phone's battery as its last heartbeat told it,
with a flash while it charges; a modem shows none."""

from __future__ import annotations

import pytest

from zimsend_common.timefmt import utcnow


@pytest.fixture
def phone_and_modem(console):
    """acme's phone at 94 % on its charger and its modem, whose heartbeat (wrongly) names a battery too."""
    acme = console.new_client()
    phone, _token = console.store.mobile_devices.add_android(acme.client_id, "pixel")
    modem, _password = console.store.devices.add(acme.client_id, "pi-modem")
    now = utcnow()
    console.store.devices.record_heartbeat(
        phone.device_id, now, {"state": "online", "battery_percent": 94, "battery_charging": True}
    )
    console.store.devices.record_heartbeat(
        modem.device_id, now, {"state": "online", "battery_percent": 61, "battery_charging": False}
    )
    browser = console.browser()
    browser.sign_in(acme)
    return browser, phone.device_id, modem.device_id


def test_the_devices_list_shows_the_phones_battery_and_none_for_the_modem(phone_and_modem):
    browser, phone_id, modem_id = phone_and_modem
    table = browser.text("/console/devices/table")
    phone_row, modem_row = (_row(table, device_id) for device_id in (phone_id, modem_id))
    assert 'data-battery="94"' in phone_row and "94 %" in phone_row and "⚡" in phone_row
    assert "data-battery" not in modem_row and "61 %" not in modem_row
    assert "Battery" in browser.text("/console/devices")


def test_a_phones_page_shows_its_battery_and_a_modems_page_none(phone_and_modem):
    browser, phone_id, modem_id = phone_and_modem
    page = browser.text(f"/console/devices/{phone_id}")
    assert 'data-battery="94"' in page and "⚡" in page and "Charging" in page
    modem_page = browser.text(f"/console/devices/{modem_id}")
    assert "data-battery" not in modem_page and "Battery" not in modem_page


def test_a_phone_off_its_charger_shows_no_flash_and_the_french_label(console, phone_and_modem):
    browser, phone_id, _ = phone_and_modem
    console.store.devices.record_heartbeat(
        phone_id, utcnow(), {"state": "online", "battery_percent": 37, "battery_charging": False}
    )
    page = browser.text(f"/console/devices/{phone_id}")
    assert 'data-battery="37"' in page and "⚡" not in page
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    assert "Batterie" in browser.text(f"/console/devices/{phone_id}")


def _row(table: str, device_id: str) -> str:
    start = table.index(f'data-device-id="{device_id}"')
    return table[start : table.index("</tr>", start)]
