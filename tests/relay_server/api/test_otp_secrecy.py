"""An OTP's code leaves the relay in the send job and nowhere else.

Not in an answer of any route, not in a log line at DEBUG (extra fields
included), not in any row of any table, not in history's text or its search;
and not in Redis once its SMS no longer waits there.
"""

from __future__ import annotations

import logging
import re

import pytest
import requests
from otp_parts import rq_relay
from redis_contents import keys_holding
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
    caller = relay.store.clients.authenticate(acme.client_id, acme.api_key)
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


def waiting_otp(relay, creds, **body) -> tuple[dict, bytes]:
    """Send an OTP whose SMS waits in Redis; its answer, and its text with the code as
    Redis would hold it (marked off from digits Redis holds anyway, such as times)."""
    relay.redis.set(wire.redis_epoch_key(), "0")  # a worker has long known this Redis
    response = requests.post(
        relay.url("/sms/send-otp"),
        json={"to": "+33612345678", "template": "Code ZZ{{code}}ZZ", **body},
        headers=creds.headers,
        timeout=10,
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    job = bus.fetch(wire.send_job_id(creds.client_id, answer["message_id"]), relay.redis)
    [marked] = re.findall(r"ZZ[0-9]{6}ZZ", wire.SendJob.from_dict(job.args[0]).text)
    assert keys_holding(relay.redis, marked.encode())  # in its send job, while it waits: the device needs it
    return answer, marked.encode()


def test_a_cancelled_otp_sms_leaves_its_code_nowhere_in_redis(relay, acme):
    answer, marked = waiting_otp(relay, acme)

    cancelled = requests.delete(relay.url(f"/sms/{answer['message_id']}"), headers=acme.headers, timeout=10)

    assert cancelled.status_code == 200, cancelled.text
    assert keys_holding(relay.redis, marked) == []


def test_a_replaced_otps_withdrawn_sms_leaves_its_code_nowhere_in_redis(relay, acme):
    old, marked = waiting_otp(relay, acme)

    waiting_otp(relay, acme)

    assert relay.store.get_message_by_id(old["message_id"]).status == "cancelled"
    assert keys_holding(relay.redis, marked) == []
