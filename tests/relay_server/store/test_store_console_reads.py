"""What the console reads beside the API's own queries: counts per hour, a device's connect history,
every client, and operators' passwords."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_factories import new_message
from store_rows import every_row

from relay_server.store import operators
from relay_server.store.models import StatusChange
from zimsend_common.timefmt import utcnow


def test_counts_per_hour_say_what_went_out_arrived_and_failed_and_how_fast(store):
    client, _key = store.clients.create("acme")
    device, _password = store.devices.add(client.client_id)
    stored = store.insert_messages(
        [new_message(client.client_id, body="hi", device_id=device.device_id) for _ in range(3)]
    )
    caller = store.clients.authenticate(client.client_id, _key)
    sent_at = utcnow()
    for message in stored:
        store.apply_status_change(StatusChange(message.message_id, "sent", sent_at, device_id=device.device_id))
    store.apply_status_change(StatusChange(stored[0].message_id, "delivered", sent_at + timedelta(seconds=4)))
    store.apply_status_change(StatusChange(stored[1].message_id, "delivered", sent_at + timedelta(seconds=8)))
    store.apply_status_change(StatusChange(stored[2].message_id, "failed", sent_at + timedelta(seconds=1)))
    [hour] = store.hourly_counts.hourly(caller, utcnow() - timedelta(hours=1))
    assert (hour.sent, hour.delivered, hour.failed) == (3, 2, 1)
    assert hour.latency_seconds == pytest.approx(6.0)
    assert hour.hour == stored[0].created_at.replace(minute=0, second=0, microsecond=0)
    assert store.hourly_counts.hourly(caller, utcnow() - timedelta(hours=1), "device_other") == []
    other, other_key = store.clients.create("globex")
    assert (
        store.hourly_counts.hourly(
            store.clients.authenticate(other.client_id, other_key), utcnow() - timedelta(hours=1)
        )
        == []
    )


def test_a_devices_connect_history_is_newest_first_and_its_clients_only(store):
    client, _key = store.clients.create("acme")
    device, _password = store.devices.add(client.client_id)
    [state] = store.devices.states(device_id=device.device_id)
    now = utcnow()
    store.devices.record_transition(state, online=True, at=now - timedelta(minutes=5))
    store.devices.record_transition(state, online=False, at=now, reason="CONNECTION_LOST")
    changes = store.device_history.transitions(client.client_id, device.device_id)
    assert [(change.connected, change.reason) for change in changes] == [(False, "CONNECTION_LOST"), (True, None)]
    other, _other_key = store.clients.create("globex")
    assert store.device_history.transitions(other.client_id, device.device_id) == []


def test_the_operator_lists_every_client_disabled_ones_too(store):
    acme, _ = store.clients.create("acme")
    globex, _ = store.clients.create("globex")
    store.clients.disable(globex.client_id)
    listed = {client.client_id: client.disabled for client in store.overview.list_clients()}
    assert listed == {acme.client_id: False, globex.client_id: True}


def test_an_operators_password_is_checked_and_only_its_digest_kept(store):
    password = store.operators.add("ops")
    assert store.operators.verify("ops", password)
    wrong = password[:-1] + ("y" if password.endswith("x") else "x")  # one character off, whatever it was
    assert not store.operators.verify("ops", wrong)
    assert not store.operators.verify("nobody", password)
    assert store.operators.exists("ops") and not store.operators.exists("nobody")
    with pytest.raises(operators.OperatorExists):
        store.operators.add("ops")
    assert password not in every_row(store.engine)
