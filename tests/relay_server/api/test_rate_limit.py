"""Rate limiting over HTTP, counted in a real redis-server; open when Redis is down."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import requests
from waiting import start_of_a_rate_window

from relay_server.store.models import HistoryQuery

BODY = {"to": "+33612345678", "message": "Hi"}
LIMIT = 3


def send(relay, creds):
    return requests.post(relay.url("/sms/send"), json=BODY, headers=creds.headers, timeout=10)


@pytest.fixture
def limited(make_relay):
    start_of_a_rate_window()
    return make_relay(rate_limit_per_minute=LIMIT)


def test_every_authenticated_answer_says_where_the_client_stands(limited):
    acme = limited.new_client()
    answers = [send(limited, acme) for _ in range(LIMIT)]
    assert [a.status_code for a in answers] == [202] * LIMIT
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == [str(LIMIT)] * LIMIT
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    reset = int(answers[0].headers["X-RateLimit-Reset"])
    assert reset % 60 == 0 and 0 < reset - time.time() <= 60


def test_a_request_over_the_limit_is_refused_with_retry_after_and_stores_nothing(limited):
    acme = limited.new_client()
    for _ in range(LIMIT):
        send(limited, acme)
    refused = send(limited, acme)
    assert refused.status_code == 429
    assert refused.json()["success"] is False
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    caller = limited.store.clients.authenticate(acme.client_id, acme.api_key)
    assert limited.store.history(caller, HistoryQuery()).total == LIMIT


def test_every_route_counts_against_the_limit(limited):
    acme = limited.new_client()
    for _ in range(LIMIT):
        requests.get(limited.url("/auth/test"), headers=acme.headers, timeout=10)
    assert send(limited, acme).status_code == 429


def test_each_client_has_its_own_count(limited):
    acme, other = limited.new_client("acme"), limited.new_client("other")
    for _ in range(LIMIT + 1):
        send(limited, acme)
    assert send(limited, other).status_code == 202


def test_test_keys_are_counted_apart_from_live_keys(limited):
    acme = limited.new_client()
    for _ in range(LIMIT + 1):
        send(limited, acme)
    assert send(limited, limited.test_key(acme.client_id)).status_code == 202


def test_unauthenticated_answers_carry_no_quota(limited):
    response = requests.post(limited.url("/sms/send"), json=BODY, timeout=10)
    assert response.status_code == 400
    assert "X-RateLimit-Limit" not in response.headers


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sending_keeps_working_when_redis_is_down_and_the_outage_is_logged_once(make_relay, caplog):
    relay = make_relay(rate_limit_per_minute=1, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    acme = relay.new_client()
    with caplog.at_level(logging.WARNING, logger="relay_server.api.ratelimit"):
        answers = [send(relay, acme) for _ in range(3)]
    assert [a.status_code for a in answers] == [202] * 3
    assert "X-RateLimit-Remaining" not in answers[0].headers
    warnings = [r for r in caplog.records if r.name == "relay_server.api.ratelimit"]
    assert len(warnings) == 1
