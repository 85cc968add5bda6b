"""``zimsend-relay``'s device commands: add-device, list-devices, disable-device, enable-device, and the Redis
users they print."""

from __future__ import annotations

import shlex
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from relay_process import Run, environment, ok, runner
from sealed_heartbeats import leave_heartbeat
from waiting import free_port

from relay_server.store import Store
from zimsend_common import redis_client, signing, wire
from zimsend_common.timefmt import isoformat_z, utcnow

pytestmark = pytest.mark.slow  # every test runs zimsend-relay as a process


def test_add_device_prints_its_password_once_and_list_devices_shows_it(relay: Run, store: Store) -> None:
    (acme,) = ok(relay("create-client", "Acme"))
    (globex,) = ok(relay("create-client", "Globex"))

    (added,) = ok(relay("add-device", acme["client_id"], "--name", "Rack 1 modem"))
    ok(relay("add-device", globex["client_id"]))

    assert set(added) == {"device_id", "device_password"}
    assert store.devices.signing_keys(acme["client_id"])[added["device_id"]] == signing.device_signing_key(
        added["device_password"]
    )
    (listed,) = ok(relay("list-devices", "--client", acme["client_id"]))
    assert listed["device_id"] == added["device_id"]
    assert listed["name"] == "Rack 1 modem" and listed["client_id"] == acme["client_id"]
    assert listed["created_at"].endswith("Z") and listed["last_seen_at"] is None
    assert "device_password" not in listed
    assert len(ok(relay("list-devices"))) == 2


def test_add_device_with_redis_acl_prints_a_user_redis_accepts_kept_to_the_devices_keys(
    relay: Run, redisdb, redis_proc
) -> None:
    (acme,) = ok(relay("create-client", "Acme"))
    (added,) = ok(relay("add-device", acme["client_id"], "--redis-acl"))
    (again,) = ok(relay("add-device", acme["client_id"]))

    assert added["redis_username"] == f"zimsend-{added['device_id']}"
    assert added["redis_acl"].startswith(f"ACL SETUSER zimsend-{added['device_id']} ")
    assert f">{added['redis_password']}" in added["redis_acl"]
    assert "redis_acl" not in again
    assert _redis_cli(redis_proc, added["redis_acl"]) == "OK"
    device = _as_device_user(redis_proc, added)
    device.set(wire.heartbeat_key(added["device_id"]), "beat")
    with pytest.raises(redis.exceptions.NoPermissionError):
        device.set(wire.heartbeat_key(again["device_id"]), "beat")


def test_disable_device_takes_its_key_away_and_enable_device_gives_it_back_each_twice_alike(
    relay: Run, store: Store
) -> None:
    client, _ = store.clients.create("Acme")
    device, password = store.devices.add(client.client_id, "Rack 1 modem")

    disabled = [ok(relay("disable-device", device.device_id)) for _ in range(2)]

    assert disabled[0] == disabled[1]
    assert disabled[0][0]["disabled"] is True and disabled[0][0]["device_id"] == device.device_id
    assert disabled[0][0]["redis_acl"] == f"ACL DELUSER zimsend-{device.device_id}"
    assert device.device_id not in store.devices.signing_keys(client.client_id)
    (listed,) = ok(relay("list-devices", "--client", client.client_id))
    assert listed["disabled"] is True

    enabled = [ok(relay("enable-device", device.device_id)) for _ in range(2)]

    shown = {key: value for key, value in disabled[0][0].items() if key != "redis_acl"}
    assert enabled[0] == enabled[1] == [{**shown, "disabled": False}]
    assert store.devices.signing_keys(client.client_id)[device.device_id] == signing.device_signing_key(password)
    assert ok(relay("list-devices"))[0]["disabled"] is False


def test_enable_device_with_a_new_password_prints_it_once_and_the_old_one_no_longer_signs(
    relay: Run, store: Store
) -> None:
    client, _ = store.clients.create("Acme")
    device, old_password = store.devices.add(client.client_id)
    ok(relay("disable-device", device.device_id))

    (enabled,) = ok(relay("enable-device", device.device_id, "--new-password"))

    assert enabled["disabled"] is False and enabled["device_password"] != old_password
    assert store.devices.signing_keys(client.client_id)[device.device_id] == signing.device_signing_key(
        enabled["device_password"]
    )
    assert "device_password" not in ok(relay("list-devices"))[0]


