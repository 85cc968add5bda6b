"""Reading a modem's answers about its network: registration, operator, signal."""

from __future__ import annotations

from gateway_agent.modem import Registration

# <stat> of +CREG/+CGREG/+CEREG (27.007 §7.2); 6 and 7 are "SMS only" on E-UTRAN.
_REGISTRATION = {
    0: Registration.NOT_REGISTERED,
    1: Registration.HOME,
    2: Registration.SEARCHING,
    3: Registration.DENIED,
    4: Registration.UNKNOWN,
    5: Registration.ROAMING,
    6: Registration.HOME,
    7: Registration.ROAMING,
}
_PREFERENCE = (
    Registration.HOME,
    Registration.ROAMING,
    Registration.SEARCHING,
    Registration.DENIED,
    Registration.NOT_REGISTERED,
    Registration.UNKNOWN,
)


def values(line: str) -> list[str]:
    """The comma-separated values after ``+NAME:``, unquoted."""
    _, _, rest = line.partition(":")
    return [value.strip().strip('"') for value in rest.split(",")]


def value_of(answer: list[str]) -> str:
    """The first line of an answer, without a ``+CGMI:``-style prefix or quotes; "" for none."""
    line = answer[0] if answer else ""
    if line.startswith("+") and ":" in line:
        line = line.partition(":")[2]
    return line.strip().strip('"')


def registration(answer: str) -> Registration:
    """The state in a ``+CREG: <n>,<stat>[,...]`` answer to a query."""
    fields = values(answer)
    try:
        return _REGISTRATION.get(int(fields[1]), Registration.UNKNOWN)
    except (IndexError, ValueError):
        return Registration.UNKNOWN


def best(states: list[Registration]) -> Registration:
    """The most useful of several technologies' states (registered beats searching)."""
    return min(states, key=_PREFERENCE.index, default=Registration.UNKNOWN)


def operator(answer: str) -> str | None:
    """The operator's name in ``+COPS: <mode>[,<format>,<oper>[,<AcT>]]``, None when absent."""
    fields = values(answer)
    return fields[2] or None if len(fields) >= 3 else None


def signal(answer: str) -> tuple[int | None, int | None]:
    """(percent, dBm) from ``+CSQ: <rssi>,<ber>``; (None, None) when the modem does not know."""
    try:
        rssi = int(values(answer)[0])
    except (IndexError, ValueError):
        return None, None
    if not 0 <= rssi <= 31:
        return None, None
    return round(rssi * 100 / 31), -113 + 2 * rssi
