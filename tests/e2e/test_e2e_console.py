"""The web console in a real browser (Debian's chromium, driven by Playwright) on a running gateway:
relay, worker and an agent on an emulated modem.

A screenshot of every page, at desktop and phone widths, is kept under
``artifacts/console/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from credentials import Credentials
from e2e_gateway import Agent, Gateway, running_gateway
from playwright.sync_api import sync_playwright
from pytest_redis import factories

from zimsend_common.timefmt import isoformat_z, utcnow

pytestmark = pytest.mark.slow  # relay, worker, agent and a browser as processes

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "console"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 30_000


# A redis-server of this module's own: the other tests flush theirs while this module's gateway runs.
console_redis = factories.redis_proc(port=None)


@pytest.fixture(scope="module")
def console_gateway(tmp_path_factory: pytest.TempPathFactory, console_redis: Any) -> Iterator[Gateway]:
    """One gateway for the module's tests, each of which makes its own client."""
    workdir = tmp_path_factory.mktemp("console")
    client = redis.Redis(host=console_redis.host, port=console_redis.port)
    url = f"redis://{console_redis.host}:{console_redis.port}/0"
    with running_gateway(workdir, f"sqlite:///{workdir / 'zimsend.sqlite3'}", url, client) as gateway:
        yield gateway
    client.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    yield page
    context.close()


def console_url(gateway: Gateway, path: str) -> str:
    return gateway.base_url.removesuffix("/v1") + "/console" + path


def sign_in(page: Any, gateway: Gateway, account: Credentials) -> None:
    page.goto(console_url(gateway, "/signin"))
    page.fill("input[name=client_id]", account.client_id)
    page.fill("input[name=api_key]", account.api_key)
    page.click("form button[type=submit]")
    page.wait_for_url("**/console/devices")


def row(page: Any, message_id: str) -> Any:
    return page.locator(f"tr[data-message-id='{message_id}']")


