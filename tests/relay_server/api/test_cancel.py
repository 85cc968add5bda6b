"""DELETE /v1/sms/:message_id: only a queued message is cancelled; anything else says where it is."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from openapi_check import conforms
from planted_jobs import attacks, plant
from rq.exceptions import NoSuchJobError
from rq.job import JobStatus
from tracking_data import api_for, error_of, seed, utc

from relay_server.dispatch.rq_dispatcher import RQDispatcher
from relay_server.worker.epoch import server_id
from zimsend_common import bus, wire
from zimsend_common.timefmt import isoformat_z, utcnow

CREATED = utc(2025, 1, 15, 10, 30, 0)
GRACE = timedelta(seconds=60)


def test_a_queued_message_is_cancelled_and_stays_cancelled(relay, acme):
    message = seed(relay.store, acme.client_id, created_at=CREATED)
    api = api_for(relay, acme)

    body = api.delete(f"/sms/{message.message_id}").json()

    assert body == {
        "success": True,
        "message": "SMS cancelled",
        "message_id": message.message_id,
        "status": "cancelled",
        "cancelled_at": body["cancelled_at"],
    }
    status = api.get(f"/sms/status/{message.message_id}").json()
    assert status["status"] == "cancelled" and status["cancelled_at"] == body["cancelled_at"]
    assert status["sent_at"] is None


def test_a_scheduled_message_is_cancelled_before_it_leaves(relay, acme):
    message = seed(relay.store, acme.client_id, created_at=CREATED, scheduled_at=utcnow() + timedelta(days=2))
    response = api_for(relay, acme).delete(f"/sms/{message.message_id}")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


@pytest.mark.parametrize("status", ["sent", "delivered", "failed", "cancelled"])
def test_a_message_past_queued_is_refused_with_its_status_and_left_alone(relay, acme, status):
    message = seed(relay.store, acme.client_id, created_at=CREATED, status=status)
    api = api_for(relay, acme)

    error = error_of(api.delete(f"/sms/{message.message_id}"), 400, "CANNOT_CANCEL_MESSAGE")

    assert error["details"] == {"status": status}
    assert status in error["message"]
    assert api.get(f"/sms/status/{message.message_id}").json()["status"] == status


def test_cancelling_twice_is_refused_the_second_time_as_cancelled(relay, acme):
    message = seed(relay.store, acme.client_id, created_at=CREATED)
    api = api_for(relay, acme)
    assert api.delete(f"/sms/{message.message_id}").status_code == 200
    error = error_of(api.delete(f"/sms/{message.message_id}"), 400, "CANNOT_CANCEL_MESSAGE")
    assert error["details"]["status"] == "cancelled"


@pytest.mark.parametrize("message_id", ["msg_0000000000000000", "nonsense", "%00"])
def test_an_unknown_message_is_not_found(relay, acme, message_id):
    error_of(api_for(relay, acme).delete(f"/sms/{message_id}"), 404, "MESSAGE_NOT_FOUND")


def test_another_clients_message_is_not_found_and_stays_queued(relay, acme):
    other = relay.new_client("other")
    theirs = seed(relay.store, other.client_id, created_at=CREATED)

    error_of(api_for(relay, acme).delete(f"/sms/{theirs.message_id}"), 404, "MESSAGE_NOT_FOUND")

    assert api_for(relay, other).get(f"/sms/status/{theirs.message_id}").json()["status"] == "queued"


def test_a_live_key_cannot_cancel_a_test_message_nor_the_reverse(relay, acme):
    test_key = relay.test_key(acme.client_id)
    live = seed(relay.store, acme.client_id, created_at=CREATED)
    simulated = seed(relay.store, acme.client_id, created_at=CREATED, is_test=True)

    error_of(api_for(relay, acme).delete(f"/sms/{simulated.message_id}"), 404, "MESSAGE_NOT_FOUND")
    error_of(api_for(relay, test_key).delete(f"/sms/{live.message_id}"), 404, "MESSAGE_NOT_FOUND")
    assert api_for(relay, test_key).delete(f"/sms/{simulated.message_id}").status_code == 200


@pytest.fixture
def rq_relay(make_relay):
    """A relay that queues messages on Redis with the RQ dispatcher, as in production."""
    first = make_relay()
    dispatcher = RQDispatcher(first.store, first.redis, timedelta(seconds=60), GRACE)
    first.redis.set(wire.redis_epoch_key(), "0")  # a worker has long known this Redis
    return make_relay(dispatcher=dispatcher)


def _send_scheduled(relay, credentials) -> str:
    body = {
        "to": "+33612345678",
        "message": "Rappel: rendez-vous demain",
        "scheduled_at": isoformat_z(utcnow() + timedelta(days=1)),
    }
    response = conforms(requests.post(relay.url("/sms/send"), json=body, headers=credentials.headers, timeout=10))
    assert response.status_code == 202, response.text
    return response.json()["message_id"]


def _job_waits(redis, client_id: str, message_id: str) -> bool:
    """Whether RQ holds the message's send job still to run."""
    try:
        job = bus.fetch(wire.send_job_id(client_id, message_id), redis)
    except NoSuchJobError:
        return False
    return job.get_status() in {JobStatus.QUEUED, JobStatus.DEFERRED}


