"""A client with a modem agent and a phone: each device sends only what is its own."""

from __future__ import annotations

import pytest
from e2e_gateway import wait_until
from smsgate_phone import Phone

pytestmark = pytest.mark.slow


def test_a_phones_message_never_leaves_through_the_modem_and_a_shared_one_never_through_the_phone(gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    _, token = gateway.store.mobile_devices.add_android(account.client_id, None)
    phone = Phone(gateway.base_url.removesuffix("/v1") + "/api/mobile/v1", token)
    assert phone.register().status_code == 201
    phone.use_sse()
    with phone.events() as stream:
        wait_until(lambda: gateway.device(account, phone.device_id)["online"], "the phone online")
        for_phone = gateway.queue(account, device_id=phone.device_id, to="+263771234567", message="par le téléphone")
        shared = gateway.queue(account, to="+263771234568", message="par le modem")
        assert stream.next_event(timeout=30).name == "MessageEnqueued"
        gateway.wait_for_status(account, shared, "sent", "delivered")
        assert [message["id"] for message in phone.pull()] == [for_phone]
        assert phone.report(for_phone, "Delivered").status_code == 204
        gateway.wait_for_status(account, for_phone, "delivered")
    assert agent.texts_sent() == ["par le modem"]