def shoot(page: Any, name: str) -> None:
    """Screenshots of the page as it is, at desktop then phone width."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_a_message_sent_from_the_form_goes_from_queued_to_delivered_without_reloading(console_gateway, page):
    account = console_gateway.new_account("form")
    agent = console_gateway.new_agent(account)
    sign_in(page, console_gateway, account)
    page.goto(console_url(console_gateway, "/send"))
    page.fill("input[name=to]", "+263771234567")
    page.fill("textarea[name=message]", "Mhoro from the console")
    page.wait_for_function("document.getElementById('text-count').dataset.segments === '1'")
    assert "GSM-7" in page.inner_text("#text-count")
    page.click("#send-form button[type=submit]")
    page.wait_for_url("**/console/messages")
    page.evaluate("window.notReloaded = true")
    [message_id] = page.locator("tr[data-message-id]").evaluate_all("rows => rows.map(r => r.dataset.messageId)")
    row(page, message_id).locator("[data-status].delivered").wait_for()
    assert page.evaluate("window.notReloaded") is True
    assert agent.texts_sent() == ["Mhoro from the console"]
    page.click(f"tr[data-message-id='{message_id}'] button:has-text('Timeline')")
    page.locator(f"[data-timeline='{message_id}']").wait_for()
    timeline = page.inner_text(f"#timeline-{message_id}")
    assert "delivered" in timeline and agent.device_id in timeline


def test_the_live_count_follows_a_long_text_in_another_script(console_gateway, page):
    # Percent-encoded in a GET's URL, 700 Cyrillic letters passed gunicorn's 4094-byte request line:
    # the count failed unseen and went on showing the count of the text before.
    account = console_gateway.new_account("count")
    sign_in(page, console_gateway, account)
    page.goto(console_url(console_gateway, "/send"))
    for length, segments in ((300, 5), (700, 11), (1600, 24)):  # 1600: the longest text the API takes
        page.fill("textarea[name=message]", "д" * length)
        page.wait_for_function(f"document.getElementById('text-count').dataset.segments === '{segments}'")
        assert page.inner_text("#text-count") == f"{length} · {segments} SMS · UCS-2"


def test_the_history_is_filtered_and_a_scheduled_message_cancelled(console_gateway, page):
    account = console_gateway.new_account("filters")
    later = isoformat_z(utcnow() + timedelta(hours=2))
    kept = console_gateway.queue(account, to="+263771234567", message="invoice 42", scheduled_at=later)
    other = console_gateway.queue(account, to="+263771234568", message="hello there", scheduled_at=later)
    sign_in(page, console_gateway, account)
    page.goto(console_url(console_gateway, "/messages"))
    page.fill("input[name=search]", "invoice")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**search=invoice**")
    assert page.locator("tr[data-message-id]").count() == 1
    assert row(page, other).count() == 0
    row(page, kept).locator("button:has-text('Cancel')").click()
    row(page, kept).locator("[data-status].cancelled").wait_for()
    assert console_gateway.status(account, kept)["status"] == "cancelled"
    assert console_gateway.status(account, other)["status"] == "queued"


def test_signing_in_again_returns_to_the_filtered_page_and_a_timeline_opens_as_a_page(console_gateway, page):
    account = console_gateway.new_account("return")
    later = isoformat_z(utcnow() + timedelta(hours=2))
    message_id = console_gateway.queue(account, to="+263771234567", message="see you later", scheduled_at=later)
    sign_in(page, console_gateway, account)
    filtered = console_url(console_gateway, "/messages?status=queued&search=+later")
    page.goto(filtered)
    # The session ends in another tab; the timeline htmx then asks for sends the tab to sign in.
    other = page.context.new_page()
    other.goto(console_url(console_gateway, "/devices"))
    other.click("#signout")
    other.wait_for_url("**/console/signin")
    other.close()
    row(page, message_id).locator("button:has-text('Timeline')").click()
    page.wait_for_url("**/console/signin")
    page.fill("input[name=client_id]", account.client_id)
    page.fill("input[name=api_key]", account.api_key)
    page.click("form button[type=submit]")
    page.wait_for_url(filtered)
    assert page.input_value("input[name=search]") == " later"
    assert row(page, message_id).count() == 1
    # The timeline's own address, opened as a page: the console around it.
    page.goto(console_url(console_gateway, f"/messages/{message_id}"))
    page.locator(f"[data-timeline='{message_id}']").wait_for()
    assert page.locator("#signout").count() == 1 and "see you later" in page.inner_text("main")


def test_a_device_goes_offline_on_the_page_when_its_agent_stops(console_gateway, page):
    account = console_gateway.new_account("offline")
    agent: Agent = console_gateway.new_agent(account)
    sign_in(page, console_gateway, account)
    device_row = page.locator(f"tr[data-device-id='{agent.device_id}']")
    device_row.locator("[data-online=true]").wait_for()
    page.evaluate("window.notReloaded = true")
    agent.process.terminate()
    agent.process.wait(timeout=30)
    device_row.locator("[data-online=false]").wait_for()
    assert page.evaluate("window.notReloaded") is True


def test_a_second_client_sees_none_of_the_firsts_data_and_signing_out_ends_the_session(console_gateway, chromium):
    first, second = console_gateway.new_account("first"), console_gateway.new_account("second")
    device, _password = console_gateway.store.devices.add(first.client_id, "first-modem")
    later = isoformat_z(utcnow() + timedelta(hours=2))
    message_id = console_gateway.queue(first, to="+263771234567", message="first's secret", scheduled_at=later)
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    sign_in(page, console_gateway, second)
    for path in ("/devices", "/messages", "/send", "/charts"):
        page.goto(console_url(console_gateway, path))
        content = page.content()
        assert message_id not in content and "first's secret" not in content and device.device_id not in content
    page.click("#signout")
    page.wait_for_url("**/console/signin")
    page.goto(console_url(console_gateway, "/messages"))
    assert page.url.endswith("/console/signin")
    context.close()


def test_every_page_has_a_screenshot_at_desktop_and_phone_widths(console_gateway, page):
    account = console_gateway.new_account("screens")
    agent = console_gateway.new_agent(account)
    delivered = console_gateway.queue(account, to="+263771234567", message="Bonjour, votre commande est prête")
    console_gateway.queue(
        account,
        to="+263771234568",
        message="Rappel : rendez-vous demain à 9 h",
        scheduled_at=isoformat_z(utcnow() + timedelta(hours=5)),
    )
    console_gateway.wait_for_status(account, delivered, "delivered")
    sign_in(page, console_gateway, account)
    shots = {
        "devices": "/devices",
        "device": f"/devices/{agent.device_id}",
        "messages": "/messages",
        "send": "/send",
        "inbox": "/inbox",
        "webhooks": "/webhooks",
        "charts": "/charts",
    }
    for name, path in shots.items():
        page.goto(console_url(console_gateway, path))
        shoot(page, name)
    page.goto(console_url(console_gateway, "/messages"))
    page.click(f"tr[data-message-id='{delivered}'] button:has-text('Timeline')")
    page.locator(f"[data-timeline='{delivered}']").wait_for()
    shoot(page, "timeline")
    page.click("button[value=fr]")
    page.wait_for_selector("html[lang=fr]")
    shoot(page, "messages-fr")
    page.click("#signout")
    page.wait_for_url("**/console/signin")
    shoot(page, "signin")
    password = console_gateway.store.operators.add("ops-screens")
    page.goto(console_url(console_gateway, "/operator/signin"))
    page.fill("input[name=name]", "ops-screens")
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/console/operator")
    assert account.client_id in page.content()
    shoot(page, "operator")
    assert len(list(ARTIFACTS.glob("*.png"))) >= 2 * (len(shots) + 4)
