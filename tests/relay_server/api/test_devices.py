"""GET /v1/devices and /v1/devices/:device_id over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sealed_heartbeats import leave_heartbeat

from zimsend_common.timefmt import isoformat_z, utcnow


def test_devices_list_shows_what_the_heartbeats_said_and_who_is_online(relay, acme):
    live = relay.new_device(acme.client_id)
    silent = relay.new_device(acme.client_id)
    seen = utcnow().replace(microsecond=0)
    relay.store.devices.record_heartbeat(
        live,
        seen,
        {
            "signal_percent": 64,
            "operator": "Econet",
            "model": "SIM800L",
            "firmware": "1418B05",
            "phone_number": "+263771000222",
            "sent_today": 9,
            "queue_depth": 3,
        },
    )
    relay.store.devices.record_heartbeat(silent, seen - timedelta(hours=1), {"model": "E173"})
    answer = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True and body["total"] == 2
    by_id = {device["device_id"]: device for device in body["devices"]}
    assert by_id[live] == {
        "device_id": live,
        "name": relay.store.devices.get(live).name,
        "online": True,
        "last_seen": isoformat_z(seen),
        "signal": 64,
        "operator": "Econet",
        "registration": None,
        "phone_number": "+263771000222",
        "model": "SIM800L",
        "manufacturer": None,
        "firmware": "1418B05",
        "sent_today": 9,
        "queue_depth": 3,
        "daily_limit_reached_until": None,
        "shared_paused_until": None,
        "prefixes": [],
        "daily_send_limit": None,
    }
    assert by_id[silent]["online"] is False and by_id[silent]["model"] == "E173"


def test_a_device_never_heard_from_is_listed_offline_with_no_state(relay, acme):
    device = relay.new_device(acme.client_id)
    body = requests.get(relay.url(f"/devices/{device}"), headers=acme.headers, timeout=5).json()
    assert (body["success"], body["device_id"], body["online"], body["last_seen"], body["signal"]) == (
        True,
        device,
        False,
        None,
        None,
    )


def test_another_clients_device_is_not_found_as_invalid_device_id(relay, acme):
    other = relay.new_client("globex")
    theirs = relay.new_device(other.client_id)
    answer = requests.get(relay.url(f"/devices/{theirs}"), headers=acme.headers, timeout=5)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "INVALID_DEVICE_ID"
    listed = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5).json()
    assert listed["devices"] == []


@pytest.mark.parametrize("device_id", ["%00", "device_%00abcdefabcd", "%C3%A9" * 20, "x" * 300])
def test_a_device_id_that_cannot_be_one_is_not_found(relay, acme, device_id):
    answer = requests.get(relay.url(f"/devices/{device_id}"), headers=acme.headers, timeout=5)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "INVALID_DEVICE_ID"


def test_a_device_whose_latest_heartbeat_waits_for_the_worker_is_shown_online_as_sends_see_it(relay, acme):
    device, password = relay.store.devices.add(acme.client_id)
    device_id = device.device_id
    offline_after = timedelta(seconds=relay.settings.relay.device_offline_after_seconds)
    relay.store.devices.record_heartbeat(
        device_id, utcnow() - offline_after - timedelta(seconds=5), {"operator": "Econet"}
    )
    # The agent's newest heartbeat, under its key: the worker has not applied it yet.
    seen = utcnow().replace(microsecond=0)
    leave_heartbeat(relay.redis, device_id, password, seen, state="online", operator="NetOne")

    listed = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5).json()["devices"]
    one = requests.get(relay.url(f"/devices/{device_id}"), headers=acme.headers, timeout=5).json()
    tested = requests.get(relay.url("/auth/test"), headers={**acme.headers, "X-Device-ID": device_id}, timeout=5)

    assert [(d["online"], d["last_seen"]) for d in listed] == [(True, isoformat_z(seen))]
    # All of it the newest heartbeat's word, as the worker will record it.
    assert (one["online"], one["last_seen"], one["operator"]) == (True, isoformat_z(seen), "NetOne")
    assert tested.json()["device_status"] == "online"


# The pauses a heartbeat tells: the device sent its day's limit; its SIM refused for want of credit.
PAUSES = ["daily_limit_reached_until", "shared_paused_until"]


@pytest.mark.parametrize("field", PAUSES)
def test_a_paused_device_is_listed_online_with_when_its_pause_ends(relay, acme, field):
    device, password = relay.store.devices.add(acme.client_id)
    device_id = device.device_id
    seen = utcnow().replace(microsecond=0)
    ends = seen + timedelta(hours=3)
    # Its agent's heartbeat, under its key: the worker has not applied it yet.
    leave_heartbeat(relay.redis, device_id, password, seen, state="online", **{field: isoformat_z(ends)})

    listed = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5).json()["devices"]
    one = requests.get(relay.url(f"/devices/{device_id}"), headers=acme.headers, timeout=5).json()

    [other] = set(PAUSES) - {field}
    assert [(d["online"], d[field], d[other]) for d in listed] == [(True, isoformat_z(ends), None)]
    assert (one["online"], one[field], one[other]) == (True, isoformat_z(ends), None)


@pytest.mark.parametrize("field", PAUSES)
def test_a_pause_whose_end_has_come_is_shown_as_none(relay, acme, field):
    device = relay.new_device(acme.client_id)
    seen = utcnow().replace(microsecond=0)
    relay.store.devices.record_heartbeat(device, seen, {field: isoformat_z(seen - timedelta(seconds=1))})

    one = requests.get(relay.url(f"/devices/{device}"), headers=acme.headers, timeout=5).json()

    assert (one["online"], one[field]) == (True, None)


def test_a_disabled_device_is_left_out_as_a_deleted_one_and_an_enabled_one_is_back(relay, acme):
    kept, gone = relay.new_device(acme.client_id), relay.new_device(acme.client_id)

    relay.store.devices.disable(gone)

    listed = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5).json()
    assert [device["device_id"] for device in listed["devices"]] == [kept] and listed["total"] == 1
    answer = requests.get(relay.url(f"/devices/{gone}"), headers=acme.headers, timeout=5)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "INVALID_DEVICE_ID"
    sent = requests.post(
        relay.url("/sms/send"),
        headers={**acme.headers, "X-Device-ID": gone},
        json={"to": "+33612345678", "message": "Hi"},
        timeout=5,
    )
    assert sent.status_code == 404 and sent.json()["error"]["code"] == "INVALID_DEVICE_ID"

    relay.store.devices.enable(gone)

    listed = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5).json()
    assert [device["device_id"] for device in listed["devices"]] == [kept, gone]


def sent_today(relay, acme, device: str) -> tuple[int, int]:
    """``sent_today`` as the device's own answer and the list show it."""
    one = requests.get(relay.url(f"/devices/{device}"), headers=acme.headers, timeout=5).json()
    [listed] = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5).json()["devices"]
    return one["sent_today"], listed["sent_today"]


