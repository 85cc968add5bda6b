"""A device whose agent sends through a phone's SMSGate local server (the ``smsgate-local``
backend): a message sent with the API goes out through the phone and reaches delivered, and
one the phone fails is failed with the phone's words."""

from __future__ import annotations

import pytest
from e2e_gateway import BIN
from smsgate_local_phone import PASSWORD, USERNAME, local_phone

pytestmark = pytest.mark.slow


def test_a_message_sent_with_the_api_goes_through_the_phone_and_reaches_delivered(gateway):
    account = gateway.new_account()
    device, password = gateway.store.devices.add(account.client_id)
    with local_phone() as phone:
        phone.failing = {"+263779999999": "RESULT_ERROR_GENERIC_FAILURE"}
        gateway.spawn(
            f"agent-{device.device_id}",
            [str(BIN / "zimsend-agent"), "run", "--device-id", device.device_id, "--backend", "smsgate-local"],
            {
                "ZIMSEND_DEVICE_PASSWORD": password,
                "ZIMSEND_SMSGATE_URL": phone.url,
                "ZIMSEND_SMSGATE_USERNAME": USERNAME,
                "ZIMSEND_SMSGATE_PASSWORD": PASSWORD,
                "ZIMSEND_SMSGATE_POLL_SECONDS": "0.2",
            },
        )
        gateway.wait_online(account, device)
        assert gateway.device(account, device.device_id)["firmware"] == "SMSGate 1.68.0"
        delivered = gateway.queue(account, device_id=device.device_id, to="+263771234567", message="Mhoro!")
        failed = gateway.queue(account, device_id=device.device_id, to="+263779999999", message="no way")
        gateway.wait_for_status(account, delivered, "delivered")
        failure = gateway.wait_for_status(account, failed, "failed")
        assert failure["error"]["code"] == "DEVICE_ERROR"
        assert "RESULT_ERROR_GENERIC_FAILURE" in failure["error"]["detail"]
        assert phone.texts_sent() == ["Mhoro!"]
