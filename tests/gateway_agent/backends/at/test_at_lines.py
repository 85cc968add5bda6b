"""Reading a modem's byte stream: lines, the bare ``> `` prompt, noise, and which lines are URCs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway_agent.backends.at.lines import PROMPT, LineSplitter, is_noise
from gateway_agent.backends.at.urc import Urc, answer_prefix, is_urc, needs_pdu_line


def test_lines_split_on_any_line_ending_even_across_reads() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"\r\n+CSQ: 2") == []
    assert splitter.feed(b"0,99\r\n\r\nOK\r") == ["+CSQ: 20,99", "OK"]
    assert splitter.feed(b"\nRING\n") == ["RING"]


def test_the_prompt_without_a_line_ending_is_recognised() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"\r\n> ") == [PROMPT]
    assert splitter.feed(b"\r\n+CMGS: 7\r\n\r\nOK\r\n") == ["+CMGS: 7", "OK"]


def test_a_prompt_read_together_with_the_line_after_it_is_still_a_prompt() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"\r\n> \r\n+CDS: 25\r\n") == [PROMPT, "+CDS: 25"]


def test_a_line_of_binary_garbage_is_noise_and_modem_speech_is_not() -> None:
    [garbage, status] = LineSplitter().feed(b"\x00\xff\xfe\r\n^RSSI:17\r\n")
    assert is_noise(garbage)
    assert not is_noise(status)


def test_registration_lines_are_answers_to_the_query_and_urcs_otherwise() -> None:
    assert not is_urc("+CREG: 0,1", answer_prefix("AT+CREG?"))
    assert is_urc("+CREG: 1", answer_prefix("AT+CSQ"))
    assert is_urc('+CMTI: "SM",3', answer_prefix("AT+CMGR=1"))
    assert not is_urc("+CMGR: 0,,25", answer_prefix("AT+CMGR=1"))
    assert not is_urc("huawei", None)


def test_message_and_report_urcs_take_the_next_line_as_their_pdu() -> None:
    assert needs_pdu_line("+CMT: ,25") and needs_pdu_line("+CDS: 25")
    assert not needs_pdu_line('+CMTI: "SM",1') and not needs_pdu_line('+CDSI: "SM",2')


def test_a_urc_names_its_arguments() -> None:
    urc = Urc('+CMTI: "SM",12')
    assert (urc.name, urc.arguments) == ("+CMTI", ["SM", "12"])
    assert Urc("RING").arguments == []


@given(st.lists(st.integers(min_value=0, max_value=12), max_size=40))
def test_how_the_bytes_are_cut_into_reads_changes_nothing(cuts: list[int]) -> None:
    stream = b'ATE0\r\r\nOK\r\n\r\n+CMTI: "SM",1\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n\r\n> '
    expected = LineSplitter().feed(stream)
    splitter, tokens, position = LineSplitter(), [], 0
    for cut in cuts:
        tokens += splitter.feed(stream[position : position + cut])
        position += cut
    tokens += splitter.feed(stream[position:])
    assert tokens == expected == ["ATE0", "OK", '+CMTI: "SM",1', "+CSQ: 20,99", "OK", PROMPT]
