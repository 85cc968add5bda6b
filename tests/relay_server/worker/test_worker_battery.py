"""A phone's heartbeat tells its battery, which the worker keeps on the device's state;
a battery that is no percent, or a flag that is no yes or no, is not kept."""

from __future__ import annotations

from relay_parts import Parts

from relay_server.mobile.reports import Battery, heartbeat_data
from relay_server.store.device_state import DeviceState
from relay_server.store.mobile_devices import AppReport, MobileDevice
from relay_server.worker.events import apply_event
from zimsend_common import signing, wire
from zimsend_common.timefmt import isoformat_precise, utcnow


def _phone(parts: Parts) -> MobileDevice:
    caller = parts.client()
    device, token = parts.store.mobile_devices.add_android(caller.client_id, "Pixel")
    assert parts.store.mobile_devices.register(token, AppReport(app_version="1.68.0"), utcnow()) is not None
    phone = parts.store.mobile_devices.get_registered(device.device_id)
    assert phone is not None
    return phone


def _beat(phone: MobileDevice, battery: Battery | None) -> None:
    """Apply the heartbeat the relay makes for the phone, as the worker takes it off the queue."""
    data = heartbeat_data(phone, "1.68.0", battery)
    document = wire.Event(
        kind="heartbeat", device_id=phone.device_id, at=isoformat_precise(utcnow()), data=data
    ).to_dict()
    assert apply_event(document, signing.sign(document, phone.signing_key)) == "applied"


def _state(parts: Parts, device_id: str) -> DeviceState:
    [state] = parts.store.devices.states(device_id=device_id)
    return state


def test_a_phones_heartbeat_with_its_battery_is_kept_on_the_device_state(parts: Parts):
    phone = _phone(parts)
    _beat(phone, (94, True))
    state = _state(parts, phone.device_id)
    assert state.is_phone
    assert (state.battery_percent, state.battery_charging) == (94, True)
    _beat(phone, (93, False))
    state = _state(parts, phone.device_id)
    assert (state.battery_percent, state.battery_charging) == (93, False)


def test_a_heartbeat_with_a_battery_that_is_no_percent_keeps_none(parts: Parts):
    phone = _phone(parts)
    _beat(phone, (140, True))
    state = _state(parts, phone.device_id)
    assert (state.battery_percent, state.battery_charging) == (None, True)
    modem = parts.device(parts.client())
    modem.heartbeat(battery_percent="94", battery_charging=4)
    state = _state(parts, modem.device_id)
    assert (state.battery_percent, state.battery_charging) == (None, None)
    assert state.signal_percent == 71  # the rest of the heartbeat is kept


def test_a_modems_heartbeat_tells_no_battery(parts: Parts):
    modem = parts.device(parts.client())
    modem.heartbeat()
    state = _state(parts, modem.device_id)
    assert not state.is_phone
    assert (state.battery_percent, state.battery_charging) == (None, None)
