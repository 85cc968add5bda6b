"""The devices list and a device's page say until when a device past its daily send limit sends
no more, in UTC and in both languages; a device sending says nothing of it."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest

from zimsend_common.timefmt import isoformat_z, utcnow


@pytest.fixture
def limited_and_sending(console):
    """acme's two modems: one past its daily send limit until three hours from now, one sending."""
    acme = console.new_client()
    limited, _ = console.store.add_device(acme.client_id, "rack-1")
    sending, _ = console.store.add_device(acme.client_id, "rack-2")
    now = utcnow().replace(microsecond=0)
    again = now + timedelta(hours=3)
    console.store.record_heartbeat(
        limited.device_id, now, {"state": "online", "daily_limit_reached_until": isoformat_z(again)}
    )
    console.store.record_heartbeat(sending.device_id, now, {"state": "online"})
    browser = console.browser()
    browser.sign_in(acme)
    return browser, limited.device_id, sending.device_id, isoformat_z(again)


def test_the_devices_list_says_until_when_a_device_past_its_limit_sends_no_more(limited_and_sending):
    browser, limited, sending, again = limited_and_sending
    table = browser.text("/console/devices/table")
    limited_row, sending_row = (_row(table, device_id) for device_id in (limited, sending))
    assert "data-daily-limit" in limited_row and "Daily limit reached until" in limited_row
    assert f'<time datetime="{again}">' in limited_row and 'data-online="true"' in limited_row
    assert "data-daily-limit" not in sending_row


def test_a_devices_page_says_until_when_it_sends_no_more_in_french_too(limited_and_sending):
    browser, limited, sending, again = limited_and_sending
    page = browser.text(f"/console/devices/{limited}")
    assert "Daily limit reached until" in page and f'<time datetime="{again}">' in page
    assert "data-daily-limit" not in browser.text(f"/console/devices/{sending}")
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    assert "Limite quotidienne atteinte jusqu'à" in html.unescape(browser.text(f"/console/devices/{limited}"))


def _row(table: str, device_id: str) -> str:
    start = table.index(f'data-device-id="{device_id}"')
    return table[start : table.index("</tr>", start)]