def test_sent_today_of_a_device_silent_for_longer_than_any_day_is_zero(relay, acme):
    device = relay.new_device(acme.client_id)
    # No local day lasts more than 25 hours: the one its last heartbeat counted is over, wherever it is.
    relay.store.devices.record_heartbeat(device, utcnow() - timedelta(hours=25, minutes=1), {"sent_today": 9})

    assert sent_today(relay, acme, device) == (0, 0)


def test_sent_today_of_a_device_whose_next_day_has_begun_as_it_told_is_zero(relay, acme):
    device = relay.new_device(acme.client_id)
    seen = utcnow() - timedelta(hours=2)
    # It sent its day's limit, and told when its next day begins: an hour ago.
    data = {"sent_today": 40, "daily_limit_reached_until": isoformat_z(seen + timedelta(hours=1))}
    relay.store.devices.record_heartbeat(device, seen, data)

    assert sent_today(relay, acme, device) == (0, 0)


def test_sent_today_of_a_device_silent_for_less_than_a_day_that_told_no_day_end_is_its_last_count(relay, acme):
    device = relay.new_device(acme.client_id)
    # Its day may or may not be over: the relay does not know the device's midnight.
    relay.store.devices.record_heartbeat(device, utcnow() - timedelta(hours=20), {"sent_today": 9})

    assert sent_today(relay, acme, device) == (9, 9)


