"""The devices list and a device's page show each device's daily send limit beside what it sent
today, as its agent told it: a number of SMS parts, "no limit" for 0, a dash when not told (a
phone, an older agent); in both languages."""

from __future__ import annotations

import html

import pytest

from zimsend_common.timefmt import utcnow


@pytest.fixture
def told_and_untold(console):
    """acme's modems: one whose agent told a limit of 50 parts, one told none (0), one that told nothing."""
    acme = console.new_client()
    limited, _ = console.store.devices.add(acme.client_id, "rack-1")
    unlimited, _ = console.store.devices.add(acme.client_id, "rack-2")
    untold, _ = console.store.devices.add(acme.client_id, "rack-3")
    now = utcnow()
    console.store.devices.record_heartbeat(limited.device_id, now, {"state": "online", "daily_send_limit": 50})
    console.store.devices.record_heartbeat(unlimited.device_id, now, {"state": "online", "daily_send_limit": 0})
    console.store.devices.record_heartbeat(untold.device_id, now, {"state": "online"})
    browser = console.browser()
    browser.sign_in(acme)
    return browser, limited.device_id, unlimited.device_id, untold.device_id


def test_the_devices_list_shows_each_devices_daily_send_limit_and_a_dash_when_not_told(told_and_untold):
    browser, limited, unlimited, untold = told_and_untold
    table = browser.text("/console/devices/table")
    limited_row, unlimited_row, untold_row = (_row(table, device_id) for device_id in (limited, unlimited, untold))
    assert 'data-daily-send-limit="50">50<' in limited_row
    assert 'data-daily-send-limit="0">no limit<' in unlimited_row
    assert "data-daily-send-limit" not in untold_row and _limit_cell(untold_row).endswith(">–")
    assert "Daily send limit (SMS parts)" in browser.text("/console/devices")


def test_a_devices_page_shows_its_daily_send_limit_in_french_too(told_and_untold):
    browser, limited, unlimited, untold = told_and_untold
    assert 'data-daily-send-limit="50">50<' in browser.text(f"/console/devices/{limited}")
    untold_page = browser.text(f"/console/devices/{untold}")
    assert "Daily send limit (SMS parts)</dt><dd>–</dd>" in untold_page
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    page = html.unescape(browser.text(f"/console/devices/{unlimited}"))
    assert "Limite d'envoi quotidienne (parties SMS)" in page and 'data-daily-send-limit="0">sans limite<' in page


def _row(table: str, device_id: str) -> str:
    start = table.index(f'data-device-id="{device_id}"')
    return table[start : table.index("</tr>", start)]


def _limit_cell(row: str) -> str:
    """The row's daily send limit cell, up to its closing tag."""
    start = row.index('data-label="Daily send limit (SMS parts)"')
    return row[start : row.index("</td>", start)]
