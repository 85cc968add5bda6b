"""What a modem's error numbers mean: +CMS ERROR (27.005 §3.2.5) and +CME ERROR (27.007 §9.2).

One table maps each number to its standard name, whether a later retry may
succeed, and the contract failure code a message failed by it gets. The CMS
table holds every number 27.005 defines (with the RP-causes of 24.011 annex
E.2 and the TP-FCS values of 23.040 §9.2.3.22 below 256); the CME table holds
every number of 27.007 §9.2.1 (general) and §9.2.2 (GPRS, in the numbering
of the release most modems follow). Numbers missing from the tables fall back
to the meaning of their range. Modems in verbose mode (``AT+CMEE=2``) send
the name instead of the number; both are understood.

A lock only a person can lift (a PUK, a network-personalisation PIN on a
network-locked modem) is never temporary: retrying cannot help.

``MODEM ERROR: <n>`` (Motorola phones) is a final result like ``+CME ERROR``;
its numbers are the manufacturer's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway_agent.errors import CommandError
from zimsend_common.failures import FailureCode

NET = FailureCode.NETWORK_ERROR
NUMBER = FailureCode.INVALID_NUMBER
CREDIT = FailureCode.NO_CREDIT
BLOCKED = FailureCode.BLOCKED_NUMBER
DEVICE = FailureCode.DEVICE_ERROR
TIMEOUT = FailureCode.TIMEOUT


@dataclass(frozen=True)
class ErrorMeaning:
    name: str
    temporary: bool
    failure: FailureCode


def _m(name: str, temporary: bool, failure: FailureCode) -> ErrorMeaning:
    return ErrorMeaning(name, temporary, failure)


CMS_ERRORS: dict[int, ErrorMeaning] = {
    # 0-127: the network's RP-cause (24.011 annex E.2)
    1: _m("Unassigned (unallocated) number", False, NUMBER),
    8: _m("Operator determined barring", False, CREDIT),
    10: _m("Call barred", False, BLOCKED),
    17: _m("Network failure", True, NET),
    21: _m("Short message transfer rejected", False, NET),
    22: _m("Memory capacity exceeded", True, NET),
    27: _m("Destination out of service", True, NET),
    28: _m("Unidentified subscriber", False, NUMBER),
    29: _m("Facility rejected", False, NET),
    30: _m("Unknown subscriber", False, NUMBER),
    38: _m("Network out of order", True, NET),
    41: _m("Temporary failure", True, NET),
    42: _m("Congestion", True, NET),
    47: _m("Resources unavailable, unspecified", True, NET),
    50: _m("Requested facility not subscribed", False, CREDIT),
    69: _m("Requested facility not implemented", False, NET),
    81: _m("Invalid short message transfer reference value", True, NET),
    95: _m("Invalid message, unspecified", False, DEVICE),
    96: _m("Invalid mandatory information", False, NUMBER),
    97: _m("Message type non-existent or not implemented", False, DEVICE),
    98: _m("Message not compatible with short message protocol state", False, DEVICE),
    99: _m("Information element non-existent or not implemented", False, DEVICE),
    111: _m("Protocol error, unspecified", True, NET),
    127: _m("Interworking, unspecified", True, NET),
    # 128-255: the service centre's TP-FCS (23.040 §9.2.3.22)
    128: _m("Telematic interworking not supported", False, NET),
    129: _m("Short message Type 0 not supported", False, NET),
    130: _m("Cannot replace short message", False, NET),
    143: _m("Unspecified TP-PID error", False, DEVICE),
    144: _m("Data coding scheme (alphabet) not supported", False, DEVICE),
    145: _m("Message class not supported", False, DEVICE),
    159: _m("Unspecified TP-DCS error", False, DEVICE),
    160: _m("Command cannot be actioned", False, NET),
    161: _m("Command unsupported", False, NET),
    175: _m("Unspecified TP-Command error", False, NET),
    176: _m("TPDU not supported", False, DEVICE),
    192: _m("SC busy", True, NET),
    193: _m("No SC subscription", False, CREDIT),
    194: _m("SC system failure", True, NET),
    195: _m("Invalid SME address", False, NUMBER),
    196: _m("Destination SME barred", False, BLOCKED),
    197: _m("SM Rejected-Duplicate SM", False, NET),
    198: _m("TP-VPF not supported", False, DEVICE),
    199: _m("TP-VP not supported", False, DEVICE),
    208: _m("(U)SIM SMS storage full", True, DEVICE),
    209: _m("No SMS storage capability in (U)SIM", False, DEVICE),
    210: _m("Error in MS", True, DEVICE),
    211: _m("Memory capacity exceeded", True, DEVICE),
    212: _m("(U)SIM Application Toolkit busy", True, DEVICE),
    213: _m("(U)SIM data download error", True, DEVICE),
    255: _m("Unspecified error cause", True, NET),
    # 300-511: the phone's own (27.005 §3.2.5)
    300: _m("ME failure", True, DEVICE),
    301: _m("SMS service of ME reserved", True, DEVICE),
    302: _m("operation not allowed", False, DEVICE),
    303: _m("operation not supported", False, DEVICE),
    304: _m("invalid PDU mode parameter", False, DEVICE),
    305: _m("invalid text mode parameter", False, DEVICE),
    310: _m("(U)SIM not inserted", True, DEVICE),
    311: _m("(U)SIM PIN required", True, DEVICE),
    312: _m("PH-(U)SIM PIN required", True, DEVICE),
    313: _m("(U)SIM failure", True, DEVICE),
    314: _m("(U)SIM busy", True, DEVICE),
    315: _m("(U)SIM wrong", True, DEVICE),
    316: _m("(U)SIM PUK required", True, DEVICE),
    317: _m("(U)SIM PIN2 required", True, DEVICE),
    318: _m("(U)SIM PUK2 required", True, DEVICE),
    320: _m("memory failure", True, DEVICE),
    321: _m("invalid memory index", False, DEVICE),
    322: _m("memory full", True, DEVICE),
    330: _m("SMSC address unknown", False, DEVICE),
    331: _m("no network service", True, NET),
    332: _m("network timeout", True, TIMEOUT),
    340: _m("no +CNMA acknowledgement expected", False, DEVICE),
    500: _m("unknown error", True, NET),
}

CME_ERRORS: dict[int, ErrorMeaning] = {
    # 27.007 §9.2.1, general errors
    0: _m("phone failure", True, DEVICE),
    1: _m("no connection to phone", True, DEVICE),
    2: _m("phone-adaptor link reserved", True, DEVICE),
    3: _m("operation not allowed", False, DEVICE),
    4: _m("operation not supported", False, DEVICE),
    5: _m("PH-SIM PIN required", True, DEVICE),
    6: _m("PH-FSIM PIN required", False, DEVICE),
    7: _m("PH-FSIM PUK required", False, DEVICE),
    10: _m("SIM not inserted", True, DEVICE),
    11: _m("SIM PIN required", True, DEVICE),
    12: _m("SIM PUK required", False, DEVICE),
    13: _m("SIM failure", True, DEVICE),
    14: _m("SIM busy", True, DEVICE),
    15: _m("SIM wrong", True, DEVICE),
    16: _m("incorrect password", False, DEVICE),
    17: _m("SIM PIN2 required", True, DEVICE),
    18: _m("SIM PUK2 required", False, DEVICE),
    20: _m("memory full", True, DEVICE),
    21: _m("invalid index", False, DEVICE),
    22: _m("not found", False, DEVICE),
    23: _m("memory failure", True, DEVICE),
    24: _m("text string too long", False, DEVICE),
    25: _m("invalid characters in text string", False, DEVICE),
    26: _m("dial string too long", False, NUMBER),
    27: _m("invalid characters in dial string", False, NUMBER),
    30: _m("no network service", True, NET),
    31: _m("network timeout", True, TIMEOUT),
    32: _m("network not allowed - emergency calls only", True, NET),
    40: _m("network personalization PIN required", False, DEVICE),
    41: _m("network personalization PUK required", False, DEVICE),
    42: _m("network subset personalization PIN required", False, DEVICE),
    43: _m("network subset personalization PUK required", False, DEVICE),
    44: _m("service provider personalization PIN required", False, DEVICE),
    45: _m("service provider personalization PUK required", False, DEVICE),
    46: _m("corporate personalization PIN required", False, DEVICE),
    47: _m("corporate personalization PUK required", False, DEVICE),
    48: _m("hidden key required", False, DEVICE),
    49: _m("EAP method not supported", False, DEVICE),
    50: _m("incorrect parameters", False, DEVICE),
    51: _m("command implemented but currently disabled", False, DEVICE),
    52: _m("command aborted by user", True, DEVICE),
    53: _m("not attached to network due to MT functionality restrictions", True, NET),
    54: _m("modem not allowed - MT restricted to emergency calls only", True, NET),
    55: _m("operation not allowed because of MT functionality restrictions", True, DEVICE),
    56: _m("fixed dial number only allowed - called number is not a fixed dial number", False, BLOCKED),
    57: _m("temporarily out of service due to other MT usage", True, DEVICE),
    58: _m("language/alphabet not supported", False, DEVICE),
    59: _m("unexpected data value", False, DEVICE),
    60: _m("system failure", True, DEVICE),
    61: _m("data missing", False, DEVICE),
    62: _m("call barred", False, BLOCKED),
    63: _m("message waiting indication subscription failure", False, DEVICE),
    100: _m("unknown", True, DEVICE),
    # 27.007 §9.2.2, GPRS errors (the network's reject cause in brackets)
    103: _m("illegal MS (#3)", False, NET),
    106: _m("illegal ME (#6)", False, NET),
    107: _m("GPRS services not allowed (#7)", False, NET),
    111: _m("PLMN not allowed (#11)", False, NET),
    112: _m("location area not allowed (#12)", True, NET),
    113: _m("roaming not allowed in this location area (#13)", True, NET),
    132: _m("service option not supported (#32)", False, NET),
    133: _m("requested service option not subscribed (#33)", False, CREDIT),
    134: _m("service option temporarily out of order (#34)", True, NET),
    148: _m("unspecified GPRS error", True, NET),
    149: _m("PDP authentication failure", False, NET),
    150: _m("invalid mobile class", False, NET),
}

# Ranges that give a number missing from the table its meaning.
_CMS_RANGES: tuple[tuple[range, ErrorMeaning], ...] = (
    (range(0, 128), _m("network error", True, NET)),
    (range(128, 256), _m("service centre error", False, NET)),
    (range(256, 512), _m("phone error", False, DEVICE)),
)
_MANUFACTURER = _m("manufacturer specific error", True, DEVICE)
_PLAIN = _m("", False, DEVICE)

_FINAL = re.compile(r"^(?:\+(CMS|CME)|(MODEM)) ERROR:\s*(.*)$")


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9+]+", " ", text.lower().replace("(u)", "")).strip()


_BY_NAME = {
    kind: {_normalise(meaning.name): code for code, meaning in table.items()}
    for kind, table in (("CMS", CMS_ERRORS), ("CME", CME_ERRORS))
}


def meaning_of(kind: str, code: int) -> ErrorMeaning:
    """The meaning of error ``code`` of ``kind`` ("CMS" or "CME"), by table or by range."""
    table = CMS_ERRORS if kind == "CMS" else CME_ERRORS
    if code in table:
        return table[code]
    if kind == "CMS":
        for numbers, meaning in _CMS_RANGES:
            if code in numbers:
                return meaning
    return _MANUFACTURER


def is_error_result(line: str) -> bool:
    """Whether ``line`` is a final result code that reports failure."""
    return line in ("ERROR", "NO CARRIER", "COMMAND NOT SUPPORT", "TOO MANY PARAMETERS") or bool(_FINAL.match(line))


def command_error(line: str, command: str) -> CommandError:
    """The ``CommandError`` for the failing final result ``line`` answering ``command``."""
    match = _FINAL.match(line)
    if match is None:
        return CommandError(f"{command}: {line}", kind=line)
    standard, vendor, value = match.groups()
    value = value.strip().strip('"')
    if vendor:
        return _vendor_error(vendor, value, command)
    kind = standard
    code: int | None
    if value.isdigit():
        code = int(value)
    else:
        code = _BY_NAME[kind].get(_normalise(value))
    meaning = meaning_of(kind, code) if code is not None else _PLAIN
    name = meaning.name or value
    text = f"{command}: +{kind} ERROR: {code if code is not None else value} ({name})"
    return CommandError(
        text,
        kind=f"+{kind} ERROR",
        code=code,
        name=name,
        temporary=meaning.temporary if code is not None else None,
        failure=meaning.failure if code is not None else None,
    )


def _vendor_error(vendor: str, value: str, command: str) -> CommandError:
    """``MODEM ERROR: <n>``: a number only its manufacturer can read."""
    code = int(value) if value.isdigit() else None
    return CommandError(
        f"{command}: {vendor} ERROR: {value} ({_MANUFACTURER.name})",
        kind=f"{vendor} ERROR",
        code=code,
        name=_MANUFACTURER.name,
        temporary=_MANUFACTURER.temporary,
        failure=_MANUFACTURER.failure,
    )