def test_a_cancel_leaves_no_job_to_run_and_no_agent_can_claim_it_after(rq_relay):
    acme = rq_relay.new_client("acme")
    test_key = rq_relay.test_key(acme.client_id)  # sent at once, with no device online
    body = {"to": "+33612345678", "message": "Bonjour"}
    answer = requests.post(rq_relay.url("/sms/send"), json=body, headers=test_key.headers, timeout=10)
    assert answer.status_code == 202, answer.text
    message_id = answer.json()["message_id"]
    assert _job_waits(rq_relay.redis, acme.client_id, message_id)

    assert api_for(rq_relay, test_key).delete(f"/sms/{message_id}").status_code == 200

    assert not _job_waits(rq_relay.redis, acme.client_id, message_id)
    device_claim = rq_relay.redis.set(
        wire.claim_key(acme.client_id, message_id), wire.claim_value_device("device_abcdef123456"), nx=True
    )
    assert not device_claim


def test_a_message_an_agent_has_claimed_is_refused_and_not_cancelled(rq_relay):
    acme = rq_relay.new_client("acme")
    message_id = _send_scheduled(rq_relay, acme)
    # An agent took the job and claimed the message before the cancel arrived.
    assert rq_relay.redis.set(
        wire.claim_key(acme.client_id, message_id), wire.claim_value_device("device_abcdef123456"), nx=True
    )
    api = api_for(rq_relay, acme)

    error = error_of(api.delete(f"/sms/{message_id}"), 400, "CANNOT_CANCEL_MESSAGE")

    assert error["details"] == {"status": "queued"}
    assert "already sending" in error["message"]
    assert api.get(f"/sms/status/{message_id}").json()["status"] == "queued"


def test_a_message_the_worker_claimed_to_fail_it_out_of_time_is_refused_and_not_cancelled(rq_relay):
    acme = rq_relay.new_client("acme")
    message_id = _send_scheduled(rq_relay, acme)
    # The worker won the claim to fail it with TIMEOUT (it can no longer leave), and has not stored that yet.
    assert rq_relay.redis.set(wire.claim_key(acme.client_id, message_id), wire.CLAIM_EXPIRED, nx=True)
    api = api_for(rq_relay, acme)

    error = error_of(api.delete(f"/sms/{message_id}"), 400, "CANNOT_CANCEL_MESSAGE")

    assert error["details"] == {"status": "queued"}
    assert "expired" in error["message"]
    assert api.get(f"/sms/status/{message_id}").json()["status"] == "queued"
    assert rq_relay.redis.get(wire.claim_key(acme.client_id, message_id)) == wire.CLAIM_EXPIRED.encode()


def test_a_cancel_that_finds_planted_pickles_under_the_messages_job_ids_runs_none_of_them(rq_relay, tmp_path):
    acme = rq_relay.new_client("acme")
    api = api_for(rq_relay, acme)
    for name, (witness, fields) in attacks(tmp_path).items():
        message_id = _send_scheduled(rq_relay, acme)
        # Where the message's send job would be once it is due.
        plant(
            rq_relay.redis, wire.client_queue(acme.client_id, 3), wire.send_job_id(acme.client_id, message_id), fields
        )

        response = api.delete(f"/sms/{message_id}")

        assert not witness.exists(), name
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        assert api.get(f"/sms/status/{message_id}").json()["status"] == "cancelled"


def test_a_cancel_just_after_redis_lost_a_claim_is_to_be_retried_and_wins_once_the_grace_period_is_over(rq_relay):
    acme = rq_relay.new_client("acme")
    message = seed(rq_relay.store, acme.client_id, created_at=CREATED)
    # A device claimed and sent it; Redis loses its data before the `sent` event is applied.
    claim = wire.claim_key(acme.client_id, message.message_id)
    rq_relay.redis.set(claim, wire.claim_value_device("device_abcdef123456"))
    rq_relay.redis.flushall()
    api = api_for(rq_relay, acme)

    response = api.delete(f"/sms/{message.message_id}")

    error_of(response, 503, "SERVICE_UNAVAILABLE")
    assert 1 <= int(response.headers["Retry-After"]) <= GRACE.total_seconds()
    assert api.get(f"/sms/status/{message.message_id}").json()["status"] == "queued"
    assert rq_relay.redis.get(claim) is None  # the device may still claim it again
    # The worker's grace period is over; the device never claimed it again.
    over = wire.epoch_value(utcnow() - timedelta(seconds=1), server_id(rq_relay.redis))
    rq_relay.redis.set(wire.redis_epoch_key(), over)
    answer = api.delete(f"/sms/{message.message_id}")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"


def test_a_cancel_while_redis_is_down_is_to_be_retried_and_wins_once_redis_is_back(make_relay, own_redis):
    first = make_relay(redis_url=own_redis.url)
    dispatcher = RQDispatcher(first.store, first.redis, timedelta(seconds=60), GRACE)
    relay = make_relay(redis_url=own_redis.url, dispatcher=dispatcher)
    acme = relay.new_client("acme")
    api = api_for(relay, acme)
    queued = seed(relay.store, acme.client_id, created_at=CREATED)
    scheduled = seed(relay.store, acme.client_id, created_at=CREATED, scheduled_at=utcnow() + timedelta(hours=1))
    own_redis.stop()

    for message in (queued, scheduled):
        response = api.delete(f"/sms/{message.message_id}")

        # Neither refused for good (a 400 says no device may have it, nor did it expire) nor promised.
        error_of(response, 503, "SERVICE_UNAVAILABLE")
        assert int(response.headers["Retry-After"]) >= 1
        assert api.get(f"/sms/status/{message.message_id}").json()["status"] == "queued"

    own_redis.start()
    # The worker noticed the new Redis, and its grace period for the agents is over.
    over = wire.epoch_value(utcnow() - timedelta(seconds=1), server_id(relay.redis))
    relay.redis.set(wire.redis_epoch_key(), over)
    for message in (queued, scheduled):
        answer = api.delete(f"/sms/{message.message_id}")
        assert answer.status_code == 200 and answer.json()["status"] == "cancelled", answer.text
