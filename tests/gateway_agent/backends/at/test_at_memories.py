"""Where a modem keeps messages: the memory a URC names and the memories AT+CPMS=? offers."""

from __future__ import annotations

from gateway_agent.backends.at.memories import Location, announced, readable
from gateway_agent.backends.at.urc import Urc


def test_an_announcement_names_its_memory_and_slot_and_one_naming_none_means_the_sim() -> None:
    assert announced(Urc('+CDSI: "SR",0')) == Location("SR", 0)
    assert announced(Urc('+CMTI: "sm", 3')) == Location("SM", 3)
    assert announced(Urc("+CMTI: 7")) == Location("SM", 7)


def test_the_memories_offered_for_reading_are_the_first_list_of_the_cpms_test_answer() -> None:
    assert readable(['+CPMS: ("SM","ME","SR"),("SM","ME"),("SM","ME")']) == ("SM", "ME", "SR")
    assert readable(['+CPMS: ("ME","SM"),("ME","SM","SR"),("ME","SM")']) == ("ME", "SM")
    assert readable([]) == ()  # a modem that refuses to say
