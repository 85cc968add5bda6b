"""The ``smsgate-local`` backend: an Android phone running the SMSGate app, through the app's
local server (on the LAN, or over USB with ``adb forward``), for a phone that cannot reach the relay."""

from __future__ import annotations

from gateway_agent.backends.smsgate_local.local_api import LocalApi
from gateway_agent.backends.smsgate_local.phone_modem import PhoneModem
from zimsend_common.config import Settings


def create(settings: Settings) -> PhoneModem:
    """A ``PhoneModem`` for the configured local server and credentials; not yet opened."""
    phone = settings.smsgate
    return PhoneModem(
        LocalApi(phone.smsgate_url, phone.smsgate_username, phone.smsgate_password.get_secret_value()),
        sim_number=phone.smsgate_sim_number or None,
        poll_seconds=phone.smsgate_poll_seconds,
        send_timeout_seconds=settings.agent.send_timeout_seconds,
    )
