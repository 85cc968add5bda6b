"""What the phone says about itself: identity, SIM, network, signal, battery."""

from __future__ import annotations

import gammu

from gateway_agent.backends.gammu.errors import gammu_errors
from gateway_agent.modem import Identity, NetworkState, Registration, SimState

_REGISTRATION = {
    "HomeNetwork": Registration.HOME,
    "RoamingNetwork": Registration.ROAMING,
    "RequestingNetwork": Registration.SEARCHING,
    "RegistrationDenied": Registration.DENIED,
    "NoNetwork": Registration.NOT_REGISTERED,
}

_SIM_STATES = {
    None: SimState.READY,
    "PIN": SimState.PIN_REQUIRED,
    "PUK": SimState.PUK_REQUIRED,
}

# Answers that mean "this phone cannot tell", not "this phone is broken".
_UNANSWERED = (gammu.ERR_NOTSUPPORTED, gammu.ERR_NOTIMPLEMENTED, gammu.ERR_EMPTY)


def sim_state(sm: gammu.StateMachine) -> SimState:
    """READY, or the code the SIM is waiting for, or ABSENT; other errors are Gammu's."""
    try:
        return _SIM_STATES.get(sm.GetSecurityStatus(), SimState.ERROR)
    except _UNANSWERED:
        return SimState.READY
    except gammu.ERR_NOSIM:
        return SimState.ABSENT


def read_identity(sm: gammu.StateMachine) -> Identity:
    """Maker, model, firmware, IMEI, SIM state and, where the SIM knows it, own number."""
    with gammu_errors("reading the phone's identity"):
        code, name = sm.GetModel()
        return Identity(
            manufacturer=sm.GetManufacturer(),
            model=name or code,
            firmware=sm.GetFirmware()[0],
            imei=sm.GetIMEI(),
            sim_state=sim_state(sm),
            phone_number=own_number(sm),
        )


def own_number(sm: gammu.StateMachine) -> str | None:
    """The first number in the SIM's own-numbers list, None when it has none."""
    try:
        entry = sm.GetMemory(Type="ON", Location=1)
    except gammu.GSMError:
        return None
    numbers = [e["Value"] for e in entry["Entries"] if str(e["Type"]).startswith("Number")]
    return str(numbers[0]) if numbers else None


def read_network(sm: gammu.StateMachine) -> NetworkState:
    """Registration, operator and signal as the phone reports them now."""
    with gammu_errors("reading the network state"):
        network = sm.GetNetworkInfo()
        signal = sm.GetSignalQuality()
    percent = int(signal.get("SignalPercent", -1))
    dbm = int(signal.get("SignalStrength", -1))
    return NetworkState(
        registration=_REGISTRATION.get(network.get("State", ""), Registration.UNKNOWN),
        operator=network.get("NetworkName") or network.get("NetworkCode") or None,
        signal_percent=percent if 0 <= percent <= 100 else None,
        # Gammu gives dBm, or -1 (or, from some drivers, a bare level) when unknown.
        signal_dbm=dbm if dbm < -1 else None,
    )


def read_extra(sm: gammu.StateMachine) -> dict[str, str]:
    """Battery and network code, for the heartbeat; what the phone cannot tell is left out."""
    extra: dict[str, str] = {}
    try:
        battery = sm.GetBatteryCharge()
        extra["battery_percent"] = str(battery["BatteryPercent"])
        extra["charge_state"] = str(battery["ChargeState"])
    except gammu.GSMError:
        pass
    try:
        extra["network_code"] = str(sm.GetNetworkInfo()["NetworkCode"])
    except gammu.GSMError:
        pass
    return extra