@pytest.mark.parametrize("command", ["disable-device", "enable-device", "set-device-prefixes"])
@pytest.mark.parametrize("device_id", ["device_000000000000", "device_Rack 1;*"])
def test_naming_an_unknown_device_is_refused_with_its_code(relay: Run, command: str, device_id: str) -> None:
    outcome = relay(command, device_id)

    assert outcome.status == 1 and outcome.lines == []
    assert outcome.error["error"]["code"] == "UNKNOWN_DEVICE"


def test_a_phone_is_disabled_with_no_redis_user_and_gets_no_new_password(relay: Run, store: Store) -> None:
    client, _ = store.clients.create("Acme")
    phone, _token = store.devices.add_android(client.client_id, "Pixel")

    (disabled,) = ok(relay("disable-device", phone.device_id))
    refused = relay("enable-device", phone.device_id, "--new-password")

    assert disabled["disabled"] is True and "redis_acl" not in disabled
    assert refused.status == 1 and refused.error["error"]["code"] == "INVALID_OPTIONS"
    assert store.devices.get(phone.device_id).disabled is True  # the refusal changed nothing


def test_set_device_prefixes_makes_the_device_a_route_list_devices_shows_and_none_takes_it_back(
    relay: Run, store: Store
) -> None:
    client, _ = store.clients.create("Acme")
    device, _password = store.devices.add(client.client_id, "Econet SIM")

    (routed,) = ok(relay("set-device-prefixes", device.device_id, "+26377", "+26378", "+26377"))
    (listed,) = ok(relay("list-devices", "--client", client.client_id))
    (cleared,) = ok(relay("set-device-prefixes", device.device_id))

    assert routed["prefixes"] == listed["prefixes"] == ["+26377", "+26378"]
    assert cleared["prefixes"] == [] and store.devices.get(device.device_id).prefixes == ()


@pytest.mark.parametrize("prefix", ["26377", "+0263", "+2637x", "+", "+1234567890123456"])
def test_a_prefix_not_e164_is_refused_with_its_code_and_changes_nothing(relay: Run, store: Store, prefix: str) -> None:
    client, _ = store.clients.create("Acme")
    device, _password = store.devices.add(client.client_id)
    store.devices.set_prefixes(device.device_id, ["+26371"])

    refused = relay("set-device-prefixes", device.device_id, "+26377", prefix)

    assert refused.status == 1 and refused.error["error"]["code"] == "INVALID_PREFIX"
    assert store.devices.get(device.device_id).prefixes == ("+26371",)


def test_a_phone_is_made_a_route_as_an_agent_is(relay: Run, store: Store) -> None:
    client, _ = store.clients.create("Acme")
    phone, _token = store.devices.add_android(client.client_id, "Pixel")

    (routed,) = ok(relay("set-device-prefixes", phone.device_id, "+26377"))

    assert routed["prefixes"] == ["+26377"]
    assert store.devices.get(phone.device_id).prefixes == ("+26377",)


def test_prefixes_of_a_device_that_is_none_are_refused_as_unknown(relay: Run, store: Store) -> None:
    refused = relay("set-device-prefixes", "device_000000000009", "+26377")

    assert refused.status == 1 and refused.error["error"]["code"] == "UNKNOWN_DEVICE"


def test_list_devices_shows_the_daily_send_limit_each_agent_told_and_null_when_not_told(
    tmp_path: Path, database_url: str
) -> None:
    relay = runner(environment(tmp_path, database_url=database_url))
    store = Store.open(database_url)
    try:
        client, _ = store.clients.create("Acme")
        limited, _password = store.devices.add(client.client_id, "rack-1")
        unlimited, _password = store.devices.add(client.client_id, "rack-2")
        phone, _token = store.devices.add_android(client.client_id, "Pixel")
        store.devices.record_heartbeat(limited.device_id, utcnow(), {"state": "online", "daily_send_limit": 50})
        store.devices.record_heartbeat(unlimited.device_id, utcnow(), {"state": "online", "daily_send_limit": 0})

        listed = ok(relay("list-devices", "--client", client.client_id))
        (disabled,) = ok(relay("disable-device", limited.device_id))
    finally:
        store.close()

    assert [(device["name"], device["daily_send_limit"]) for device in listed] == [
        ("rack-1", 50),
        ("rack-2", 0),
        ("Pixel", None),
    ]
    assert disabled["daily_send_limit"] == 50  # every command printing a device prints it alike


