"""The inbox shows what the client's devices received; the webhooks page shows each delivery attempt
with its answer and latency, the last of a delivery given up marked so, and "retry now" makes the
delivery due again."""

from __future__ import annotations

import re
from datetime import timedelta

from credentials import Credentials
from store_factories import new_incoming

from relay_server.store.models import StatusChange
from relay_server.store.webhook_outbox import Delivery, Outcome
from zimsend_common.timefmt import utcnow

HOOK = "https://93.184.216.34/hooks/zimsend"  # a public address: the API takes it; nothing is sent to it


def test_the_inbox_lists_the_clients_received_sms_and_no_one_elses(console):
    acme, globex = console.new_client("acme"), console.new_client("globex")
    device, _password = console.store.devices.add(acme.client_id)
    console.store.record_incoming(
        new_incoming(acme.client_id, device.device_id, text="Ndatenda, I got it"), follow_opt_outs=True
    )
    mine, theirs = console.browser(), console.browser()
    mine.sign_in(acme)
    theirs.sign_in(globex)
    assert "Ndatenda, I got it" in mine.text("/console/inbox")
    assert "Ndatenda, I got it" not in mine.text("/console/inbox?search=nothing-like-it")
    assert "Ndatenda, I got it" not in theirs.text("/console/inbox")


def test_the_inbox_filters_on_its_period_with_the_listings_inputs_and_pages_by_limit(console):
    acme = console.new_client()
    device, _password = console.store.devices.add(acme.client_id)
    now = utcnow()
    for number, days_ago in enumerate((0, 0, 3)):
        console.store.record_incoming(
            new_incoming(
                acme.client_id,
                device.device_id,
                text=f"received {days_ago} days ago, number {number}",
                received_at=now - timedelta(days=days_ago),
            ),
            follow_opt_outs=True,
        )
    browser = console.browser()
    browser.sign_in(acme)
    today = now.date().isoformat()
    page = browser.text(f"/console/inbox?from_date={today}")
    assert page.count("received 0 days ago") == 2 and "received 3 days ago" not in page
    # The inputs the messages listing has for its period, filled with the filter given.
    assert f'name="from_date" value="{today}"' in page and 'name="to_date" value=""' in page
    messages_page = browser.text("/console/messages")
    assert _inputs(page, "from_date", "to_date") == _inputs(messages_page, "from_date", "to_date")
    # limit, as the messages listing honours it, kept from page to page.
    first = browser.text(f"/console/inbox?from_date={today}&limit=1")
    assert first.count("received 0 days ago") == 1 and "Page 1 of 2" in first
    assert "limit=1" in re.search(r'<nav class="pager">.*?</nav>', first, re.DOTALL).group(0)


def _inputs(page: str, *names: str) -> list[str]:
    """The labelled inputs of ``page`` for ``names``, their values left out."""
    return [
        re.sub(r'value="[^"]*"', "", re.search(rf"<label>[^<]*<input name=\"{name}\"[^>]*>", page).group(0))
        for name in names
    ]


def delivery_due(console) -> tuple[Credentials, Delivery]:
    """A new client whose one webhook has one delivery due (a message delivered), claimed as the
    webhook pump claims it for an attempt."""
    acme = console.new_client()
    api = console.app.test_client()
    headers = {"X-Client-ID": acme.client_id, "X-API-Key": acme.api_key}
    configured = api.post("/v1/webhooks/configure", json={"url": HOOK, "events": ["sms.delivered"]}, headers=headers)
    assert configured.status_code == 200
    sent = api.post("/v1/sms/send", json={"to": "+33612345678", "message": "Hi"}, headers=headers).get_json()
    console.store.apply_status_change(StatusChange(message_id=sent["message_id"], status="delivered", at=utcnow()))
    outbox, now = console.store.webhook_outbox, utcnow()
    [delivery] = outbox.due_candidates(now, 10, per_client=10)
    assert outbox.claim_many([delivery.delivery_id], now, timedelta(seconds=30)) == {delivery.delivery_id}
    return acme, delivery


