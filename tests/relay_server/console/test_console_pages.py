"""The pages in French and English, and the rate limit the API applies."""

from __future__ import annotations

import re
from pathlib import Path

from waiting import start_of_a_rate_window

from relay_server.console import failures, french
from relay_server.dispatch.dispatcher import StoreOnlyDispatcher

TEMPLATES = Path(__file__).parents[3] / "relay_server" / "console" / "templates"


def test_every_text_of_the_templates_and_pages_has_its_french():
    texts = set(failures._HTTP_TEXTS.values())
    for template in TEMPLATES.glob("*.html"):
        texts |= set(re.findall(r'_\("([^"]+)"', template.read_text()))
    for module in TEMPLATES.parent.glob("*.py"):
        code = module.read_text()
        texts |= set(re.findall(r'translate\("([^"]+)"', code)) | set(re.findall(r'_act\(.*, "([^"]+)"\)', code))
    assert {"Message cancelled.", "Delivery queued again.", "Devices"} <= texts
    assert sorted(texts - set(french.WORDS)) == []


def test_the_browsers_language_picks_the_page_and_the_switch_overrides_it(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    assert "Appareils" in browser.client.get("/console/devices", headers={"Accept-Language": "fr-FR,fr"}).get_data(
        as_text=True
    )
    english = browser.client.get("/console/devices", headers={"Accept-Language": "en-GB,en"}).get_data(as_text=True)
    assert "Devices" in english and "Appareils" not in english
    answer = browser.post("/console/language", {"language": "fr", "next": "/console/messages"})
    assert answer.headers["Location"].endswith("/console/messages")
    chosen = browser.client.get("/console/devices", headers={"Accept-Language": "en-GB,en"}).get_data(as_text=True)
    assert "Appareils" in chosen


def test_the_language_switch_goes_back_only_to_a_console_page(console):
    browser = console.browser()
    answer = browser.post(
        "/console/language", {"language": "en", "next": "https://elsewhere.example/"}, page="/console/signin"
    )
    assert answer.headers["Location"].endswith("/console/devices")


def test_the_language_switch_goes_back_to_a_page_a_browser_can_open_again(console):
    browser = console.browser()
    browser.sign_in(console.new_client())
    for shown, back in (
        ("/console/messages?status=failed", "/console/messages?status=failed"),
        # The CSV upload's result answers a POST only: the send page, where it was made.
        ("/console/send/bulk", "/console/send"),
        ("/console/no-such-page", "/console/devices"),
        # An address no page has: refused whole, as every address the console goes back to.
        ("/console/messages?status=failed\r\nSet-Cookie: a=b", "/console/messages"),
        ("/console/messages/../devices", "/console/messages"),
    ):
        answer = browser.post("/console/language", {"language": "en", "next": shown})
        assert answer.headers["Location"].endswith(back), shown
        assert browser.client.get(answer.headers["Location"]).status_code == 200, shown


def test_console_pages_count_against_the_clients_rate_limit(make_console):
    start_of_a_rate_window()
    console = make_console(rate_limit_per_minute=3)
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    answers = [browser.client.get("/console/devices") for _ in range(4)]
    assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
    assert answers[3].status_code == 429 and "Retry-After" in answers[3].headers
    assert "RATE_LIMIT_EXCEEDED" in answers[3].get_data(as_text=True)
    assert answers[0].headers["X-RateLimit-Limit"] == "3"


def test_a_filter_the_api_refuses_shows_its_error_over_an_empty_list(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    for path in ("/console/messages?status=lost", "/console/inbox?from_date=yesterday", "/console/webhooks?page=0"):
        answer = browser.client.get(path)
        assert answer.status_code == 400, path
        assert "INVALID_PARAMETER" in answer.get_data(as_text=True), path
    assert browser.client.get("/console/messages?status=&to=&search=").status_code == 200  # empty fields: no filter


def _error_page(answer, status: int) -> str:
    assert answer.status_code == status and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert '<html lang="en">' in page and '"success"' not in page
    return page


def test_an_address_no_console_page_has_answers_the_consoles_error_page(console):
    browser = console.browser()
    browser.sign_in(console.new_client())
    assert "There is no such page." in _error_page(browser.client.get("/console/no-such-page"), 404)
    # The CSV upload's address takes a POST only, as signing out does.
    for path in ("/console/send/bulk", "/console/signout"):
        answer = browser.client.get(path)
        assert "This page does not take this method." in _error_page(answer, 405)
        assert "POST" in answer.headers["Allow"]
    # The API keeps its JSON.
    assert browser.client.get("/v1/no-such-route").get_json()["error"]["code"] == "NOT_FOUND"


class BrokenDispatcher(StoreOnlyDispatcher):
    """A dispatcher with a bug: it fails where it should choose a device."""

    def choose_device(self, caller, device_id, *, scheduled, to=()):
        raise RuntimeError("internal detail that must not leak")


def test_a_page_that_fails_unexpectedly_answers_the_consoles_error_page(make_console):
    console = make_console(dispatcher=BrokenDispatcher())
    browser = console.browser()
    browser.sign_in(console.new_client())
    answer = browser.post("/console/send", {"to": "+263771234567", "message": "Mhoro"}, page="/console/send")
    page = _error_page(answer, 500)
    assert "INTERNAL_ERROR" in page and "internal detail" not in page
