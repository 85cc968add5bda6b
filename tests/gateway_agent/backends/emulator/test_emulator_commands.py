"""The emulated modem as a terminal program sees it: AT commands typed into its pty, answers read back."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import serial

from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator
from gateway_agent.pdu import decode_incoming, encode_submit


class Terminal:
    """A serial connection to the emulator, typing commands and reading what comes back."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 115200, timeout=0.05)

    def type(self, text: str) -> None:
        self.port.write(text.encode("latin-1"))

    def read_until(self, ending: bytes, timeout: float = 3.0) -> str:
        data = b""
        deadline = time.monotonic() + timeout
        while not data.endswith(ending) and time.monotonic() < deadline:
            data += self.port.read(256)
        return data.decode("latin-1")

    def read_through(self, text: bytes, timeout: float = 3.0) -> str:
        """All that arrives until ``text`` is among it, and any more that came in the same read."""
        data = b""
        deadline = time.monotonic() + timeout
        while text not in data and time.monotonic() < deadline:
            data += self.port.read(256)
        return data.decode("latin-1")

    def submit(self, text: str, *, length_off_by: int = 0) -> str:
        """Type AT+CMGS for one part to +263771234567, and its PDU once the prompt came;
        what arrived up to the prompt."""
        [part] = encode_submit("+263771234567", text)
        self.type(f"AT+CMGS={part.tpdu_length + length_off_by}\r")
        arrived = self.read_through(b"> ")
        self.type(part.hex + "\x1a")
        return arrived

    def wait_for(self, pattern: str, timeout: float = 3.0) -> re.Match[str]:
        """The first match of ``pattern`` in what arrives within ``timeout``."""
        data = ""
        deadline = time.monotonic() + timeout
        while (match := re.search(pattern, data)) is None and time.monotonic() < deadline:
            data += self.port.read(256).decode("latin-1")
        assert match is not None, f"{pattern!r} never came: {data!r}"
        return match

    def command(self, line: str) -> list[str]:
        """The lines answering ``line``, up to and including its final result."""
        self.type(line + "\r")
        data = ""
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            data += self.read_until(b"\r\n", timeout=0.2)
            lines = [part for part in data.split("\r\n") if part]
            if lines and (lines[-1] in ("OK", "ERROR") or " ERROR: " in lines[-1]):
                return lines
        raise AssertionError(f"no final result for {line!r}: {data!r}")


@pytest.fixture
def start() -> Iterator[Callable[..., tuple[ModemEmulator, Terminal]]]:
    running: list[tuple[ModemEmulator, Terminal]] = []

    def make(**knobs: object) -> tuple[ModemEmulator, Terminal]:
        emulator = ModemEmulator(EmulatorConfig(**knobs)).start()  # type: ignore[arg-type]
        running.append((emulator, Terminal(emulator.port_path)))
        return running[-1]

    yield make
    for emulator, terminal in running:
        terminal.port.close()
        emulator.stop()


def test_commands_are_echoed_until_echo_is_turned_off(start) -> None:
    _, terminal = start()
    assert terminal.command("AT") == ["AT\r", "OK"]
    assert terminal.command("ATE0") == ["ATE0\r", "OK"]
    assert terminal.command("AT") == ["OK"]


def test_errors_follow_cmee_plain_numeric_or_verbose(start) -> None:
    _, terminal = start()
    terminal.command("ATE0")
    assert terminal.command("AT+CMGR=9") == ["ERROR"]
    terminal.command("AT+CMEE=1")
    assert terminal.command("AT+CMGR=9") == ["+CMS ERROR: 321"]
    terminal.command("AT+CMEE=2")
    assert terminal.command("AT+CMGR=9") == ["+CMS ERROR: invalid memory index"]


def test_an_unknown_command_is_an_error(start) -> None:
    _, terminal = start()
    terminal.command("ATE0")
    assert terminal.command("AT+XYZZY") == ["ERROR"]


def test_identity_and_network_queries_answer_like_a_huawei_stick(start) -> None:
    _, terminal = start(no_network_for=30)
    terminal.command("ATE0")
    assert terminal.command("AT+CGMI") == ["huawei", "OK"]
    assert terminal.command("AT+CSCS?") == ['+CSCS: "GSM"', "OK"]
    assert terminal.command("AT+CREG?") == ["+CREG: 0,2", "OK"]
    assert terminal.command("AT+CSQ") == ["+CSQ: 99,99", "OK"]
    assert terminal.command("AT+COPS?") == ["+COPS: 0", "OK"]


