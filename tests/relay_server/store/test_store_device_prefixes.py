"""The destination prefixes a device is the route for: E.164 only, never a phone's, and a refusal changes nothing."""

from __future__ import annotations

import pytest

from relay_server.store import Store, ids
from relay_server.store.devices import valid_prefix
from relay_server.store.errors import InvalidPrefixes
from relay_server.store.models import Caller


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("+26377", True),
        ("+1", True),
        ("+263771234567890", True),
        ("+2637712345678901", False),
        ("26377", False),
        ("+0263", False),
        ("+2637x", False),
        ("+", False),
    ],
)
def test_a_prefix_is_e164(text: str, valid: bool) -> None:
    assert valid_prefix(text) is valid


def test_a_device_becomes_the_route_for_each_prefix_once_in_the_order_given(store: Store, live_caller: Caller) -> None:
    device, _ = store.devices.add(live_caller.client_id)

    routed = store.devices.set_prefixes(device.device_id, ["+26377", "+26378", "+26377"])

    assert routed is not None and routed.prefixes == ("+26377", "+26378")
    assert store.devices.get(device.device_id).prefixes == ("+26377", "+26378")


def test_prefixes_not_e164_are_refused_by_name_and_change_nothing(store: Store, live_caller: Caller) -> None:
    device, _ = store.devices.add(live_caller.client_id)
    store.devices.set_prefixes(device.device_id, ["+26371"])

    with pytest.raises(InvalidPrefixes) as refused:
        store.devices.set_prefixes(device.device_id, ["+26377", "26378", "+0263"])

    assert refused.value.prefixes == ("26378", "+0263")
    assert store.devices.get(device.device_id).prefixes == ("+26371",)


def test_a_phone_may_be_a_route_and_be_cleared(store: Store, live_caller: Caller) -> None:
    phone, _token = store.devices.add_android(live_caller.client_id, "Pixel")

    routed = store.devices.set_prefixes(phone.device_id, ["+26377"])

    assert routed is not None and store.devices.get(phone.device_id).prefixes == ("+26377",)
    cleared = store.devices.set_prefixes(phone.device_id, [])
    assert cleared is not None and cleared.prefixes == ()


def test_an_unknown_device_is_answered_none(store: Store) -> None:
    assert store.devices.set_prefixes(ids.new_device_id(), ["+26377"]) is None
