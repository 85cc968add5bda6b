from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from relay_server.store import InvalidApiKey, Store, UnknownClient
from relay_server.store.schema import api_keys, devices
from zimsend_common import signing
from zimsend_common.timefmt import utcnow


def _dump(store: Store, table: sa.Table) -> str:
    with store.engine.connect() as conn:
        return repr(conn.execute(sa.select(table)).all())


def test_a_new_client_gets_ids_and_a_live_key_in_the_contracts_formats(store: Store) -> None:
    client, key = store.clients.create("Acme")

    assert re.fullmatch(r"client_\d{10}", client.client_id)
    assert re.fullmatch(r"zs_live_[A-Za-z0-9]{32}", key)
    assert client.name == "Acme" and not client.disabled
    assert store.clients.get(client.client_id) == client


def test_the_right_key_authenticates_its_client_in_live_mode(store: Store) -> None:
    client, key = store.clients.create("Acme")

    caller = store.clients.authenticate(client.client_id, key)

    assert caller.client_id == client.client_id
    assert caller.is_test is False
    assert caller.key_id.startswith("key_")


def test_a_test_key_authenticates_in_test_mode(store: Store) -> None:
    client, _ = store.clients.create("Acme")
    test_key = store.clients.create_api_key(client.client_id, test=True)

    assert test_key.startswith("zs_test_")
    assert store.clients.authenticate(client.client_id, test_key).is_test is True


def test_a_wrong_key_is_refused(store: Store) -> None:
    client, key = store.clients.create("Acme")
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")

    with pytest.raises(InvalidApiKey):
        store.clients.authenticate(client.client_id, wrong)


def test_another_clients_key_is_refused(store: Store) -> None:
    acme, _ = store.clients.create("Acme")
    _, globex_key = store.clients.create("Globex")

    with pytest.raises(InvalidApiKey):
        store.clients.authenticate(acme.client_id, globex_key)


def test_a_revoked_key_is_refused_and_other_keys_keep_working(store: Store) -> None:
    client, first = store.clients.create("Acme")
    second = store.clients.create_api_key(client.client_id)

    assert store.clients.revoke_api_key(first) is True

    with pytest.raises(InvalidApiKey):
        store.clients.authenticate(client.client_id, first)
    assert store.clients.authenticate(client.client_id, second).client_id == client.client_id


def test_revoking_an_unknown_key_reports_false(store: Store) -> None:
    assert store.clients.revoke_api_key("zs_live_" + "x" * 32) is False


def test_a_key_works_until_it_expires(store: Store) -> None:
    client, _ = store.clients.create("Acme")
    expiring = store.clients.create_api_key(client.client_id, expires_at=utcnow() + timedelta(days=1))
    expired = store.clients.create_api_key(client.client_id, expires_at=utcnow() - timedelta(seconds=1))

    assert store.clients.authenticate(client.client_id, expiring).client_id == client.client_id
    with pytest.raises(InvalidApiKey):
        store.clients.authenticate(client.client_id, expired)


def test_a_disabled_client_is_unknown_even_with_its_right_key(store: Store) -> None:
    client, key = store.clients.create("Acme")

    assert store.clients.disable(client.client_id) is True

    with pytest.raises(UnknownClient):
        store.clients.authenticate(client.client_id, key)
    with pytest.raises(UnknownClient):
        store.clients.create_api_key(client.client_id)


def test_an_unknown_client_is_refused(store: Store) -> None:
    _, key = store.clients.create("Acme")

    with pytest.raises(UnknownClient):
        store.clients.authenticate("client_0000000000", key)
    assert store.clients.disable("client_0000000000") is False


def test_keys_are_kept_only_as_digests(store: Store) -> None:
    client, live = store.clients.create("Acme")
    test = store.clients.create_api_key(client.client_id, test=True)

    stored = _dump(store, api_keys)

    assert live not in stored and test not in stored
    assert live[12:] not in stored and test[12:] not in stored
    listed = store.clients.list_api_keys(client.client_id)
    assert [(key.prefix, key.is_test) for key in listed] == [(live[:12], False), (test[:12], True)]


def test_a_device_gets_an_id_and_a_password_kept_only_as_its_signing_key(store: Store) -> None:
    client, _ = store.clients.create("Acme")

    device, password = store.devices.add(client.client_id, name="Modem 1")

    assert re.fullmatch(r"device_[a-z0-9]{12}", device.device_id)
    assert len(password) >= 32
    assert password not in _dump(store, devices)
    assert store.devices.signing_keys()[device.device_id] == signing.device_signing_key(password)
    assert store.devices.get(device.device_id) == device
    assert device.name == "Modem 1" and device.client_id == client.client_id


def test_devices_are_listed_per_client_or_all(store: Store) -> None:
    acme, _ = store.clients.create("Acme")
    globex, _ = store.clients.create("Globex")
    first, _ = store.devices.add(acme.client_id)
    second, _ = store.devices.add(acme.client_id, name="Backup")
    third, _ = store.devices.add(globex.client_id)

    assert [d.device_id for d in store.devices.listed(acme.client_id)] == [first.device_id, second.device_id]
    assert {d.device_id for d in store.devices.listed()} == {first.device_id, second.device_id, third.device_id}
    assert first.name == first.device_id


def test_a_device_cannot_be_added_to_an_unknown_client(store: Store) -> None:
    with pytest.raises(UnknownClient):
        store.devices.add("client_0000000000")
    assert store.devices.listed() == []


def test_a_devices_last_seen_time_only_moves_forward(store: Store) -> None:
    client, _ = store.clients.create("Acme")
    device, _ = store.devices.add(client.client_id)
    later = utcnow()

    assert store.devices.mark_seen(device.device_id, later) is True
    assert store.devices.mark_seen(device.device_id, later - timedelta(minutes=5)) is False

    seen = store.devices.get(device.device_id)
    assert seen is not None and seen.last_seen_at == later