def test_the_operator_is_named_in_the_format_asked_for(start) -> None:
    _, terminal = start()
    terminal.command("ATE0")
    terminal.command("AT+COPS=3,2")
    assert terminal.command("AT+COPS?") == ['+COPS: 0,2,"64804",2', "OK"]
    terminal.command("AT+CREG=2")
    assert terminal.command("AT+CREG?") == ['+CREG: 2,1,"00A1","0001B2C3",7', "OK"]


def test_a_pdu_typed_after_the_prompt_is_sent_with_the_next_reference(start) -> None:
    emulator, terminal = start(first_reference=254, report_delay=None)
    terminal.command("ATE0")
    references = []
    for text in ("one", "two", "three"):
        assert terminal.submit(text) == "\r\n> "
        answer = terminal.command("")  # the answer to the PDU
        references.append(answer[0])
    assert references == ["+CMGS: 254", "+CMGS: 255", "+CMGS: 0"]
    assert [r.text for r in emulator.sent] == ["one", "two", "three"]


def test_the_submissions_named_are_refused_for_now_and_each_accepted_part_is_logged(start) -> None:
    emulator, terminal = start(refused_submissions=(2,), report_delay=None)
    terminal.command("ATE0")
    terminal.command("AT+CMEE=1")
    answers = []
    for text in ("one", "two", "two"):
        terminal.submit(text)
        answers.append(terminal.command("")[0])
    assert answers == ["+CMGS: 0", "+CMS ERROR: 500", "+CMGS: 1"]
    assert [(part.recipient, part.reference) for part in emulator.accepted_parts] == [
        ("+263771234567", 0),
        ("+263771234567", 1),
    ]


def test_a_pdu_whose_length_does_not_match_is_refused(start) -> None:
    emulator, terminal = start()
    terminal.command("ATE0")
    terminal.command("AT+CMEE=1")
    terminal.submit("hello", length_off_by=1)
    assert terminal.command("") == ["+CMS ERROR: 304"]
    assert emulator.sent == []


def test_stored_messages_are_listed_read_and_deleted(start) -> None:
    emulator, terminal = start()
    terminal.command("ATE0")
    emulator.inject_incoming("+263772222222", "first")
    emulator.inject_incoming("+263773333333", "second")
    listing = terminal.command("AT+CMGL=4")
    assert [line.split(",")[0] for line in listing[0:4:2]] == ["+CMGL: 1", "+CMGL: 2"]
    assert decode_incoming(listing[3]).text == "second"
    assert terminal.command("AT+CMGR=1")[0].startswith("+CMGR: 1,")  # now read
    terminal.command("AT+CMGD=1")
    assert emulator.stored == 1
    assert terminal.command("AT+CMGD=0,4") == ["OK"] and emulator.stored == 0


def test_messages_for_a_full_sim_are_kept_by_the_network_and_stored_in_order_as_slots_are_freed(start) -> None:
    emulator, terminal = start(storage_size=1)
    terminal.command("ATE0")
    terminal.command("AT+CNMI=2,1,0,0,0")
    emulator.inject_incoming("+263772222222", "fills the SIM")
    terminal.wait_for(r'\+CMTI: "SM",1\r\n')
    emulator.inject_incoming("+263772222222", "kept first")
    emulator.inject_incoming("+263772222222", "kept second")
    assert (emulator.stored, emulator.held) == (1, 2)
    assert terminal.command("AT+CPMS?")[0] == '+CPMS: "SM",1,1,"SM",1,1,"SM",1,1'
    terminal.type("AT+CMGD=1\r")
    terminal.wait_for(r'OK\r\n\r\n\+CMTI: "SM",1\r\n')  # the network hands one over the moment a slot is free
    assert decode_incoming(terminal.command("AT+CMGR=1")[1]).text == "kept first"
    assert emulator.held == 1


def test_new_messages_and_reports_are_announced_as_cnmi_asks(start) -> None:
    emulator, terminal = start(report_delay=0.05)
    terminal.command("ATE0")
    terminal.command("AT+CNMI=2,1,0,1,0")
    emulator.inject_incoming("+263772222222", "hello")
    terminal.wait_for(r'\r\n\+CMTI: "SM",1\r\n')
    terminal.submit("report me")
    pdu = terminal.wait_for(r"\+CDS: \d+\r\n([0-9A-F]+)\r\n").group(1)
    report = decode_incoming(pdu)
    assert (report.message_reference, report.recipient, report.status) == (0, "+263771234567", 0)


