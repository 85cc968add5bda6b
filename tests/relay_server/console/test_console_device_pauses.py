"""The devices list and a device's page say until when a paused device is paused (past its daily
send limit; its shared queues left after its SIM refused for want of credit), in UTC and in both
languages; a device sending says nothing of it."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import timedelta

import pytest

from zimsend_common.timefmt import isoformat_z, utcnow


@dataclass(frozen=True)
class Pause:
    field: str  # the heartbeat's, and the API's
    mark: str  # the element's data attribute
    english: str
    french: str


PAUSES = [
    pytest.param(
        Pause(
            "daily_limit_reached_until",
            "data-daily-limit",
            "Daily limit reached until",
            "Limite quotidienne atteinte jusqu'à",
        ),
        id="daily_limit",
    ),
    pytest.param(
        Pause(
            "shared_paused_until",
            "data-shared-pause",
            "No credit: shared messages paused until",
            "Sans crédit : messages partagés en pause jusqu'à",
        ),
        id="shared_pause",
    ),
]


@pytest.fixture(params=PAUSES)
def paused_and_sending(console, request):
    """acme's two modems: one paused until three hours from now, one sending."""
    pause: Pause = request.param
    acme = console.new_client()
    paused, _ = console.store.devices.add(acme.client_id, "rack-1")
    sending, _ = console.store.devices.add(acme.client_id, "rack-2")
    now = utcnow().replace(microsecond=0)
    ends = now + timedelta(hours=3)
    console.store.devices.record_heartbeat(paused.device_id, now, {"state": "online", pause.field: isoformat_z(ends)})
    console.store.devices.record_heartbeat(sending.device_id, now, {"state": "online"})
    browser = console.browser()
    browser.sign_in(acme)
    return browser, pause, paused.device_id, sending.device_id, isoformat_z(ends)


def test_the_devices_list_says_until_when_a_device_is_paused(paused_and_sending):
    browser, pause, paused, sending, ends = paused_and_sending
    table = browser.text("/console/devices/table")
    paused_row, sending_row = (_row(table, device_id) for device_id in (paused, sending))
    assert pause.mark in paused_row and pause.english in paused_row
    assert f'<time datetime="{ends}">' in paused_row and 'data-online="true"' in paused_row
    assert "data-daily-limit" not in sending_row and "data-shared-pause" not in sending_row


def test_a_devices_page_says_until_when_it_is_paused_in_french_too(paused_and_sending):
    browser, pause, paused, sending, ends = paused_and_sending
    page = browser.text(f"/console/devices/{paused}")
    assert pause.mark in page and pause.english in page and f'<time datetime="{ends}">' in page
    other = browser.text(f"/console/devices/{sending}")
    assert "data-daily-limit" not in other and "data-shared-pause" not in other
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    assert pause.french in html.unescape(browser.text(f"/console/devices/{paused}"))


def _row(table: str, device_id: str) -> str:
    start = table.index(f'data-device-id="{device_id}"')
    return table[start : table.index("</tr>", start)]
