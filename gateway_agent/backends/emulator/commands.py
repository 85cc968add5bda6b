"""How the emulated modem answers each AT command (27.007 and 27.005, Huawei/SIMCom flavour).

A handler returns the information lines of its answer (the final OK is the
caller's), a ``Prompt`` when the command wants a PDU next, or raises AtError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway_agent.backends.emulator.config import EmulatorConfig
from gateway_agent.backends.emulator.errors import AtError
from gateway_agent.backends.emulator.network import Network
from gateway_agent.backends.emulator.parser import Command
from gateway_agent.backends.emulator.sim import SimCard, SimStorage
from gateway_agent.pdu import PduError, decode_submit

CHARSETS = ("GSM", "IRA", "UCS2")
STORAGE = "SM"  # the SIM: where messages are written and received ones kept


@dataclass
class Session:
    """What commands change, lost when the modem reboots."""

    echo: bool = True
    cmee: int = 0
    cmgf: int = 0
    cnmi: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    csms: int = 0
    cscs: str = "GSM"
    creg: int = 0
    cgreg: int = 0
    cereg: int = 0
    cops_format: int = 0  # 0 long name, 1 short name, 2 numeric (MCC MNC)
    read_memory: str = STORAGE  # AT+CPMS <mem1>: where AT+CMGL, +CMGR and +CMGD look


@dataclass(frozen=True)
class Prompt:
    """Answer with ``> `` and read a PDU of ``length`` TPDU octets."""

    length: int


@dataclass(frozen=True)
class Bare:
    """Answer with ``lines`` and no final result code, as some modems do."""

    lines: list[str]


Answer = list[str] | Prompt | Bare
WIND = "+WIND: 4"  # Wavecom: "the module is ready to accept all AT commands"


def tpdu_length(pdu: str) -> int:
    """The octets of ``pdu`` after its SMSC address, as AT+CMGS and +CMT count them."""
    return len(pdu) // 2 - 1 - int(pdu[:2], 16)


class CommandSet:
    """The modem's command interpreter, over its SIM, storage and network."""

    def __init__(
        self,
        config: EmulatorConfig,
        sim: SimCard,
        memories: dict[str, SimStorage],
        network: Network,
        acknowledge: Callable[[], bool],
    ) -> None:
        self.config = config
        self.session = self.fresh_session()
        self._sim = sim
        self._memories = memories
        self._network = network
        self._acknowledge = acknowledge
        self._deletions_to_refuse = config.refused_deletions
        fixed = self._fixed
        self._handlers: dict[str, Callable[[Command], Answer]] = {
            # V.250 basics
            "E": self._echo, "V": self._ok, "Q": self._ok, "Z": self._reset, "&F": self._reset,
            "I": self._information, "S0": self._ok, "S3": self._ok, "S4": self._ok,
            # identity (27.007 §5)
            "+CGMI": fixed(config.manufacturer), "+GMI": fixed(config.manufacturer),
            "+CGMM": fixed(config.model), "+GMM": fixed(config.model),
            "+CGMR": fixed(config.firmware), "+GMR": fixed(config.firmware),
            "+CGSN": fixed(config.imei), "+GSN": fixed(config.imei),
            "+CIMI": self._cimi, "+CNUM": self._cnum,
            # phone, SIM and network (27.007)
            "+CMEE": self._cmee, "+CFUN": self._cfun, "+CSCS": self._cscs, "+CPIN": self._cpin,
            "+CSQ": self._csq, "+COPS": self._cops, "+CGATT": self._cgatt,
            "+CREG": self._creg, "+CGREG": self._creg, "+CEREG": self._creg,
            # SMS (27.005)
            "+CSMS": self._csms, "+CMGF": self._cmgf, "+CSCA": self._csca, "+CNMI": self._cnmi,
            "+CPMS": self._cpms, "+CNMA": self._cnma, "+CMGS": self._cmgs, "+CMGL": self._cmgl,
            "+CMGR": self._cmgr, "+CMGD": self._cmgd,
            # Huawei's own, which Gammu sends once it sees a Huawei
            "^CURC": self._curc, "^PORTSEL": self._ok,
        }  # fmt: skip

    def fresh_session(self) -> Session:
        """The settings after power-on."""
        return Session(csms=self.config.csms_service)

    def run(self, command: Command) -> Answer:
        """The answer to one command; AtError for what the modem refuses or does not know."""
        handler = self._handlers.get(command.name)
        if handler is None:
            raise AtError()
        return handler(command)

    def submit(self, length: int, pdu: str) -> list[str]:
        """The answer once the PDU of an AT+CMGS has been typed and Ctrl-Z'd."""
        try:
            submit = decode_submit(pdu, with_smsc=True)
            declared_ok = tpdu_length(pdu) == length
        except (PduError, ValueError):
            raise AtError("CMS", 304) from None
        if not declared_ok:
            raise AtError("CMS", 304)
        return [f"+CMGS: {self._network.accept(submit)}"]

    def shown_pdu(self, pdu: str) -> str:
        """A PDU line as this phone writes it (with a stray quote when it has that habit)."""
        return pdu + '"' if self.config.stray_quotes else pdu

    @property
    def _storage(self) -> SimStorage:
        """The memory AT+CMGL, +CMGR and +CMGD work on (AT+CPMS <mem1>)."""
        return self._memories[self.session.read_memory]

    def _fixed(self, value: str) -> Callable[[Command], Answer]:
        return lambda command: [] if command.form == "test" else [value]

    def _ok(self, command: Command) -> Answer:
        return []

    def _echo(self, command: Command) -> Answer:
        self.session.echo = command.arg(0, "0") == "1"
        return []

    def _reset(self, command: Command) -> Answer:
        echo = self.session.echo
        self.session = self.fresh_session()
        self.session.echo = echo
        return []

    def _information(self, command: Command) -> Answer:
        return [
            f"Manufacturer: {self.config.manufacturer}",
            f"Model: {self.config.model}",
            f"Revision: {self.config.firmware}",
            f"IMEI: {self.config.imei}",
            "+GCAP: +CGSM,+DS,+ES",
        ]

    def _cmee(self, command: Command) -> Answer:
        if not self.config.error_numbers:
            raise AtError()
        return self._setting(command, "cmee", range(3), "(0-2)")

    def _cmgf(self, command: Command) -> Answer:
        if command.form == "set":
            self._sim.require_ready()
        return self._setting(command, "cmgf", range(2), "(0-1)")

    def _setting(self, command: Command, name: str, allowed: range, shown: str) -> Answer:
        prefix = "+" + name.upper()
        if command.form == "query":
            return [f"{prefix}: {getattr(self.session, name)}"]
        if command.form == "test":
            return [f"{prefix}: {shown}"]
        value = command.int_arg(0, 0)
        if value not in allowed:
            raise AtError("CME", 4)
        setattr(self.session, name, value)
        return []

    def _cimi(self, command: Command) -> Answer:
        self._sim.require_ready()
        return [self.config.imsi]

    def _cnum(self, command: Command) -> Answer:
        self._sim.require_ready()
        number = self.config.phone_number
        return [f'+CNUM: "","{number}",{145 if number.startswith("+") else 129}'] if number else []

    def _cpin(self, command: Command) -> Answer:
        if command.form == "query":
            space = "" if self.config.compact_cpin else " "
            line = f"+CPIN:{space}{self._sim.state}"
            return Bare([line]) if self.config.cpin_without_ok else [line]
        if command.form == "set":
            self._sim.enter_pin(command.arg(0))
        return []

    def _csq(self, command: Command) -> Answer:
        if command.form == "test":
            return ["+CSQ: (0-31,99),(0-7,99)"]
        rssi = self.config.signal_rssi if self._network.registered else 99
        return [f"+CSQ: {rssi},99"]

    def _cops(self, command: Command) -> Answer:
        code = self.config.imsi[:5]
        if command.form == "query":
            if not self._network.registered:
                return ["+COPS: 0"]
            fmt = self.session.cops_format
            return [f'+COPS: 0,{fmt},"{code if fmt == 2 else self.config.operator}",2']
        if command.form == "test":
            return [f'+COPS: (2,"{self.config.operator}","{self.config.operator}","{code}",2),,(0-4),(0-2)']
        if command.form == "set" and command.int_arg(0, 0) == 3:
            self.session.cops_format = command.int_arg(1, 0)
        return []

    def _creg(self, command: Command) -> Answer:
        field = command.name.lstrip("+").lower()
        if command.form == "set":
            setattr(self.session, field, command.int_arg(0, 0))
            return []
        if command.form == "test":
            return [f"{command.name}: (0-2)"]
        shown = getattr(self.session, field)
        if self._sim.state != "READY":
            stat = 0
        else:
            stat = 1 if self._network.registered else 2
        location = ',"00A1","0001B2C3",7' if shown == 2 and stat == 1 else ""
        return [f"{command.name}: {shown},{stat}{location}"]

    def _cgatt(self, command: Command) -> Answer:
        if command.form == "query":
            return [f"+CGATT: {int(self._network.registered)}"]
        return ["+CGATT: (0,1)"] if command.form == "test" else []

    def _cfun(self, command: Command) -> Answer:
        return ["+CFUN: 1"] if command.form == "query" else []

    def _curc(self, command: Command) -> Answer:
        # Huawei's periodic status reports (^RSSI, ^MODE...); Gammu turns them off.
        return ["^CURC: 0"] if command.form == "query" else []

    def _cscs(self, command: Command) -> Answer:
        if command.form == "query":
            return [f'+CSCS: "{self.session.cscs}"']
        if command.form == "test":
            return ["+CSCS: (" + ",".join(f'"{c}"' for c in CHARSETS) + ")"]
        if command.arg(0).upper() not in CHARSETS:
            raise AtError("CME", 4)
        self.session.cscs = command.arg(0).upper()
        return []

    def _csca(self, command: Command) -> Answer:
        self._sim.require_ready()
        if command.form == "query":
            return [f'+CSCA: "{self.config.smsc}",145']
        return []

    def _csms(self, command: Command) -> Answer:
        if command.form == "query":
            return [f"+CSMS: {self.session.csms},1,1,1"]
        if command.form == "test":
            return ["+CSMS: (0,1)"]
        service = command.int_arg(0, 0)
        if service not in (0, 1):
            raise AtError("CMS", 303)
        self.session.csms = service
        return ["+CSMS: 1,1,1"]

    def _cnmi(self, command: Command) -> Answer:
        if command.form == "query":
            return ["+CNMI: " + ",".join(map(str, self.session.cnmi))]
        if command.form == "test":
            modes = ",".join(map(str, self.config.cnmi_report_modes))
            return [f"+CNMI: (0-2),(0-2),(0),({modes}),(0,1)"]
        values = tuple(command.int_arg(i, 0) for i in range(5))
        mode, mt, bm, ds, bfr = values
        if mode > 2 or mt > 2 or bm != 0 or ds not in self.config.cnmi_report_modes or bfr > 1:
            raise AtError("CMS", 303)
        self.session.cnmi = values  # type: ignore[assignment]
        return []

    def _cpms(self, command: Command) -> Answer:
        if command.form == "test":
            readable = ",".join(f'"{memory}"' for memory in self._memories)
            return [f'+CPMS: ({readable}),("{STORAGE}"),("{STORAGE}")']
        if command.form == "set":
            chosen = [memory.upper() for memory in command.args]
            # Only the memory read from may be another than the SIM, as with the modems modelled.
            if not chosen or chosen[0] not in self._memories or any(memory != STORAGE for memory in chosen[1:]):
                raise AtError("CMS", 302)
            self._sim.require_ready()
            self.session.read_memory = chosen[0]
        read, sim = self._storage, self._memories[STORAGE]
        if command.form == "query":
            read_usage = f'"{self.session.read_memory}",{read.used},{read.size}'
            sim_usage = f'"{STORAGE}",{sim.used},{sim.size}'
            return [f"+CPMS: {read_usage},{sim_usage},{sim_usage}"]
        return [f"+CPMS: {read.used},{read.size},{sim.used},{sim.size},{sim.used},{sim.size}"]

    def _cnma(self, command: Command) -> Answer:
        if command.form == "test":
            return ["+CNMA: (0-2)"]
        if not self._acknowledge():
            raise AtError("CMS", 340)
        return []

    def _require_pdu_mode(self) -> None:
        self._sim.require_ready()
        if self.session.cmgf != 0:
            raise AtError("CMS", 303)  # text mode is not modelled

    def _cmgs(self, command: Command) -> Answer:
        if command.form == "test":
            return []
        self._require_pdu_mode()
        length = command.int_arg(0)
        if not 7 <= length <= 164:
            raise AtError("CMS", 304)
        return Prompt(length)

    def _cmgl(self, command: Command) -> Answer:
        if command.form == "test":
            return ["+CMGL: (0-4)"]
        self._require_pdu_mode()
        stat = command.int_arg(0, 0)
        if stat not in range(5):
            raise AtError("CMS", 302)
        lines: list[str] = []
        for index, message in self._storage.listing(stat):
            lines += [f"+CMGL: {index},{message.stat},,{tpdu_length(message.pdu)}", self.shown_pdu(message.pdu)]
        return lines

    def _cmgr(self, command: Command) -> Answer:
        self._require_pdu_mode()
        message = self._storage.read(command.int_arg(0))
        vendor = [WIND] if self.config.vendor_urcs else []
        return [f"+CMGR: {message.stat},,{tpdu_length(message.pdu)}", *vendor, self.shown_pdu(message.pdu)]

    def _cmgd(self, command: Command) -> Answer:
        if command.form == "test":
            return [f"+CMGD: (1-{self._storage.size}),(0-4)"]
        self._sim.require_ready()
        if self._deletions_to_refuse > 0:
            self._deletions_to_refuse -= 1
            raise AtError("CMS", 500)
        self._storage.delete(command.int_arg(0, 0), command.int_arg(1, 0))
        return []
