"""The driver reads its port in the caller's thread: no thread of its own, nothing lost
while the caller is away, and a port lost meanwhile seen at the caller's next look."""

from __future__ import annotations

import threading
import time

from at_support import next_event_of

from gateway_agent.modem import DeliveryReport, PortLost

RECIPIENT = "+263771234567"


def test_the_driver_starts_no_thread_of_its_own(make_emulator, make_modem) -> None:
    emulator = make_emulator()
    before = set(threading.enumerate())
    modem = make_modem(emulator)
    modem.send(RECIPIENT, "hello")
    next_event_of(modem, DeliveryReport)
    assert set(threading.enumerate()) <= before  # none started, whatever an earlier test left ended


def test_reports_that_come_while_the_caller_is_away_are_all_handed_out_in_order(make_emulator, make_modem) -> None:
    # Direct +CDS reports: nothing of them is stored on the SIM, so only the port holds them.
    emulator = make_emulator(cnmi_report_modes=(0, 1), report_delay=0.02)
    modem = make_modem(emulator)
    references = [modem.send(RECIPIENT, f"message {n}").references[0] for n in range(10)]
    time.sleep(0.5)  # every report has come, and nobody read the port
    reports = [next_event_of(modem, DeliveryReport, timeout=2.0) for _ in references]
    assert [report.reference for report in reports] == references


def test_a_port_lost_while_the_caller_is_away_shows_at_its_next_look(tmp_path, make_emulator, make_modem) -> None:
    emulator = make_emulator(link=str(tmp_path / "modem"))
    modem = make_modem(emulator)
    emulator.vanish()
    time.sleep(0.2)
    assert isinstance(modem.next_event(0), PortLost)