def test_sent_today_of_a_device_whose_day_ended_as_its_heartbeat_told_is_zero(relay, acme):
    over, current = relay.new_device(acme.client_id), relay.new_device(acme.client_id)
    seen = utcnow() - timedelta(hours=3)
    # Its agent told when its day ends, by its host's midnight: an hour ago, and in an hour.
    for device, ends in ((over, seen + timedelta(hours=2)), (current, seen + timedelta(hours=4))):
        relay.store.devices.record_heartbeat(device, seen, {"sent_today": 9, "day_ends_at": isoformat_z(ends)})

    listed = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5).json()["devices"]
    one = requests.get(relay.url(f"/devices/{over}"), headers=acme.headers, timeout=5).json()

    assert [device["sent_today"] for device in listed] == [0, 9]
    assert one["sent_today"] == 0


def test_sent_today_of_a_device_silent_for_longer_than_any_day_is_zero_whatever_day_end_it_told(relay, acme):
    device = relay.new_device(acme.client_id)
    # A clock far off, or a device saying anything: no day held by the heartbeat lasts this long.
    seen = utcnow() - timedelta(hours=25, minutes=1)
    data = {"sent_today": 9, "day_ends_at": isoformat_z(seen + timedelta(days=3))}
    relay.store.devices.record_heartbeat(device, seen, data)

    assert sent_today(relay, acme, device) == (0, 0)


def test_a_device_shows_the_destination_prefixes_it_is_the_route_for(relay, acme):
    econet = relay.new_device(acme.client_id)
    relay.new_device(acme.client_id)
    relay.store.devices.set_prefixes(econet, ["+26377", "+26378"])

    listed = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5).json()["devices"]
    one = requests.get(relay.url(f"/devices/{econet}"), headers=acme.headers, timeout=5).json()

    assert [device["prefixes"] for device in listed] == [["+26377", "+26378"], []]
    assert one["prefixes"] == ["+26377", "+26378"]


def test_each_device_shows_the_daily_send_limit_its_agent_told_and_null_when_not_told(relay, acme):
    limited = relay.new_device(acme.client_id)
    unlimited = relay.new_device(acme.client_id)
    untold = relay.new_device(acme.client_id)  # a phone, or an agent older than the limit's telling
    seen = utcnow().replace(microsecond=0)
    relay.store.devices.record_heartbeat(limited, seen, {"state": "online", "sent_today": 7, "daily_send_limit": 50})
    relay.store.devices.record_heartbeat(unlimited, seen, {"state": "online", "daily_send_limit": 0})
    relay.store.devices.record_heartbeat(untold, seen, {"state": "online", "sent_today": 3})

    listed = requests.get(relay.url("/devices"), headers=acme.headers, timeout=5).json()["devices"]
    one = requests.get(relay.url(f"/devices/{limited}"), headers=acme.headers, timeout=5).json()

    assert [(d["sent_today"], d["daily_send_limit"]) for d in listed] == [(7, 50), (0, 0), (3, None)]
    assert (one["sent_today"], one["daily_send_limit"]) == (7, 50)


def test_the_daily_send_limit_of_a_heartbeat_waiting_for_the_worker_is_shown(relay, acme):
    device, password = relay.store.devices.add(acme.client_id)
    relay.store.devices.record_heartbeat(device.device_id, utcnow() - timedelta(minutes=1), {"daily_send_limit": 20})
    # The agent's newest heartbeat, under its key, tells a new limit: the worker has not applied it yet.
    leave_heartbeat(relay.redis, device.device_id, password, utcnow(), state="online", daily_send_limit=50)

    one = requests.get(relay.url(f"/devices/{device.device_id}"), headers=acme.headers, timeout=5).json()

    assert one["daily_send_limit"] == 50


def test_a_negative_daily_send_limit_told_is_shown_as_no_limit_as_routing_reads_it(relay, acme):
    device = relay.new_device(acme.client_id)
    relay.store.devices.record_heartbeat(device, utcnow(), {"state": "online", "daily_send_limit": -1})

    answer = requests.get(relay.url(f"/devices/{device}"), headers=acme.headers, timeout=5)

    assert answer.status_code == 200 and answer.json()["daily_send_limit"] == 0