def test_list_devices_shows_the_daily_send_limit_an_agents_newest_heartbeat_told_as_the_api_does(
    tmp_path: Path, database_url: str, redisdb, redis_proc
) -> None:
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    relay = runner(environment(tmp_path, database_url=database_url, redis_url=redis_url))
    store = Store.open(database_url)
    try:
        client, _ = store.clients.create("Acme")
        device, password = store.devices.add(client.client_id, "rack-1")
        store.devices.record_heartbeat(device.device_id, utcnow() - timedelta(minutes=1), {"daily_send_limit": 20})
        # The agent's newest heartbeat, under its key, tells a new limit: the worker has not applied it yet.
        seen = utcnow().replace(microsecond=0)
        leave_heartbeat(redisdb, device.device_id, password, seen, state="online", daily_send_limit=50)

        (listed,) = ok(relay("list-devices", "--client", client.client_id))
        (prefixed,) = ok(relay("set-device-prefixes", device.device_id, "+26377"))
    finally:
        store.close()

    assert (listed["daily_send_limit"], listed["last_seen_at"]) == (50, isoformat_z(seen))
    assert prefixed["daily_send_limit"] == 50  # every command printing a device prints it alike


def test_list_devices_shows_the_stores_word_when_redis_cannot_be_asked(tmp_path: Path, database_url: str) -> None:
    relay = runner(environment(tmp_path, database_url=database_url, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    store = Store.open(database_url)
    try:
        client, _ = store.clients.create("Acme")
        device, _password = store.devices.add(client.client_id, "rack-1")
        store.devices.record_heartbeat(device.device_id, utcnow(), {"daily_send_limit": 20})

        (listed,) = ok(relay("list-devices"))
    finally:
        store.close()

    assert listed["daily_send_limit"] == 20


@pytest.mark.parametrize("redis_url", ["notaurl", "redis://zimsend:s3cret-word@127.0.0.1:notaport/0"])
def test_a_redis_url_redis_cannot_read_is_refused_as_a_bad_setting_by_name_having_changed_nothing(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    relay = runner(environment(tmp_path, database_url=database_url, redis_url=redis_url))
    store = Store.open(database_url)
    try:
        client, _ = store.clients.create("Acme")
        device, _password = store.devices.add(client.client_id, "rack-1")

        refusals = [relay("list-devices"), relay("disable-device", device.device_id)]
        kept = store.devices.get(device.device_id)
    finally:
        store.close()

    for refused in refusals:
        assert refused.status == 2 and refused.error["error"]["code"] == "INVALID_CONFIGURATION"
        message = refused.error["error"]["message"]
        assert "redis_url" in message and "ZIMSEND_REDIS_URL" in message
        assert "s3cret-word" not in message
    assert kept is not None and not kept.disabled


def _redis_cli(redis_proc: Any, line: str) -> str:
    """What ``redis-cli`` answers to ``line``, a command a ``zimsend-relay`` command printed."""
    entered = subprocess.run(
        ["redis-cli", "-h", redis_proc.host, "-p", str(redis_proc.port), *shlex.split(line)],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return entered.stdout.strip()


def _as_device_user(redis_proc: Any, printed: dict[str, Any]) -> redis.Redis:
    """A connection as the Redis user ``printed`` names (add-device or enable-device --redis-acl)."""
    user, password = quote(printed["redis_username"]), quote(printed["redis_password"])
    return redis_client.connect(
        f"redis://{user}:{password}@{redis_proc.host}:{redis_proc.port}/0", redis_client.REQUEST
    )


def test_the_redis_line_disable_device_prints_shuts_the_devices_agent_out_and_enable_device_lets_a_new_user_in(
    relay: Run, redisdb, redis_proc
) -> None:
    (acme,) = ok(relay("create-client", "Acme"))
    (added,) = ok(relay("add-device", acme["client_id"], "--redis-acl"))
    _redis_cli(redis_proc, added["redis_acl"])
    agent = _as_device_user(redis_proc, added)
    agent.set(wire.heartbeat_key(added["device_id"]), "beat")

    (disabled,) = ok(relay("disable-device", added["device_id"]))

    assert _redis_cli(redis_proc, disabled["redis_acl"]) == "1"
    with pytest.raises(redis.exceptions.ConnectionError):  # its open connection closed, its password refused
        agent.set(wire.heartbeat_key(added["device_id"]), "beat")
    (enabled,) = ok(relay("enable-device", added["device_id"], "--redis-acl"))
    assert enabled["redis_password"] != added["redis_password"]
    assert _redis_cli(redis_proc, enabled["redis_acl"]) == "OK"
    assert _as_device_user(redis_proc, enabled).set(wire.heartbeat_key(added["device_id"]), "beat")
