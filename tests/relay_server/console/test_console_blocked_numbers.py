"""The blocked numbers page shows the client's list, adds a number as the API does, refuses a bad one
with the API's error, and takes a number off again."""

from __future__ import annotations

from store_factories import new_incoming

PAGE = "/console/blocked-numbers"
REPLIED = "+263772000111"


def test_a_number_is_blocked_listed_and_unblocked_from_the_page(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)

    added = browser.post(PAGE, {"number": "+263 77 123 4567", "next": PAGE}, page=PAGE)

    assert added.status_code == 302 and added.headers["Location"] == PAGE
    page = browser.text(PAGE)
    assert "Number blocked." in page and "+263771234567" in page and "added by hand" in page
    assert console.store.blocked_numbers.page(acme.client_id, False, 1, 10)[1] == 1

    removed = browser.post(f"{PAGE}/+263771234567/unblock", {"next": PAGE}, page=PAGE)

    assert removed.status_code == 302
    page = browser.text(PAGE)
    assert "Number unblocked." in page and "No blocked number." in page


def test_a_bad_number_shows_the_apis_error_and_blocks_nothing(console):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)

    browser.post(PAGE, {"number": "12"}, page=PAGE)

    assert "INVALID_PHONE_NUMBER" in browser.text(PAGE)
    assert console.store.blocked_numbers.page(acme.client_id, False, 1, 10)[1] == 0


def test_the_page_shows_a_stop_reply_and_only_the_clients_own_list(console):
    acme, globex = console.new_client("acme"), console.new_client("globex")
    device, _password = console.store.devices.add(acme.client_id)
    console.store.record_incoming(
        new_incoming(acme.client_id, device.device_id, sender=REPLIED, text="STOP"), follow_opt_outs=True
    )
    mine, theirs = console.browser(), console.browser()
    mine.sign_in(acme)
    theirs.sign_in(globex)

    assert REPLIED in mine.text(PAGE) and "replied STOP" in mine.text(PAGE)
    assert REPLIED not in theirs.text(PAGE)
