"""What kind of SMS a "received" event brings, as ``incoming_messages`` columns.

The agent reports the message class (0 is flash), TP-PID, TP-DCS, the
application ports, whether the message is binary data (its text is then
hex) and whether it could not be decoded at all (its raw PDU is then kept).
A value that is missing or malformed is stored as unknown rather than
refusing the message: an SMS is never lost over how it is labelled.

A replace-type message (TP-PID 0x41-0x47) is put in place of its predecessor
by the store (``store.incoming``).
"""

from __future__ import annotations

from typing import Any, TypeGuard

_MAX_PDU_CHARS = 1024  # a PDU is at most 176 octets, 352 hex digits


def kind_columns(data: dict[str, Any]) -> dict[str, Any]:
    """The kind columns for the event ``data``."""
    ports = data.get("ports")
    destination, source = ports if _is_port_pair(ports) else (None, None)
    pdu = data.get("pdu")
    return {
        "message_class": _small(data.get("message_class"), 3),
        "pid": _small(data.get("pid"), 255),
        "data_coding": _small(data.get("data_coding"), 255),
        "destination_port": destination,
        "source_port": source,
        "binary": data.get("binary") is True,
        "undecodable": data.get("undecodable") is True,
        "raw_pdu": pdu[:_MAX_PDU_CHARS] if isinstance(pdu, str) and pdu else None,
    }


def _small(value: Any, highest: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= highest:
        return None
    return value


def _is_port_pair(value: Any) -> TypeGuard[list[int]]:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(not isinstance(port, bool) and isinstance(port, int) and 0 <= port <= 0xFFFF for port in value)
    )
