"""An OTP's code leaves the relay in the send job and nowhere else.

Not in an answer of any route, not in a log line at DEBUG (extra fields
included), not in any row of any table, not in history's text or its search.
"""

from __future__ import annotations

import logging
import re

import pytest
import requests
from otp_parts import rq_relay
from store_rows import every_row

from relay_server.store.models import HistoryQuery
from zimsend_common import bus, wire
from zimsend_common.logs import JsonFormatter


@pytest.fixture
def relay(make_relay):
    return rq_relay(make_relay)


def test_the_code_is_in_the_send_job_and_in_no_answer_log_or_row(relay, acme, caplog):
    caplog.set_level(logging.DEBUG)
    answers: list[requests.Response] = []

    def call(method: str, path: str, headers: dict[str, str] | None = None, **kwargs) -> requests.Response:
        headers = {**acme.headers, **(headers or {})}
        response = requests.request(method, relay.url(path), headers=headers, timeout=10, **kwargs)
        answers.append(response)
        return response

    sent = call(
        "POST",
        "/sms/send-otp",
        json={"to": "+33612345678", "length": 8, "template": "Code {{code}} pour {code}"},
        headers={"Idempotency-Key": "signup-1"},
    ).json()
    client_id = relay.store.get_message_by_id(sent["message_id"]).client_id
    job = wire.SendJob.from_dict(bus.fetch(wire.send_job_id(client_id, sent["message_id"]), relay.redis).args[0])
    [code] = set(re.findall(r"[0-9]{8}", job.text))
    assert job.text == f"Code {code} pour {code}"

    call("POST", "/sms/verify-otp", json={"otp_id": sent["otp_id"], "code": code[::-1]})
    call("POST", "/sms/verify-otp", json={"otp_id": sent["otp_id"], "code": code})
    status = call("GET", f"/sms/status/{sent['message_id']}").json()
    history = call("GET", "/sms/history").json()
    call("GET", "/sms/stats")

    assert status["message"] == "Code ******** pour ********"
    assert [item["message"] for item in history["data"]] == ["Code ******** pour ********"]
    caller = relay.store.authenticate(acme.client_id, acme.api_key)
    assert relay.store.history(caller, HistoryQuery(search=code)).total == 0  # not over HTTP: URLs are logged
    assert all(answer.status_code < 300 for answer in answers)
    for answer in answers:
        assert code not in answer.text, answer.request.url
    formatter = JsonFormatter()
    assert caplog.records, "the relay logged nothing at DEBUG: the check would prove nothing"
    for record in caplog.records:
        assert code not in formatter.format(record)
    rows = every_row(relay.store.engine)
    assert sent["otp_id"] in rows and sent["message_id"] in rows
    assert code not in rows
