"""The listings find what the API finds for the same query: the console hands the API each filter
as the address gives it, spaces and all (a search is a substring, its spaces part of it)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from store_factories import new_incoming, new_message

TEXTS = ("hello world", "helloworld", "say no more", "piano")


@pytest.fixture
def texts_sent_and_received(console):
    """acme's messages and received SMS, each of ``TEXTS``, and a browser signed in as acme."""
    acme = console.new_client()
    device, _password = console.store.devices.add(acme.client_id)
    console.store.insert_messages([new_message(acme.client_id, to="+263779990001", body=text) for text in TEXTS])
    for text in TEXTS:
        console.store.record_incoming(new_incoming(acme.client_id, device.device_id, text=text), follow_opt_outs=True)
    browser = console.browser()
    browser.sign_in(acme)
    api = console.app.test_client()
    api.environ_base.update(HTTP_X_CLIENT_ID=acme.client_id, HTTP_X_API_KEY=acme.api_key)
    return browser, api


def _texts_shown(page: str) -> list[str]:
    return sorted(re.findall(r'class="text">([^<]*)<', page))


@pytest.mark.parametrize("search", [" world", "world ", " no", "no ", "  "])
@pytest.mark.parametrize(
    ("console_path", "api_path"), [("/console/messages", "/v1/sms/history"), ("/console/inbox", "/v1/sms/inbox")]
)
def test_a_search_with_spaces_finds_what_the_api_finds(texts_sent_and_received, search, console_path, api_path):
    browser, api = texts_sent_and_received
    query = f"?search={quote(search)}"
    by_api = sorted(item["message"] for item in api.get(api_path + query).get_json()["data"])
    page = browser.text(console_path + query)
    assert _texts_shown(page) == by_api and len(by_api) < len(TEXTS)
    # The search field shows the text searched for, spaces and all.
    assert f'name="search" type="search" value="{search}"' in page


def test_a_number_with_an_unencoded_plus_finds_what_the_api_finds(texts_sent_and_received):
    # Typed in the address bar, "+" arrives as a space, which the API reads as "+".
    browser, api = texts_sent_and_received
    assert len(api.get("/v1/sms/history?to=+263779990001").get_json()["data"]) == len(TEXTS)
    assert _texts_shown(browser.text("/console/messages?to=+263779990001")) == sorted(TEXTS)
