"""The ``emulator`` backend: a modem in the agent's own process, gone when the modem is closed."""

from __future__ import annotations

import os
import time

import pytest

from gateway_agent.backends import open_modem
from gateway_agent.modem import DeliveryReport, IncomingMessage
from zimsend_common.config import load_settings


@pytest.mark.slow
def test_the_emulator_backend_is_a_working_modem_that_goes_away_on_close() -> None:
    settings = load_settings(environ={"ZIMSEND_CONFIG": os.devnull, "ZIMSEND_BACKEND": "emulator"})
    modem = open_modem(settings)
    port = modem.emulator.port_path
    with modem:
        assert modem.identify().model == "E3372"
        receipt = modem.send("+263771234567", "from the demo")
        modem.emulator.inject_incoming("+263772222222", "a reply")
        seen = []
        deadline = time.monotonic() + 6
        while len(seen) < 2 and time.monotonic() < deadline:
            if (event := modem.next_event(0.1)) is not None:
                seen.append(event)
    assert {type(event) for event in seen} == {DeliveryReport, IncomingMessage}
    assert next(e for e in seen if isinstance(e, DeliveryReport)).reference == receipt.references[0]
    assert not os.path.exists(port)


def test_the_emulated_sim_asks_for_the_configured_pin() -> None:
    environment = {"ZIMSEND_CONFIG": os.devnull, "ZIMSEND_BACKEND": "emulator", "ZIMSEND_SIM_PIN": "9876"}
    with open_modem(load_settings(environ=environment)) as modem:
        assert modem.emulator.config.pin == "9876"
        assert modem.network_state().registered
