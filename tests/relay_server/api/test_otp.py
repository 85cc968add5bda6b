"""POST /v1/sms/send-otp and /v1/sms/verify-otp over HTTP, on both databases and a real Redis.

The relay queues on Redis with the RQ dispatcher, as in production; the
code is read back from the send job an agent would take, the only place
outside the SMS itself where it may appear.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import requests
from openapi_check import conforms
from otp_parts import Clock, rq_relay

from relay_server.dispatch.dispatcher import NoDeviceAvailable, StoreOnlyDispatcher
from relay_server.store.models import HistoryQuery, MessageError, StatusChange
from zimsend_common import bus, wire
from zimsend_common.timefmt import isoformat_z, utcnow

DEFAULT_TEXT = "Votre code de vérification est : "
NUMBER = "+33612345678"


class NoDeviceOnline(StoreOnlyDispatcher):
    def choose_device(self, caller, device_id, *, scheduled, to=()):
        raise NoDeviceAvailable(caller.client_id)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def relay(make_relay, clock):
    return rq_relay(make_relay, clock=clock)


def send_otp(relay, creds, body, **headers) -> requests.Response:
    response = requests.post(relay.url("/sms/send-otp"), json=body, headers={**creds.headers, **headers}, timeout=10)
    return conforms(response)


def verify(relay, creds, otp_id, code, **headers) -> requests.Response:
    response = requests.post(
        relay.url("/sms/verify-otp"),
        json={"otp_id": otp_id, "code": code},
        headers={**creds.headers, **headers},
        timeout=10,
    )
    return conforms(response)


def sent_job(relay, message_id: str) -> wire.SendJob:
    """The send job an agent takes for the message."""
    client_id = relay.store.get_message_by_id(message_id).client_id
    return wire.SendJob.from_dict(bus.fetch(wire.send_job_id(client_id, message_id), relay.redis).args[0])


def new_otp(relay, creds, **body) -> tuple[dict, str]:
    """Send an OTP; its answer and the code the SMS carries."""
    response = send_otp(relay, creds, {"to": NUMBER, **body})
    assert response.status_code == 202, response.text
    answer = response.json()
    [code] = re.findall(r"[0-9]{4,8}", sent_job(relay, answer["message_id"]).text)
    return answer, code


def error_of(response: requests.Response, status: int, code: str, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    return error


def stored_messages(relay, creds) -> int:
    caller = relay.store.clients.authenticate(creds.client_id, creds.api_key)
    return relay.store.history(caller, HistoryQuery()).total


def status_of(relay, creds, message_id) -> dict:
    response = requests.get(relay.url(f"/sms/status/{message_id}"), headers=creds.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


# -- sending -------------------------------------------------------------------


def test_send_otp_queues_an_urgent_sms_with_the_code_and_answers_without_it(relay, acme, clock):
    response = send_otp(relay, acme, {"to": "+33 6 12 34 56 78", "metadata": {"user": "u1"}})

    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"success", "otp_id", "to", "expires_at", "message_id", "status"}
    assert re.fullmatch(r"otp_[0-9a-f]{16}", answer["otp_id"])
    assert (answer["success"], answer["to"], answer["status"]) == (True, NUMBER, "queued")
    assert answer["expires_at"] == isoformat_z(clock.now + timedelta(seconds=300))
    job = sent_job(relay, answer["message_id"])
    assert re.fullmatch(re.escape(DEFAULT_TEXT) + r"[0-9]{6}", job.text)
    assert (job.to, job.priority) == (NUMBER, 1)
    assert job.valid_until == answer["expires_at"]
    queue = bus.queue(wire.client_queue(acme.client_id, 1), relay.redis)
    assert queue.job_ids == [wire.send_job_id(acme.client_id, answer["message_id"])]
    status = status_of(relay, acme, answer["message_id"])
    assert status["message"] == DEFAULT_TEXT + "******"
    assert (status["priority"], status["priority_level"], status["metadata"]) == ("urgent", 1, {"user": "u1"})
    assert status["status"] == "queued"


@pytest.mark.parametrize(
    ("template", "length", "sent", "stored"),
    [
        (
            "MonApp : {{code}}. Valide 5 minutes.",
            6,
            "MonApp : {}. Valide 5 minutes.",
            "MonApp : ******. Valide 5 minutes.",
        ),
        ("Code {code}", 4, "Code {}", "Code ****"),
        ("{{ code }} puis {{code}}", 8, "{} puis {}", "******** puis ********"),
        ("Код: {{code}}", 5, "Код: {}", "Код: *****"),
    ],
)
def test_the_template_gets_the_code_where_it_says_and_is_stored_masked(relay, acme, template, length, sent, stored):
    response = send_otp(relay, acme, {"to": NUMBER, "template": template, "length": length})
    assert response.status_code == 202, response.text
    answer = response.json()
    text = sent_job(relay, answer["message_id"]).text
    code = re.search(r"[0-9]+", text).group()
    assert len(code) == length
    assert text == sent.format(code, code)
    assert status_of(relay, acme, answer["message_id"])["message"] == stored


def test_the_operators_default_template_replaces_the_vendors_text(make_relay, clock):
    relay = rq_relay(make_relay, clock=clock, otp_template="Your code is {code}")
    acme = relay.new_client()
    answer, code = new_otp(relay, acme)
    assert sent_job(relay, answer["message_id"]).text == f"Your code is {code}"


def test_optional_fields_sent_as_null_take_their_defaults(relay, acme, clock):
    nulls = dict.fromkeys(("length", "expiry", "template", "metadata", "purpose", "webhook_url"))
    answer, code = new_otp(relay, acme, **nulls)
    assert len(code) == 6
    assert sent_job(relay, answer["message_id"]).text == DEFAULT_TEXT + code
    assert answer["expires_at"] == isoformat_z(clock.now + timedelta(seconds=300))
    assert status_of(relay, acme, answer["message_id"])["metadata"] is None


def test_codes_are_fresh_digits_each_time(relay, acme):
    codes = {new_otp(relay, acme, to=f"+3361234{n:04d}")[1] for n in range(8)}
    assert len(codes) == 8  # 8 six-digit codes: a repeat has odds under 1 in 30,000


def test_an_otp_through_a_given_device_goes_on_that_devices_urgent_queue(relay, acme):
    device_id = relay.new_device(acme.client_id)
    response = send_otp(relay, acme, {"to": NUMBER}, **{"X-Device-ID": device_id})
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    assert bus.queue(wire.device_queue(device_id, 1), relay.redis).job_ids == [
        wire.send_job_id(acme.client_id, message_id)
    ]
    assert status_of(relay, acme, message_id)["device_id"] == device_id


def test_a_device_of_another_client_is_refused_and_nothing_is_stored(relay, acme):
    other = relay.new_client("other")
    device_id = relay.new_device(other.client_id)
    error_of(send_otp(relay, acme, {"to": NUMBER}, **{"X-Device-ID": device_id}), 404, "INVALID_DEVICE_ID")
    assert stored_messages(relay, acme) == 0


def test_with_no_device_online_the_otp_is_refused_and_nothing_is_stored(make_relay):
    relay = make_relay(dispatcher=NoDeviceOnline())
    acme = relay.new_client()
    error_of(send_otp(relay, acme, {"to": NUMBER}), 503, "NO_DEVICE_AVAILABLE")
    assert stored_messages(relay, acme) == 0


def test_a_repeated_idempotency_key_answers_the_same_otp_and_sends_one_sms(relay, acme):
    headers = {"Idempotency-Key": "otp-signup-42"}
    first = send_otp(relay, acme, {"to": NUMBER}, **headers)
    again = send_otp(relay, acme, {"to": NUMBER}, **headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stored_messages(relay, acme) == 1
    assert bus.queue(wire.client_queue(acme.client_id, 1), relay.redis).count == 1


BAD_SENDS = [
    ({"length": 3}, "INVALID_PARAMETER", "length"),
    ({"length": 9}, "INVALID_PARAMETER", "length"),
    ({"length": "6"}, "INVALID_PARAMETER", "length"),
    ({"length": True}, "INVALID_PARAMETER", "length"),
    ({"expiry": 59}, "INVALID_PARAMETER", "expiry"),
    ({"expiry": 1801}, "INVALID_PARAMETER", "expiry"),
    ({"expiry": 300.5}, "INVALID_PARAMETER", "expiry"),
    ({"template": "Votre code arrive"}, "INVALID_PARAMETER", "template"),
    ({"template": "Code {{cod}}"}, "INVALID_PARAMETER", "template"),
    ({"template": ""}, "INVALID_PARAMETER", "template"),
    ({"template": ["{{code}}"]}, "INVALID_PARAMETER", "template"),
    ({"template": "{{code}} " + "x" * 1600}, "MESSAGE_TOO_LONG", "template"),
    ({"template": "{{code}}\x00"}, "INVALID_PARAMETER", "template"),
    ({"purpose": ""}, "INVALID_PARAMETER", "purpose"),
    ({"purpose": "log in"}, "INVALID_PARAMETER", "purpose"),
    ({"purpose": "x" * 41}, "INVALID_PARAMETER", "purpose"),
    ({"metadata": "user"}, "INVALID_PARAMETER", "metadata"),
    ({"to": "12"}, "INVALID_PHONE_NUMBER", "to"),
    ({"to": None}, "INVALID_PHONE_NUMBER", "to"),
    ({"webhook_url": "http://example.com/hook"}, "INVALID_WEBHOOK_URL", "webhook_url"),
]


@pytest.mark.parametrize(("fields", "code", "param"), BAD_SENDS, ids=[str(case[0])[:40] for case in BAD_SENDS])
def test_each_bad_value_is_refused_naming_its_parameter_and_stores_nothing(relay, acme, fields, code, param):
    error_of(send_otp(relay, acme, {"to": NUMBER, **fields}), 400, code, param)
    assert stored_messages(relay, acme) == 0
    assert bus.queue(wire.client_queue(acme.client_id, 1), relay.redis).count == 0


def test_a_body_that_is_not_a_json_object_is_refused(relay, acme):
    response = conforms(
        requests.post(
            relay.url("/sms/send-otp"),
            data=b"[1]",
            headers={**acme.headers, "Content-Type": "application/json"},
            timeout=10,
        )
    )
    error_of(response, 400, "INVALID_JSON")


# -- the hourly limit ------------------------------------------------------------


def test_an_eleventh_otp_within_the_hour_for_one_number_is_refused_until_the_hour_passes(relay, acme, clock):
    for n in range(10):
        new_otp(relay, acme, purpose=f"p{n % 3}")
        clock.advance(minutes=1)
    refused = send_otp(relay, acme, {"to": NUMBER})
    error_of(refused, 429, "OTP_RATE_LIMIT", "to")
    assert refused.headers["Retry-After"] == str(50 * 60)  # when the first of the ten leaves the hour
    assert stored_messages(relay, acme) == 10

    new_otp(relay, acme, to="+33698765432")  # another number
    other = relay.new_client("other")
    new_otp(relay, other)  # another client
    new_otp(relay, relay.test_key(acme.client_id))  # the client's test mode counts apart

    clock.advance(minutes=50)
    new_otp(relay, acme)


# -- verifying -------------------------------------------------------------------


def test_the_right_code_verifies_once_then_the_otp_is_used(relay, acme, clock):
    answer, code = new_otp(relay, acme)
    clock.advance(seconds=42)
    first = verify(relay, acme, answer["otp_id"], code)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "success": True,
        "valid": True,
        "message": first.json()["message"],
        "verified_at": isoformat_z(clock.now),
    }
    error_of(verify(relay, acme, answer["otp_id"], code), 404, "OTP_NOT_FOUND", "otp_id")


def test_wrong_codes_count_down_and_the_third_exhausts_the_otp_even_for_the_right_code(relay, acme):
    answer, code = new_otp(relay, acme)
    wrong = "0000000" if code != "0000000" else "1111111"
    remaining = []
    for _ in range(3):
        response = verify(relay, acme, answer["otp_id"], wrong)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["success"], body["valid"]) == (True, False)
        assert set(body) == {"success", "valid", "message", "attempts_remaining"}
        remaining.append(body["attempts_remaining"])
    assert remaining == [2, 1, 0]
    error_of(verify(relay, acme, answer["otp_id"], code), 429, "OTP_MAX_ATTEMPTS")


def test_an_otp_verifies_until_its_expiry_and_not_from_then_on(relay, acme, clock):
    early, early_code = new_otp(relay, acme, expiry=60, purpose="a")
    late, late_code = new_otp(relay, acme, expiry=60, purpose="b")
    clock.advance(seconds=59)
    assert verify(relay, acme, early["otp_id"], early_code).json()["valid"] is True
    clock.advance(seconds=1)
    error_of(verify(relay, acme, late["otp_id"], late_code), 400, "OTP_EXPIRED")
    error_of(verify(relay, acme, late["otp_id"], "000"), 400, "OTP_EXPIRED")


def test_a_new_otp_replaces_the_pending_one_of_the_same_number_and_purpose_only(relay, acme):
    old, old_code = new_otp(relay, acme)
    login, login_code = new_otp(relay, acme, purpose="login")
    other_number, other_code = new_otp(relay, acme, to="+33698765432")
    new, new_code = new_otp(relay, acme)

    error_of(verify(relay, acme, old["otp_id"], old_code), 404, "OTP_NOT_FOUND")
    for answer, code in ((new, new_code), (login, login_code), (other_number, other_code)):
        assert verify(relay, acme, answer["otp_id"], code).json()["valid"] is True


def test_a_new_otp_withdraws_the_sms_of_the_one_it_replaces_unless_a_device_has_taken_it(relay, acme):
    relay.redis.set(wire.redis_epoch_key(), "0")  # a worker has long known this Redis
    old, _ = new_otp(relay, acme)
    taken, _ = new_otp(relay, acme, purpose="login")
    device_claim = wire.claim_value_device("device_abcdef123456")
    relay.redis.set(wire.claim_key(acme.client_id, taken["message_id"]), device_claim)

    new, new_code = new_otp(relay, acme)
    new_otp(relay, acme, purpose="login")

    # The replaced code would reach the phone only to be refused: its SMS does not leave.
    assert status_of(relay, acme, old["message_id"])["status"] == "cancelled"
    assert not relay.redis.set(wire.claim_key(acme.client_id, old["message_id"]), device_claim, nx=True)
    # One a device already holds is its to send.
    assert status_of(relay, acme, taken["message_id"])["status"] == "queued"
    assert status_of(relay, acme, new["message_id"])["status"] == "queued"
    assert verify(relay, acme, new["otp_id"], new_code).json()["valid"] is True


def test_an_otp_is_found_only_by_its_own_client_and_key_mode(relay, acme):
    answer, code = new_otp(relay, acme)
    other = relay.new_client("other")
    error_of(verify(relay, other, answer["otp_id"], code), 404, "OTP_NOT_FOUND")
    error_of(verify(relay, relay.test_key(acme.client_id), answer["otp_id"], code), 404, "OTP_NOT_FOUND")
    for unknown in ("otp_0000000000000000", "otp_abc123", "msg_1234567890abcdef", "x" * 500):
        error_of(verify(relay, acme, unknown, code), 404, "OTP_NOT_FOUND")
    assert verify(relay, acme, answer["otp_id"], code).json()["valid"] is True  # nothing was used up


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"code": "123456"}, "otp_id"),
        ({"otp_id": None, "code": "123456"}, "otp_id"),
        ({"otp_id": 12, "code": "123456"}, "otp_id"),
        ({"otp_id": "OTP"}, "code"),
        ({"otp_id": "OTP", "code": None}, "code"),
        ({"otp_id": "OTP", "code": 123456}, "code"),
        ({"otp_id": "OTP", "code": "   "}, "code"),
        ({"otp_id": "OTP", "code": "1" * 33}, "code"),
    ],
)
def test_a_verification_without_an_id_or_a_code_is_refused_and_uses_no_attempt(relay, acme, body, param):
    answer, code = new_otp(relay, acme)
    body = {name: answer["otp_id"] if value == "OTP" else value for name, value in body.items()}
    response = conforms(requests.post(relay.url("/sms/verify-otp"), json=body, headers=acme.headers, timeout=10))
    error_of(response, 400, "INVALID_PARAMETER", param)
    wrong = verify(relay, acme, answer["otp_id"], "x")
    assert wrong.json()["attempts_remaining"] == 2


def test_a_code_typed_with_spaces_around_it_verifies(relay, acme):
    answer, code = new_otp(relay, acme)
    assert verify(relay, acme, answer["otp_id"], f" {code}\n").json()["valid"] is True


def test_simultaneous_right_codes_verify_exactly_once(relay, acme):
    answer, code = new_otp(relay, acme)
    start = threading.Barrier(6)
    results: list[requests.Response] = []

    def attempt() -> None:
        start.wait()
        results.append(verify(relay, acme, answer["otp_id"], code))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    outcomes = sorted((r.status_code, r.json().get("valid"), r.json().get("error", {}).get("code")) for r in results)
    assert outcomes == [(200, True, None)] + [(404, None, "OTP_NOT_FOUND")] * 5


def test_a_failed_otp_sms_is_not_resent_since_its_text_is_masked(relay, acme):
    answer, _code = new_otp(relay, acme)
    error = MessageError("NETWORK_ERROR", "The network could not deliver the message")
    relay.store.apply_status_change(StatusChange(answer["message_id"], "failed", utcnow(), error=error))
    response = conforms(
        requests.post(relay.url(f"/sms/{answer['message_id']}/resend"), headers=acme.headers, timeout=10)
    )
    error_of(response, 400, "CANNOT_RESEND_MESSAGE")
    assert stored_messages(relay, acme) == 1


def test_an_otp_to_a_routes_prefix_is_not_routed_but_goes_on_the_shared_urgent_queue(relay, acme):
    # Its code is in its job alone: left on a route device that stopped, it could not be moved.
    device_id = relay.new_device(acme.client_id)
    relay.store.devices.set_prefixes(device_id, ["+336"])
    relay.store.devices.record_heartbeat(device_id, utcnow(), {})
    answer, _code = new_otp(relay, acme)
    plain = requests.post(
        relay.url("/sms/send"),
        json={"to": NUMBER, "message": "Bonjour", "priority": 1},
        headers=acme.headers,
        timeout=10,
    )
    assert plain.status_code == 202, plain.text

    assert bus.queue(wire.client_queue(acme.client_id, 1), relay.redis).job_ids == [
        wire.send_job_id(acme.client_id, answer["message_id"])
    ]
    assert bus.queue(wire.device_queue(device_id, 1), relay.redis).job_ids == [
        wire.send_job_id(acme.client_id, plain.json()["message_id"])
    ]
    stored = relay.store.get_messages_by_ids([answer["message_id"], plain.json()["message_id"]])
    assert stored[answer["message_id"]].routed_to is None
    assert stored[plain.json()["message_id"]].routed_to == device_id