def test_a_modem_keeping_reports_in_sr_announces_them_there_and_reads_them_once_sr_is_chosen(start) -> None:
    emulator, terminal = start(report_delay=0.05, reports_in_sr=True)
    terminal.command("ATE0")
    assert terminal.command("AT+CPMS=?")[0] == '+CPMS: ("SM","SR"),("SM"),("SM")'
    terminal.command('AT+CPMS="SM","SM","SM"')
    terminal.command("AT+CNMI=2,1,0,2,0")
    terminal.submit("report me")
    terminal.wait_for(r'\r\n\+CDSI: "SR",1\r\n')
    assert terminal.command("AT+CMGR=1") == ["ERROR"]  # the SIM has no slot 1
    assert terminal.command('AT+CPMS="SR"') == ["+CPMS: 1,30,0,30,0,30", "OK"]
    report = decode_incoming(terminal.command("AT+CMGR=1")[1])
    assert (report.message_reference, report.recipient) == (0, "+263771234567")
    terminal.command("AT+CMGD=1")
    assert emulator.stored == 0
    assert terminal.command("AT+CPMS?")[0] == '+CPMS: "SR",0,30,"SM",0,30,"SM",0,30'


def test_a_report_due_at_once_comes_after_the_answer_to_its_send(start) -> None:
    _, terminal = start(report_delay=0.0)
    terminal.command("ATE0")
    terminal.command("AT+CNMI=2,1,0,1,0")
    terminal.submit("report me now")
    received = terminal.wait_for(r"(?s)^(.*?)\+CDS: ").group(1)
    assert re.fullmatch(r"\r\n\+CMGS: 0\r\n\r\nOK\r\n\r\n", received)


def test_reports_come_in_the_order_of_their_sends_with_no_thread_started_for_them(start) -> None:
    emulator, terminal = start(report_delay=0.05)
    terminal.command("ATE0")
    terminal.command("AT+CNMI=2,1,0,1,0")
    threads = set(threading.enumerate())
    received = ""
    for text in ("one", "two", "three", "four"):
        received += terminal.submit(text)
        received += terminal.read_through(b"OK\r\n")
        assert set(threading.enumerate()) <= threads
    received += terminal.read_until(b"never", timeout=0.5)
    pdus = re.findall(r"\+CDS: \d+\r\n([0-9A-F]+)\r\n", received)
    assert [decode_incoming(pdu).message_reference for pdu in pdus] == [0, 1, 2, 3]


def test_a_pin_locked_sim_refuses_sms_until_unlocked(start) -> None:
    _, terminal = start(pin="1234")
    terminal.command("ATE0")
    terminal.command("AT+CMEE=1")
    assert terminal.command("AT+CPIN?") == ["+CPIN: SIM PIN", "OK"]
    assert terminal.command("AT+CMGF=0") == ["+CME ERROR: 11"]
    assert terminal.command('AT+CPIN="9999"') == ["+CME ERROR: 16"]
    assert terminal.command('AT+CPIN="1234"') == ["OK"]
    assert terminal.command("AT+CPIN?") == ["+CPIN: READY", "OK"]


def test_three_wrong_pins_block_the_sim(start) -> None:
    _, terminal = start(pin="1234")
    terminal.command("ATE0")
    for _ in range(3):
        terminal.command('AT+CPIN="0000"')
    assert terminal.command("AT+CPIN?") == ["+CPIN: SIM PUK", "OK"]


def test_vanish_closes_the_port_and_restore_brings_a_fresh_one_behind_the_link(start, tmp_path) -> None:
    link = tmp_path / "ttyUSB2"
    emulator, terminal = start(link=str(link))
    old_target = link.resolve()
    emulator.vanish()
    assert not link.exists()
    with pytest.raises(serial.SerialException):
        terminal.port.read(10)
    emulator.restore()
    assert link.exists() and link.resolve() != old_target
    fresh = Terminal(str(link))
    try:
        assert fresh.command("AT") == ["AT\r", "OK"]  # rebooted: echo is on again
    finally:
        fresh.port.close()
