"""What a modem says of itself and of its network, for ``Modem.identify`` and ``network_state``."""

from __future__ import annotations

from gateway_agent.backends.at import network
from gateway_agent.backends.at.channel import Channel
from gateway_agent.backends.at.options import DriverOptions
from gateway_agent.backends.at.quirks import Quirk
from gateway_agent.backends.at.session import registration, sim_state
from gateway_agent.errors import CommandError
from gateway_agent.modem import Identity, NetworkState


def identity(channel: Channel, options: DriverOptions, quirks: Quirk) -> Identity:
    """The modem's make, firmware, IMEI, SIM state and (when the SIM knows it) own number."""
    return Identity(
        manufacturer=_ask(channel, "AT+CGMI", options),
        model=_ask(channel, "AT+CGMM", options),
        firmware=_ask(channel, "AT+CGMR", options),
        imei=_ask(channel, "AT+CGSN", options),
        sim_state=sim_state(channel, options, quirks),
        phone_number=_own_number(channel, options),
    )


def network_state(channel: Channel, options: DriverOptions) -> NetworkState:
    """Registration, operator (None when the modem will not say) and signal."""
    try:
        operator = channel.command("AT+COPS?", options.command_timeout)
    except CommandError:
        operator = []
    percent, dbm = network.signal(_ask(channel, "AT+CSQ", options, keep_prefix=True))
    return NetworkState(
        registration=registration(channel, options),
        operator=network.operator(operator[0]) if operator else None,
        signal_percent=percent,
        signal_dbm=dbm,
    )


def _ask(channel: Channel, command: str, options: DriverOptions, *, keep_prefix: bool = False) -> str:
    """The one line answering ``command``; without a ``+CGMI:``-style prefix unless kept."""
    answer = channel.command(command, options.command_timeout)
    if keep_prefix:
        return answer[0].strip() if answer else ""
    return network.value_of(answer)


def _own_number(channel: Channel, options: DriverOptions) -> str | None:
    try:
        answer = channel.command("AT+CNUM", options.command_timeout)
    except CommandError:
        return None
    numbers = [network.values(line)[1] for line in answer if line.startswith("+CNUM:")]
    return next((number for number in numbers if number), None)
