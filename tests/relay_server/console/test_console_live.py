"""The live stream sends each watched message's status, then its changes, and ends once all are final."""

from __future__ import annotations

import json

from query_plans import statements_run
from store_factories import new_message

from relay_server.store.models import Message, StatusChange
from zimsend_common.timefmt import utcnow


def _events(answer) -> list[tuple[str, dict]]:
    events = []
    for block in answer.get_data(as_text=True).split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def _queued(console, client_id: str, bodies: list[str]) -> list[Message]:
    """A live message of the client's for each of ``bodies``, stored queued."""
    return console.store.insert_messages([new_message(client_id, body=body) for body in bodies])


def test_the_stream_reports_each_status_in_the_pages_language_and_ends_when_all_are_final(console):
    acme = console.new_client()
    stored = _queued(console, acme.client_id, ["one", "two"])
    for message in stored:
        console.store.apply_status_change(StatusChange(message.message_id, "cancelled", utcnow()))
    browser = console.browser()
    browser.sign_in(acme)
    ids = ",".join(message.message_id for message in stored)
    answer = browser.client.get(f"/console/live?ids={ids},msg_not_a_real_one", headers={"Accept-Language": "fr"})
    events = _events(answer)  # the whole body: the stream ended by itself
    assert events == [
        ("status", {"message_id": stored[0].message_id, "status": "cancelled", "label": "annulé"}),
        ("status", {"message_id": stored[1].message_id, "status": "cancelled", "label": "annulé"}),
        ("done", {}),
    ]
    assert answer.headers["Cache-Control"] == "no-cache"


def test_a_page_watching_many_messages_reads_them_all_in_one_query_a_second(console):
    acme = console.new_client()
    stored = _queued(console, acme.client_id, [f"message {n}" for n in range(20)])
    browser = console.browser()
    browser.sign_in(acme)
    ids = ",".join(message.message_id for message in stored)
    blocks: list[bytes] = []

    def first_round() -> None:
        answer = browser.client.get(f"/console/live?ids={ids}", buffered=False)
        chunks = iter(answer.response)
        blocks.extend(next(chunks) for _ in range(1 + len(stored)))  # ":connected", then each status
        answer.close()

    reads = statements_run(console.store.engine, first_round, "FROM messages")

    assert sum(block.startswith(b"event: status") for block in blocks) == len(stored)
    assert len(reads) == 1
