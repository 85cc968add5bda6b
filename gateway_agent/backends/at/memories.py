"""Where a modem keeps messages: its memories, and the numbered slots in each.

AT+CPMS (3GPP TS 27.005 §3.2.2) names three memories: mem1, where AT+CMGL,
AT+CMGR and AT+CMGD read and delete; mem2, where messages are written; mem3,
where received messages are stored. The session sets all three to the SIM
("SM"). Some modems keep status reports in a memory of their own, "SR",
whatever AT+CPMS says, and announce them there (``+CDSI: "SR",3``): ZTE
modems do, as the Wader project's ZTE plugin records (it reads them with
``AT+CPMS="SR";+CMGR=50;+CMGD=50;+CPMS="SM"``), and some modules' manuals
give ``+CDSI: "SR",<index>`` as what ``AT+CNMI``'s ds=2 announces. Such a report is read by choosing "SR" as mem1 for a
moment. Slot 3 of "SR" is not slot 3 of the SIM, so a slot is always known by
its memory and its index together.

How many slots the SIM has is read from the answer to setting AT+CPMS
(``size_of``), so that parts waiting there for the rest of their message
leave room for new ones (``gateway_agent.pdu.reserve``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from gateway_agent.backends.at.urc import Urc

SESSION_MEMORY = "SM"
"""The memory the session reads, writes and stores in: the SIM."""
REPORT_MEMORY = "SR"
"""The memory of status reports, on the modems that keep them apart."""
HELD_MEMORY = "held"
"""Not the modem's: where the agent keeps parts acknowledged before their message was whole
(``modem.HeldParts``), numbered as it numbers them."""

_FIRST_LIST = re.compile(r"\(([^)]*)\)")
_QUOTED = re.compile(r'"([^"]*)"')


class Location(NamedTuple):
    """Where a message is stored: a memory ("SM", "SR") and its slot in it."""

    memory: str
    number: int


def announced(urc: Urc) -> Location:
    """Where a ``+CMTI``/``+CDSI`` says its message is stored; the session's memory when it
    names none. ValueError when it names no slot."""
    *memory, number = urc.arguments
    named = memory[0].upper() if memory and memory[0] else SESSION_MEMORY
    return Location(named, int(number))


def readable(test_answer: list[str]) -> tuple[str, ...]:
    """The memories an ``AT+CPMS=?`` answer offers as mem1, in its first list
    (``+CPMS: ("SM","ME","SR"),("SM","ME"),("SM","ME")``); () when it shows none."""
    line = next((line for line in test_answer if line.startswith("+CPMS:")), "")
    first = _FIRST_LIST.search(line)
    return tuple(memory.upper() for memory in _QUOTED.findall(first.group(1))) if first else ()


def size_of(set_answer: list[str]) -> int | None:
    """How many slots the memory that receives messages (<mem3>) has, from the answer to setting
    AT+CPMS (27.005 §3.2.2: ``+CPMS: <used1>,<total1>,<used2>,<total2>,<used3>,<total3>``; some
    modems name each memory before its counts, as the query's answer does); None when it shows none."""
    line = next((line for line in set_answer if line.startswith("+CPMS:")), "")
    fields = (field.strip() for field in line.partition(":")[2].split(","))
    counts = [int(field) for field in fields if field.isdigit()]  # no memory's name has a digit
    if len(counts) < 2 or len(counts) % 2:
        return None
    used, total = counts[-2:]
    return total if total > 0 and used <= total else None


def stored(answer: list[str], prefix: str) -> list[tuple[str, str]]:
    """Each ``prefix`` header line of a listing (``+CMGL:``, ``+CMGR:``) with the PDU line that follows it."""
    return [
        (line, following)
        for line, following in zip(answer, answer[1:])
        if line.startswith(prefix) and not following.startswith(prefix)
    ]
