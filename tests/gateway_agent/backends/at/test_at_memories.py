"""Where a modem keeps messages: the memory a URC names, the memories AT+CPMS=? offers, and how big."""

from __future__ import annotations

from gateway_agent.backends.at.memories import Location, announced, readable, size_of
from gateway_agent.backends.at.urc import Urc


def test_an_announcement_names_its_memory_and_slot_and_one_naming_none_means_the_sim() -> None:
    assert announced(Urc('+CDSI: "SR",0')) == Location("SR", 0)
    assert announced(Urc('+CMTI: "sm", 3')) == Location("SM", 3)
    assert announced(Urc("+CMTI: 7")) == Location("SM", 7)


def test_the_memories_offered_for_reading_are_the_first_list_of_the_cpms_test_answer() -> None:
    assert readable(['+CPMS: ("SM","ME","SR"),("SM","ME"),("SM","ME")']) == ("SM", "ME", "SR")
    assert readable(['+CPMS: ("ME","SM"),("ME","SM","SR"),("ME","SM")']) == ("ME", "SM")
    assert readable([]) == ()  # a modem that refuses to say


def test_the_size_of_the_memory_receiving_messages_is_the_last_total_of_the_cpms_answer() -> None:
    assert size_of(["+CPMS: 3,30,3,30,3,30"]) == 30
    assert size_of(["+CPMS: 0,255,0,255,2,20"]) == 20  # <mem3> is where received messages go
    assert size_of(['+CPMS: "SM",4,50,"SM",4,50,"SM",4,50']) == 50  # answered as a query is
    assert size_of(["+CPMS: 7,25"]) == 25  # only <mem1> told


def test_a_cpms_answer_that_says_no_size_gives_none() -> None:
    assert size_of([]) is None  # refused, or answered with a bare OK
    assert size_of(["+CPMS: 3,30,3"]) is None
    assert size_of(["+CPMS: 0,0,0,0,0,0"]) is None
    assert size_of(["+CPMS: 31,30"]) is None  # more used than there are
    assert size_of(['+CPMS: ("SM"),("SM"),("SM")']) is None
