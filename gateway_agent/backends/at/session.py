"""Bringing a freshly opened modem to the point where it can send and receive.

The steps a real modem needs, in order: wake it up, turn echo off and error
numbers on, learn its make (for its quirks), unlock the SIM (waiting out "SIM
busy"), choose PDU mode and the SIM as the memory of messages (learning how
many it holds, and which other memories the modem offers), ask for
new-message and status-report indications, and wait for the network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from gateway_agent.backends.at import network
from gateway_agent.backends.at.channel import Channel
from gateway_agent.backends.at.memories import REPORT_MEMORY, SESSION_MEMORY, readable, size_of
from gateway_agent.backends.at.options import DriverOptions
from gateway_agent.backends.at.quirks import Quirk, quirks_of
from gateway_agent.errors import CommandError, ModemTimeout, NotReady
from gateway_agent.modem import Registration, SimState
from zimsend_common.failures import FailureCode

log = logging.getLogger(__name__)

T = TypeVar("T")

# Indication settings to try, best first: stored messages with +CMTI and stored
# reports with +CDSI survive the agent being busy; direct +CDS is the fallback.
CNMI_CHOICES = ("2,1,0,2,0", "2,1,0,1,0", "1,1,0,2,0", "1,1,0,1,0", "2,1,0,0,0", "1,1,0,0,0")
_SIM_BUSY = {("+CME ERROR", 14), ("+CMS ERROR", 314)}
_SIM_STATES = {state.value: state for state in SimState} | {"NOT INSERTED": SimState.ABSENT}
# +CPIN: answers of a modem locked to a network, subset, provider or corporation (27.007 §8.3).
_PERSONALISATION = ("PH-NET", "PH-NETSUB", "PH-SP", "PH-CORP")
_NEEDS_A_PERSON = (SimState.PUK_REQUIRED, SimState.NETWORK_LOCKED)


@dataclass(frozen=True)
class SessionFeatures:
    """What initialisation found out about the modem."""

    acknowledge: bool  # +CMT and +CDS must be acknowledged with AT+CNMA
    indications: str | None  # the AT+CNMI setting in force, None when none was accepted
    quirks: Quirk = Quirk.NONE
    swept: tuple[str, ...] = (SESSION_MEMORY,)  # the memories a sweep lists
    capacity: int | None = None  # slots of the session's memory; None when the modem did not say


def initialize(channel: Channel, options: DriverOptions) -> SessionFeatures:
    """Run the whole start-up sequence; NotReady or another ModemError when it cannot."""
    synchronize(channel, options)
    channel.command("ATE0", options.command_timeout)
    _optional(channel, "AT+CMEE=1", options)  # without it failures are a plain ERROR
    quirks = quirks_of(identity_line(channel, "AT+CGMI", options), identity_line(channel, "AT+CGMM", options))
    if Quirk.PERIODIC_REPORTS in quirks:
        _optional(channel, "AT^CURC=0", options)
    unlock_sim(channel, options, quirks)
    run = _patient(options)
    run(lambda: channel.command("AT+CMGF=0", options.command_timeout))
    memories = _optional(channel, f'AT+CPMS="{SESSION_MEMORY}","{SESSION_MEMORY}","{SESSION_MEMORY}"', options)
    capacity = size_of(memories)
    swept = _memories_to_sweep(channel, options)
    _optional(channel, "AT+COPS=3,0", options)  # operator by name, whatever the last user chose
    acknowledge = _acknowledgement_needed(channel, options)
    indications = _choose_indications(channel, options)
    wait_for_network(channel, options)
    return SessionFeatures(
        acknowledge=acknowledge, indications=indications, quirks=quirks, swept=swept, capacity=capacity
    )


def synchronize(channel: Channel, options: DriverOptions) -> None:
    """Get an OK to a bare ``AT``; a modem just plugged in may ignore the first few,
    and one left in PDU entry answers only after an ESC."""
    timeout = min(options.command_timeout, 1.0)
    for attempt in range(1, options.sync_attempts + 1):
        if attempt > 1:
            # Silence may be a modem still waiting for the message of a client that
            # died at its prompt, taking our ``AT`` for message text.
            channel.escape()
        try:
            channel.command("AT", timeout)
            return
        except (ModemTimeout, CommandError) as exc:
            log.debug("modem not answering yet", extra={"attempt": attempt, "error": str(exc)})
    raise ModemTimeout(
        f"the modem did not answer AT after {options.sync_attempts} tries "
        "(is this its AT port? HiLink firmware has none)"
    )


def identity_line(channel: Channel, command: str, options: DriverOptions) -> str:
    """The one line answering an identity query (``AT+CGMI``); "" when the modem refuses it."""
    return network.value_of(_optional(channel, command, options))


def sim_state(channel: Channel, options: DriverOptions, quirks: Quirk = Quirk.NONE) -> SimState:
    """What ``AT+CPIN?`` says (``+CPIN:READY`` without the space counts too)."""
    final_line = "+CPIN:" if Quirk.CPIN_NO_OK in quirks else None
    try:
        lines = channel.command("AT+CPIN?", options.command_timeout, final_line=final_line)
    except CommandError as exc:
        if exc.kind == "+CME ERROR" and exc.code == 10:
            return SimState.ABSENT
        raise
    answer = next((line for line in lines if line.startswith("+CPIN:")), "")
    value = answer.partition(":")[2].strip()
    if value.startswith(_PERSONALISATION):
        return SimState.NETWORK_LOCKED
    return _SIM_STATES.get(value, SimState.ERROR)


def unlock_sim(channel: Channel, options: DriverOptions, quirks: Quirk = Quirk.NONE) -> None:
    """Enter the configured PIN if the SIM asks for it, once: a wrong PIN is never retried."""
    state = _patient(options)(lambda: sim_state(channel, options, quirks))
    if state == SimState.PIN_REQUIRED:
        if not options.pin:
            raise NotReady("the SIM asks for a PIN and none is configured (sim_pin)")
        try:
            channel.command(f'AT+CPIN="{options.pin}"', options.command_timeout, shown_as="AT+CPIN=<pin>")
        except CommandError as exc:
            raise NotReady(f"the SIM refused the configured PIN ({exc.name or exc.detail})") from exc
        state = _patient(options)(lambda: sim_state(channel, options, quirks))
    if state != SimState.READY:
        raise NotReady(f"the SIM is not ready: {state.value}", temporary=state not in _NEEDS_A_PERSON)


def wait_for_network(channel: Channel, options: DriverOptions) -> Registration:
    """Poll registration until home or roaming; NotReady after ``network_wait`` seconds."""
    deadline = time.monotonic() + options.network_wait
    while True:
        state = registration(channel, options)
        if state in (Registration.HOME, Registration.ROAMING):
            return state
        if time.monotonic() >= deadline:
            raise NotReady(
                f"not registered on a network after {options.network_wait:g} s ({state.value})",
                temporary=True,
                failure=FailureCode.NETWORK_ERROR,
            )
        time.sleep(options.poll_interval)


def registration(channel: Channel, options: DriverOptions) -> Registration:
    """The best of the circuit-switched and LTE registration states."""
    states = []
    for command in ("AT+CREG?", "AT+CEREG?"):
        answer = _optional(channel, command, options)
        if answer:
            states.append(network.registration(answer[0]))
    return network.best(states)


def _optional(channel: Channel, command: str, options: DriverOptions) -> list[str]:
    """The answer to a command not every modem knows; [] when it refuses."""
    try:
        return channel.command(command, options.command_timeout)
    except CommandError:
        return []


def _memories_to_sweep(channel: Channel, options: DriverOptions) -> tuple[str, ...]:
    """The session's memory, and the status reports' own where the modem has one: it may
    keep reports there whatever AT+CPMS says, so no sweep of the SIM would find them."""
    if REPORT_MEMORY in readable(_optional(channel, "AT+CPMS=?", options)):
        return (SESSION_MEMORY, REPORT_MEMORY)
    return (SESSION_MEMORY,)


def _acknowledgement_needed(channel: Channel, options: DriverOptions) -> bool:
    answer = _optional(channel, "AT+CSMS?", options)
    return bool(answer) and network.values(answer[0])[0] == "1"


def _choose_indications(channel: Channel, options: DriverOptions) -> str | None:
    for setting in CNMI_CHOICES:
        try:
            channel.command(f"AT+CNMI={setting}", options.command_timeout)
            return setting
        except CommandError as exc:
            log.debug("indication setting refused", extra={"setting": setting, "error": str(exc)})
    log.warning("modem accepts no AT+CNMI setting: new messages are found by sweeps only")
    return None


def _patient(options: DriverOptions) -> Callable[[Callable[[], T]], T]:
    """A runner that retries an action while the SIM answers "busy", up to ``sim_busy_wait``."""

    def run(action: Callable[[], T]) -> T:
        deadline = time.monotonic() + options.sim_busy_wait
        while True:
            try:
                return action()
            except CommandError as exc:
                if (exc.kind, exc.code) not in _SIM_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(options.poll_interval)

    return run
