"""Guessing keys over HTTP: an address that keeps failing is refused with 429, nobody else is."""

from __future__ import annotations

import http.client
import json
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from credentials import Credentials

from zimsend_common.logs import JsonFormatter

PER_CLIENT = 10
PER_ADDRESS = 50


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: dict


def auth_test(relay, credentials: Credentials, address: str, forwarded_for: str | None = None) -> Answer:
    """GET /v1/auth/test over a connection made from ``address`` (any 127.x.y.z is this host)."""
    url = urlsplit(relay.url("/auth/test"))
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10, source_address=(address, 0))
    headers = dict(credentials.headers)
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    try:
        conn.request("GET", url.path, headers=headers)
        response = conn.getresponse()
        return Answer(response.status, dict(response.getheaders()), json.loads(response.read()))
    finally:
        conn.close()


@pytest.fixture
def throttled(make_relay):
    return make_relay(auth_failures_per_client_address=PER_CLIENT, auth_failures_per_address=PER_ADDRESS)


def test_300_wrong_keys_get_429_past_the_bound_while_the_client_from_elsewhere_gets_in(throttled):
    acme = throttled.new_client("acme")
    wrong = Credentials(acme.client_id, "zs_live_" + "x" * 32)

    answers = [auth_test(throttled, wrong, "127.0.0.1") for _ in range(300)]

    assert [a.status for a in answers] == [401] * PER_CLIENT + [429] * (300 - PER_CLIENT)
    refusal = answers[-1]
    assert refusal.body["error"]["code"] == "TOO_MANY_AUTH_FAILURES"
    assert 0 < int(refusal.headers["Retry-After"]) <= throttled.settings.relay.auth_failure_window_seconds
    assert auth_test(throttled, acme, "127.0.0.2").status == 200
    # The guessing address is refused at that client only: another client calling from it gets in.
    globex = throttled.new_client("globex")
    assert auth_test(throttled, globex, "127.0.0.1").status == 200


def test_an_address_spraying_client_ids_is_refused_everywhere_others_are_not(throttled):
    acme = throttled.new_client("acme")
    sprayed = [Credentials(f"client_{n:010d}", "zs_live_" + "y" * 32) for n in range(PER_ADDRESS + 5)]

    answers = [auth_test(throttled, credentials, "127.0.0.3").status for credentials in sprayed]

    assert answers == [401] * PER_ADDRESS + [429] * 5
    assert auth_test(throttled, acme, "127.0.0.3").status == 429
    assert auth_test(throttled, acme, "127.0.0.4").status == 200


def test_a_good_key_is_never_counted(throttled):
    acme = throttled.new_client("acme")
    answers = [auth_test(throttled, acme, "127.0.0.5").status for _ in range(PER_CLIENT * 3)]
    assert answers == [200] * (PER_CLIENT * 3)


def test_bad_keys_are_refused_as_ever_while_redis_is_down(make_relay):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    relay = make_relay(auth_failures_per_client_address=PER_CLIENT, redis_url=f"redis://127.0.0.1:{closed}/0")
    acme = relay.new_client("acme")
    wrong = Credentials(acme.client_id, "zs_live_" + "x" * 32)

    answers = [auth_test(relay, wrong, "127.0.0.1").status for _ in range(PER_CLIENT * 2)]

    assert answers == [401] * (PER_CLIENT * 2)
    assert auth_test(relay, acme, "127.0.0.1").status == 200


def test_behind_a_trusted_proxy_the_address_counted_is_the_one_it_forwards(make_relay):
    relay = make_relay(auth_failures_per_client_address=PER_CLIENT, trusted_proxy_hops=1)
    acme = relay.new_client("acme")
    wrong = Credentials(acme.client_id, "zs_live_" + "x" * 32)

    answers = [auth_test(relay, wrong, "127.0.0.1", "198.51.100.7").status for _ in range(PER_CLIENT + 3)]

    assert answers == [401] * PER_CLIENT + [429] * 3
    # Through the same proxy, the client's own address is not the guesser's.
    assert auth_test(relay, acme, "127.0.0.1", "198.51.100.8").status == 200


def test_a_key_sent_as_the_client_id_is_in_no_log_line_even_once_throttled(throttled, caplog):
    caplog.set_level(logging.DEBUG)
    acme = throttled.new_client("acme")
    swapped = Credentials(acme.api_key, acme.client_id)  # the two headers the wrong way round

    answers = [auth_test(throttled, swapped, "127.0.0.6").status for _ in range(PER_CLIENT + 2)]

    assert answers == [401] * PER_CLIENT + [429] * 2
    lines = [JsonFormatter().format(record) for record in caplog.records]
    refusals = [line for line in lines if "authentication" in line]
    assert any("refused" in line for line in refusals) and any("throttled" in line for line in refusals)
    assert all("(not a client id)" in line for line in refusals)
    assert not [line for line in lines if acme.api_key in line]
