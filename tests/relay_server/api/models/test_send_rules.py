"""Parameter checks that need no HTTP: webhook URLs and times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from relay_server.api.errors import ApiError
from relay_server.api.models.sending import check_webhook_url, parse_scheduled_at, parse_valid_until
from zimsend_common.config import RelaySettings

STRICT = RelaySettings()
LENIENT = RelaySettings(webhook_allow_http=True, webhook_allow_private_hosts=True)
NOW = datetime(2026, 1, 15, 10, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "url",
    [
        "https://[::ffff:127.0.0.1]/hook",
        "https://100.64.0.1/hook",
        "https://224.0.0.1/hook",
        "https://0.0.0.0/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://240.0.0.1/hook",
        "https://localhost./hook",
    ],
)
def test_webhook_hosts_on_internal_or_reserved_addresses_are_refused(url):
    with pytest.raises(ApiError) as caught:
        check_webhook_url(url, STRICT)
    assert (caught.value.code, caught.value.param) == ("INVALID_WEBHOOK_URL", "webhook_url")


@pytest.mark.parametrize("url", ["https://93.184.216.34/hook", "https://[2606:4700::1111]:8443/a?b=c"])
def test_webhook_urls_on_public_addresses_pass_unchanged(url):
    assert check_webhook_url(url, STRICT) == url


def test_the_operator_may_allow_http_and_internal_hosts():
    assert check_webhook_url("http://10.1.2.3:8080/hook", LENIENT) == "http://10.1.2.3:8080/hook"


def test_even_a_lenient_operator_refuses_other_schemes():
    with pytest.raises(ApiError):
        check_webhook_url("ftp://10.1.2.3/hook", LENIENT)


def test_a_host_name_that_does_not_resolve_now_is_accepted_it_is_checked_at_delivery():
    assert check_webhook_url("https://no-such-host.invalid/hook", STRICT) == "https://no-such-host.invalid/hook"


def test_a_scheduled_time_is_returned_in_utc_whatever_its_offset():
    assert parse_scheduled_at("2026-01-15T14:30:00+02:00", NOW) == datetime(2026, 1, 15, 12, 30, tzinfo=timezone.utc)


def test_a_scheduled_time_exactly_30_days_ahead_passes_and_a_second_more_does_not():
    limit = NOW + timedelta(days=30)
    assert parse_scheduled_at(limit.isoformat(), NOW) == limit
    with pytest.raises(ApiError):
        parse_scheduled_at((limit + timedelta(seconds=1)).isoformat(), NOW)


def test_a_scheduled_time_equal_to_now_is_refused():
    with pytest.raises(ApiError) as caught:
        parse_scheduled_at(NOW.isoformat(), NOW)
    assert caught.value.code == "INVALID_SCHEDULED_DATE"


def test_a_validity_deadline_must_follow_the_time_given():
    assert parse_valid_until("2026-01-15T11:00:00Z", NOW) == datetime(2026, 1, 15, 11, tzinfo=timezone.utc)
    with pytest.raises(ApiError) as caught:
        parse_valid_until("2026-01-15T10:00:00Z", NOW)
    assert (caught.value.code, caught.value.param) == ("INVALID_PARAMETER", "valid_until")
