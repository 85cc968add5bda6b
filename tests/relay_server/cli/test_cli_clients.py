"""``zimsend-relay``'s client and key commands: create-client, list-clients, set-quota, create-key, list-keys,
revoke-key, disable-client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from relay_process import Run, environment, ok, runner

from relay_server.store import InvalidApiKey, Store, UnknownClient
from relay_server.store.models import NewMessage

pytestmark = pytest.mark.slow  # every test runs zimsend-relay as a process


def test_create_client_prints_a_client_and_a_key_that_authenticates(tmp_path: Path, database_url: str) -> None:
    run = runner(environment(tmp_path, database_url=database_url))

    (created,) = ok(run("create-client", "Acme Ltd"))

    assert set(created) == {"client_id", "api_key"}
    store = Store.open(database_url)
    try:
        caller = store.clients.authenticate(created["client_id"], created["api_key"])
        assert caller.is_test is False
        assert store.clients.get(created["client_id"]).name == "Acme Ltd"
    finally:
        store.close()


def test_create_key_makes_a_test_key_when_asked(relay: Run, store: Store) -> None:
    (client,) = ok(relay("create-client", "Acme"))

    (live,) = ok(relay("create-key", client["client_id"]))
    (test,) = ok(relay("create-key", client["client_id"], "--test"))

    assert live["api_key"].startswith("zs_live_") and test["api_key"].startswith("zs_test_")
    assert store.clients.authenticate(client["client_id"], test["api_key"]).is_test is True
    assert store.clients.authenticate(client["client_id"], live["api_key"]).is_test is False


def test_list_keys_shows_prefixes_and_expiry_and_never_a_key(relay: Run) -> None:
    (client,) = ok(relay("create-client", "Acme"))
    (expiring,) = ok(relay("create-key", client["client_id"], "--test", "--expires-days", "30"))

    listed = ok(relay("list-keys", client["client_id"]))

    assert [(key["prefix"][:8], key["test"]) for key in listed] == [("zs_live_", False), ("zs_test_", True)]
    assert [key["expires_at"] for key in listed] == [None, expiring["expires_at"]]
    assert expiring["expires_at"].endswith("Z")
    assert client["api_key"] not in json.dumps(listed)
    assert expiring["api_key"] not in json.dumps(listed)


@pytest.mark.parametrize("days", ["0", "99999999"])
def test_a_key_that_expires_in_no_days_or_past_the_calendar_is_refused(relay: Run, days: str) -> None:
    (client,) = ok(relay("create-client", "Acme"))

    outcome = relay("create-key", client["client_id"], "--expires-days", days)

    assert outcome.status == 1 and outcome.error["error"]["code"] == "INVALID_DAYS"
    assert len(ok(relay("list-keys", client["client_id"]))) == 1


def test_a_key_revoked_from_stdin_no_longer_authenticates(relay: Run, store: Store) -> None:
    (client,) = ok(relay("create-client", "Acme"))

    (revoked,) = ok(relay("revoke-key", "-", stdin=client["api_key"] + "\n"))

    assert revoked["revoked"] is True
    with pytest.raises(InvalidApiKey):
        store.clients.authenticate(client["client_id"], client["api_key"])


def test_revoking_an_unknown_key_is_refused_with_its_code(relay: Run) -> None:
    outcome = relay("revoke-key", "zs_live_" + "x" * 32)

    assert outcome.status == 1
    assert outcome.error["error"]["code"] == "UNKNOWN_API_KEY"
    assert outcome.lines == []


def test_disable_client_stops_its_keys(relay: Run, store: Store) -> None:
    (client,) = ok(relay("create-client", "Acme"))

    assert ok(relay("disable-client", client["client_id"])) == [{"client_id": client["client_id"], "disabled": True}]

    with pytest.raises(UnknownClient):
        store.clients.authenticate(client["client_id"], client["api_key"])


@pytest.mark.parametrize(
    "args",
    [
        ("create-key", "client_0000000000"),
        ("disable-client", "client_0000000000"),
        ("add-device", "client_0000000000"),
        ("list-devices", "--client", "client_0000000000"),
        ("list-keys", "client_0000000000"),
        ("set-quota", "client_0000000000", "--daily", "5"),
    ],
)
def test_commands_naming_an_unknown_client_are_refused_and_change_nothing(
    relay: Run, store: Store, args: tuple[str, ...]
) -> None:
    outcome = relay(*args)

    assert outcome.status == 1
    assert outcome.error == {
        "success": False,
        "error": {"code": "UNKNOWN_CLIENT", "message": "no active client client_0000000000"},
    }
    assert store.devices.listed() == []


def test_an_empty_client_name_is_refused(relay: Run) -> None:
    outcome = relay("create-client", "  ")

    assert outcome.status == 1 and outcome.error["error"]["code"] == "INVALID_NAME"


def test_set_quota_sets_and_removes_a_clients_daily_quota_and_says_what_today_used(relay: Run, store: Store) -> None:
    (client,) = ok(relay("create-client", "Acme"))
    message = NewMessage(
        client_id=client["client_id"],
        is_test=False,
        to="+263771234567",
        body="Hi",
        priority=3,
        segments=1,
        encoding="GSM-7",
    )
    store.insert_messages([message, message])

    (limited,) = ok(relay("set-quota", client["client_id"], "--daily", "500"))
    (unlimited,) = ok(relay("set-quota", client["client_id"], "--none"))

    assert set(limited) == {"client_id", "daily_quota", "used_today", "resets_at"}
    assert (limited["client_id"], limited["daily_quota"], limited["used_today"]) == (client["client_id"], 500, 2)
    assert limited["resets_at"].endswith("T00:00:00Z")
    assert (unlimited["daily_quota"], unlimited["used_today"]) == (None, 2)
    assert store.clients.get(client["client_id"]).daily_quota is None


def test_list_clients_shows_each_clients_quota_and_what_today_used(relay: Run) -> None:
    (acme,) = ok(relay("create-client", "Acme"))
    (globex,) = ok(relay("create-client", "Globex"))
    ok(relay("set-quota", globex["client_id"], "--daily", "300"))
    ok(relay("disable-client", acme["client_id"]))

    listed = ok(relay("list-clients"))

    assert [(c["client_id"], c["name"], c["disabled"], c["daily_quota"], c["used_today"]) for c in listed] == [
        (acme["client_id"], "Acme", True, None, 0),
        (globex["client_id"], "Globex", False, 300, 0),
    ]
    assert all(c["created_at"].endswith("Z") for c in listed)


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ((), "INVALID_OPTIONS"),
        (("--daily", "5", "--none"), "INVALID_OPTIONS"),
        (("--daily", "0"), "INVALID_LIMIT"),
        # Past what clients.daily_quota holds: PostgreSQL's INTEGER refused it with a traceback.
        (("--daily", "2147483648"), "INVALID_LIMIT"),
    ],
)
def test_set_quota_wants_one_positive_daily_quota_that_the_store_holds_or_none(
    relay: Run, store: Store, options: tuple[str, ...], code: str
) -> None:
    (client,) = ok(relay("create-client", "Acme"))

    outcome = relay("set-quota", client["client_id"], *options)

    assert outcome.status == 1 and outcome.error["error"]["code"] == code
    assert store.clients.get(client["client_id"]).daily_quota is None