def test_a_failed_attempt_is_listed_and_retried_now(console):
    acme, delivery = delivery_due(console)
    # What the webhook pump does with a delivery the receiver answers 500 to, with no retry left.
    outbox, now = console.store.webhook_outbox, utcnow()
    outbox.finish_attempt(delivery, Outcome(False, 500, 37, "HTTP 500"), now, None)
    assert outbox.due_candidates(utcnow(), 10, per_client=10) == []
    browser = console.browser()
    browser.sign_in(acme)
    page = browser.text("/console/webhooks")
    assert HOOK in page and "37 ms" in page and ">500<" in page
    [log_id] = [
        line.split("/console/webhooks/logs/")[1].split("/")[0]
        for line in page.splitlines()
        if "/console/webhooks/logs/" in line
    ]
    answer = browser.post(f"/console/webhooks/logs/{log_id}/retry", page="/console/webhooks")
    assert answer.status_code == 302
    assert "Delivery queued again." in browser.text("/console/webhooks")
    assert [due.delivery_id for due in outbox.due_candidates(utcnow(), 10, per_client=10)] == [delivery.delivery_id]


def test_retry_now_goes_back_to_the_page_and_filters_of_the_log_it_was_asked_from(console):
    acme = console.new_client()
    api = console.app.test_client()
    headers = {"X-Client-ID": acme.client_id, "X-API-Key": acme.api_key}
    hooks = [
        api.post("/v1/webhooks/configure", json={"url": f"{HOOK}/{n}", "events": ["sms.delivered"]}, headers=headers)
        for n in range(2)
    ]
    watched = hooks[0].get_json()["webhook_id"]
    for text in ("first", "second"):
        sent = api.post("/v1/sms/send", json={"to": "+33612345678", "message": text}, headers=headers).get_json()
        console.store.apply_status_change(StatusChange(message_id=sent["message_id"], status="delivered", at=utcnow()))
    outbox, now = console.store.webhook_outbox, utcnow()
    for delivery in outbox.due_candidates(
        now, 10, per_client=10
    ):  # two per webhook, each answered 500 with no retry left
        assert outbox.claim_many([delivery.delivery_id], now, timedelta(seconds=30)) == {delivery.delivery_id}
        outbox.finish_attempt(delivery, Outcome(False, 500, 37, "HTTP 500"), now, None)
    browser = console.browser()
    browser.sign_in(acme)
    shown = f"/console/webhooks?webhook_id={watched}&page=2&limit=1"
    page = browser.text(shown)
    assert "Page 2 of 2" in page and f"{HOOK}/1" not in page.split("<h2>")[-1]
    [log_id] = re.findall(r"/console/webhooks/logs/(whlog_[0-9a-f]+)/retry", page)

    answer = browser.post(f"/console/webhooks/logs/{log_id}/retry", {"next": shown}, page=shown)

    assert answer.status_code == 302 and answer.headers["Location"] == shown
    assert "Delivery queued again." in browser.text(shown)
    # The form's own next is the page's address, and an address of any other page is not followed.
    assert f'name="next" value="{shown.replace("&", "&amp;")}"' in page
    for elsewhere in ("https://evil.example/", "/console/messages", "/console/webhooks/../../v1/webhooks/logs"):
        answer = browser.post(f"/console/webhooks/logs/{log_id}/retry", {"next": elsewhere}, page=shown)
        assert answer.headers["Location"] == "/console/webhooks", elsewhere


def test_the_last_attempt_of_a_delivery_given_up_is_marked_so_until_it_is_retried(console):
    acme, delivery = delivery_due(console)
    # What the webhook pump does with a delivery answered 500 twice: retried once, then given up.
    outbox, now = console.store.webhook_outbox, utcnow()
    outbox.finish_attempt(delivery, Outcome(False, 500, 37, "HTTP 500"), now, now)
    [again] = outbox.due_candidates(utcnow(), 10, per_client=10)
    assert outbox.claim_many([again.delivery_id], utcnow(), timedelta(seconds=30)) == {again.delivery_id}
    last = outbox.finish_attempt(again, Outcome(False, 500, 41, "HTTP 500"), utcnow(), None)
    browser = console.browser()
    browser.sign_in(acme)
    rows = browser.text("/console/webhooks").split("<tr>")
    assert [row for row in rows if "given up" in row] == [next(row for row in rows if last in row)]
    assert "41 ms" in next(row for row in rows if "given up" in row)
    browser.post(f"/console/webhooks/logs/{last}/retry", page="/console/webhooks")
    assert "given up" not in browser.text("/console/webhooks")
