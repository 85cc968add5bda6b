"""Callers cached for seconds: a revoked key or a disabled client is refused at once all the same."""

from __future__ import annotations

from datetime import timedelta

import requests
from migrated_store import open_migrated

from relay_server.api import caller_cache
from zimsend_common.timefmt import utcnow


def status(relay, headers) -> int:
    return requests.get(relay.url("/auth/test"), headers=headers, timeout=10).status_code


def test_a_key_revoked_after_it_was_used_is_refused_at_once(relay, acme):
    assert status(relay, acme.headers) == 200
    assert relay.store.clients.revoke_api_key(acme.api_key)
    assert status(relay, acme.headers) == 401


def test_a_client_disabled_after_it_called_is_refused_at_once(relay, acme):
    assert status(relay, acme.headers) == 200
    assert relay.store.clients.disable(acme.client_id)
    assert status(relay, acme.headers) == 401


def test_a_key_revoked_by_another_process_is_refused_once_it_announces_the_change(relay, acme, database_url):
    assert status(relay, acme.headers) == 200
    elsewhere = open_migrated(database_url)  # another process's store: it tells this relay nothing itself
    try:
        assert elsewhere.clients.revoke_api_key(acme.api_key)
    finally:
        elsewhere.close()
    caller_cache.announce_change(relay.redis)
    assert status(relay, acme.headers) == 401


def test_every_relay_sharing_the_redis_refuses_a_revoked_key_at_once(make_relay, relay, acme):
    other = make_relay()
    assert status(relay, acme.headers) == 200 and status(other, acme.headers) == 200
    assert relay.store.clients.revoke_api_key(acme.api_key)
    assert status(other, acme.headers) == 401


def test_a_cached_key_is_refused_once_it_expires(relay, acme):
    expires_at = utcnow() + timedelta(seconds=1)
    headers = {**acme.headers, "X-API-Key": relay.store.clients.create_api_key(acme.client_id, expires_at=expires_at)}
    assert status(relay, headers) == 200
    while utcnow() <= expires_at:
        pass
    assert status(relay, headers) == 401


def test_a_cached_caller_is_still_counted_in_its_rate_limit(make_relay):
    limited = make_relay(rate_limit_per_minute=2)
    acme = limited.new_client("acme")
    assert [status(limited, acme.headers) for _ in range(3)] == [200, 200, 429]


def test_a_wrong_key_is_refused_every_time_after_the_right_one_was_cached(relay, acme):
    assert status(relay, acme.headers) == 200
    wrong = {**acme.headers, "X-API-Key": acme.api_key[:-1] + ("x" if acme.api_key[-1] != "x" else "y")}
    assert [status(relay, wrong) for _ in range(2)] == [401, 401]
    assert status(relay, acme.headers) == 200
