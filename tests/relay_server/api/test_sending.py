"""POST /v1/sms/send over HTTP: the answer, what is stored, and every refusal."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import requests
from openapi_check import conforms

from relay_server.dispatch.dispatcher import DeviceOffline, NoDeviceAvailable, StoreOnlyDispatcher
from relay_server.store.models import HistoryQuery

STATUS_FIELDS = {
    "success",
    "message_id",
    "status",
    "to",
    "message",
    "priority",
    "created_at",
    "queued_at",
    "sent_at",
    "delivered_at",
    "metadata",
    "priority_level",
    "scheduled_at",
    "failed_at",
    "cancelled_at",
    "device_id",
    "segments",
    "encoding",
    "batch_id",
    "error",
    "resent_from",
    "valid_until",
}
PUBLIC_HOOK = "https://93.184.216.34/hooks/sms"


def send(relay, creds, body, **headers):
    return conforms(requests.post(relay.url("/sms/send"), json=body, headers={**creds.headers, **headers}, timeout=10))


def parse_z(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def stored_count(relay, creds) -> int:
    caller = relay.store.clients.authenticate(creds.client_id, creds.api_key)
    return relay.store.history(caller, HistoryQuery()).total


def test_send_queues_the_message_and_answers_with_every_status_field(relay, acme):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    body = {
        "to": "+33 6 12-34-56-78",
        "message": "Bonjour Jean, votre commande est expédiée",
        "priority": "high",
        "metadata": {"order_id": "order_12345"},
        "webhook_url": PUBLIC_HOOK,
        "retry_attempts": 3,  # vendor extra, ignored
    }
    response = send(relay, acme, body)
    after = datetime.now(timezone.utc) + timedelta(seconds=1)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == STATUS_FIELDS | {"estimated_delivery"}
    assert answer["success"] is True
    assert re.fullmatch(r"msg_[0-9a-f]{16}", answer["message_id"])
    assert answer["status"] == "queued"
    assert answer["to"] == "+33612345678"
    assert answer["message"] == body["message"]
    assert (answer["priority"], answer["priority_level"]) == ("high", 2)
    assert answer["metadata"] == {"order_id": "order_12345"}
    assert before <= parse_z(answer["created_at"]) <= after
    assert before <= parse_z(answer["queued_at"]) <= after
    assert (answer["segments"], answer["encoding"]) == (1, "GSM-7")
    for unreached in ("sent_at", "delivered_at", "failed_at", "cancelled_at", "scheduled_at"):
        assert answer[unreached] is None
    for absent in ("device_id", "batch_id", "error", "resent_from", "valid_until"):
        assert answer[absent] is None
    # The relay's default dispatcher does not estimate.
    assert answer["estimated_delivery"] is None

    caller = relay.store.clients.authenticate(acme.client_id, acme.api_key)
    stored = relay.store.get_message(caller, answer["message_id"])
    assert stored.status == "queued"
    assert (stored.to, stored.body, stored.priority) == ("+33612345678", body["message"], 2)
    assert stored.webhook_url == PUBLIC_HOOK
    assert stored.metadata == {"order_id": "order_12345"}


@pytest.mark.parametrize(
    ("text", "segments", "encoding"),
    [("a" * 160, 1, "GSM-7"), ("a" * 161, 2, "GSM-7"), ("Привет", 1, "UCS-2"), ("€" * 1600, 22, "GSM-7")],
)
def test_send_counts_the_sms_parts_of_the_text(relay, acme, text, segments, encoding):
    answer = send(relay, acme, {"to": "+33612345678", "message": text}).json()
    assert (answer["segments"], answer["encoding"]) == (segments, encoding)
    assert answer["message"] == text


TURKISH_77 = "ĞŞİğşı" * 12 + "ĞŞİğş"  # Android's GsmSmsTest, testFragmentTurkishText


@pytest.mark.parametrize(
    ("languages", "text", "segments", "encoding"),
    [
        ((), TURKISH_77, 2, "UCS-2"),
        (("tr",), TURKISH_77, 1, "GSM7tr"),
        (("tr", "es"), "Información útil", 1, "GSM7es"),
        (("tr",), "plain text", 1, "GSM-7"),
    ],
)
def test_send_counts_parts_with_the_national_tables_the_operator_enables(
    make_relay, languages, text, segments, encoding
):
    relay = make_relay(sms_languages=languages)
    answer = send(relay, relay.new_client("acme"), {"to": "+33612345678", "message": text}).json()
    assert (answer["segments"], answer["encoding"]) == (segments, encoding)
    assert answer["message"] == text


@pytest.mark.parametrize(
    ("given", "word", "level"),
    [
        (None, "normal", 3),
        (1, "urgent", 1),
        (2, "high", 2),
        (3, "normal", 3),
        (4, "low", 4),
        (5, "bulk", 5),
        ("high", "high", 2),
        ("Normal", "normal", 3),
        ("low", "low", 4),
        ("urgent", "urgent", 1),
        ("bulk", "bulk", 5),
    ],
)
def test_send_takes_priority_as_a_level_or_a_word_and_shows_both(relay, acme, given, word, level):
    body = {"to": "+33612345678", "message": "Hi"}
    if given is not None:
        body["priority"] = given
    answer = send(relay, acme, body).json()
    assert (answer["priority"], answer["priority_level"]) == (word, level)


def test_send_through_a_given_device_names_it_in_the_answer(relay, acme):
    device_id = relay.new_device(acme.client_id)
    answer = send(relay, acme, {"to": "+33612345678", "message": "Hi"}, **{"X-Device-ID": device_id}).json()
    assert answer["device_id"] == device_id


def test_send_scheduled_with_an_offset_answers_the_time_in_utc(relay, acme):
    at = (datetime.now(timezone(timedelta(hours=2))) + timedelta(hours=3)).replace(microsecond=0)
    answer = send(relay, acme, {"to": "+33612345678", "message": "Later", "scheduled_at": at.isoformat()}).json()
    assert answer["status"] == "queued"
    assert parse_z(answer["scheduled_at"]) == at


def test_send_reads_a_scheduled_time_without_zone_as_utc(relay, acme):
    at = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)
    naive = at.replace(tzinfo=None).isoformat()
    answer = send(relay, acme, {"to": "+33612345678", "message": "Later", "scheduled_at": naive}).json()
    assert answer["scheduled_at"] == naive + "Z"


def test_send_keeps_a_validity_deadline(relay, acme):
    until = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(microsecond=0)
    body = {"to": "+33612345678", "message": "Hi", "valid_until": until.isoformat()}
    assert parse_z(send(relay, acme, body).json()["valid_until"]) == until


def test_send_accepts_the_limits_themselves(relay, acme):
    metadata = {"k": "v" * (1024 - len('{"k":""}'))}
    body = {"to": "+33612345678", "message": "x" * 1600, "metadata": metadata}
    response = send(relay, acme, body)
    assert response.status_code == 202, response.text
    assert response.json()["metadata"] == metadata


def now_plus(**delta) -> str:
    return (datetime.now(timezone.utc) + timedelta(**delta)).isoformat()


REFUSALS = {
    "to": (
        "INVALID_PHONE_NUMBER",
        [None, "", "0612345678", "33612345678", "+33abc45678", "+3361234", 33612345678, ["+33612345678"]],
    ),
    "message": ("INVALID_PARAMETER", [None, "", 42, ["Hi"], "nul \x00 inside", "lone \ud800 surrogate"]),
    "priority": ("INVALID_PRIORITY", [0, 6, -1, True, 2.0, "7", "2", "highest", [], {}]),
    "metadata": ("INVALID_PARAMETER", ["text", [1, 2], 3, {"k": "v" * 1024}]),
    "scheduled_at": (
        "INVALID_SCHEDULED_DATE",
        [now_plus(minutes=-5), now_plus(days=31), "tomorrow", "2025-13-45T10:00:00Z", 1760000000],
    ),
    "valid_until": ("INVALID_PARAMETER", [now_plus(minutes=-5), "soon", 12]),
    "webhook_url": (
        "INVALID_WEBHOOK_URL",
        [
            "http://93.184.216.34/hook",
            "ftp://93.184.216.34/hook",
            "https://127.0.0.1/hook",
            "https://10.0.0.5/hook",
            "https://192.168.1.10/hook",
            "https://169.254.169.254/latest",
            "https://[::1]/hook",
            "https://localhost/hook",
            "https:///hook",
            "not a url",
            "https://93.184.216.34:99999/",
            42,
        ],
    ),
}


@pytest.mark.parametrize("param", sorted(REFUSALS))
def test_each_bad_value_is_refused_with_its_code_naming_the_parameter_and_stores_nothing(relay, acme, param):
    code, values = REFUSALS[param]
    for value in values:
        body = {"to": "+33612345678", "message": "Hi", param: value}
        if value is None:
            del body[param]
        response = send(relay, acme, body)
        assert response.status_code == 400, (param, value, response.text)
        assert response.json()["success"] is False
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (code, param), (param, value, error)
        assert error["message"]
    assert stored_count(relay, acme) == 0


def test_a_refused_priority_names_every_word_a_priority_may_be_given_as(relay, acme):
    error = send(relay, acme, {"to": "+33612345678", "message": "Hi", "priority": "highest"}).json()["error"]
    assert error["code"] == "INVALID_PRIORITY"
    assert re.findall(r"'(\w+)'", error["message"]) == ["urgent", "high", "normal", "low", "bulk"]


def test_a_message_over_1600_characters_is_refused_as_too_long(relay, acme):
    response = send(relay, acme, {"to": "+33612345678", "message": "x" * 1601})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MESSAGE_TOO_LONG"
    assert stored_count(relay, acme) == 0


def test_a_scheduled_time_after_valid_until_is_refused(relay, acme):
    body = {"to": "+33612345678", "message": "Hi", "scheduled_at": now_plus(hours=2), "valid_until": now_plus(hours=1)}
    response = send(relay, acme, body)
    assert response.json()["error"]["param"] == "valid_until"


def test_webhook_urls_on_http_and_private_hosts_pass_where_the_operator_allows_them(make_relay):
    relay = make_relay(webhook_allow_http=True, webhook_allow_private_hosts=True)
    acme = relay.new_client()
    for url in ("http://127.0.0.1:8080/hook", "https://localhost/hook"):
        response = send(relay, acme, {"to": "+33612345678", "message": "Hi", "webhook_url": url})
        assert response.status_code == 202, (url, response.text)


class DevicesOffline(StoreOnlyDispatcher):
    """Every device of every client is offline."""

    def choose_device(self, caller, device_id, *, scheduled, to=()):
        if scheduled:
            return device_id
        if device_id is not None:
            raise DeviceOffline(device_id)
        raise NoDeviceAvailable(caller.client_id)


def test_a_send_through_an_offline_device_is_refused_and_not_stored(make_relay):
    relay = make_relay(dispatcher=DevicesOffline())
    acme = relay.new_client()
    device_id = relay.new_device(acme.client_id)
    response = send(relay, acme, {"to": "+33612345678", "message": "Hi"}, **{"X-Device-ID": device_id})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "DEVICE_OFFLINE"
    assert stored_count(relay, acme) == 0


def test_a_send_with_no_device_online_is_refused_and_not_stored(make_relay):
    relay = make_relay(dispatcher=DevicesOffline())
    acme = relay.new_client()
    response = send(relay, acme, {"to": "+33612345678", "message": "Hi"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "NO_DEVICE_AVAILABLE"
    assert stored_count(relay, acme) == 0


def test_a_scheduled_send_is_accepted_while_devices_are_offline(make_relay):
    relay = make_relay(dispatcher=DevicesOffline())
    acme = relay.new_client()
    response = send(relay, acme, {"to": "+33612345678", "message": "Hi", "scheduled_at": now_plus(hours=1)})
    assert response.status_code == 202, response.text
    assert stored_count(relay, acme) == 1
