"""What kind of SMS a "received" event brings, as ``incoming_messages`` columns.

The agent reports the message class (0 is flash), TP-PID, TP-DCS, the
application ports, whether the message is binary data (its text is then
hex) and whether it could not be decoded at all (its raw PDU is then kept).
A value that is missing or malformed is stored as unknown rather than
refusing the message: an SMS is never lost over how it is labelled.

TP-PID 0x41-0x47 ("replace short message type 1-7", TS 23.040 9.2.3.9) asks
the receiver to replace the earlier message of that type from that sender;
the inbox does so, keeping the earlier message's id.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from relay_server.store.dispatch_schema import incoming_messages

REPLACE_PIDS = range(0x41, 0x48)
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


def replace_earlier(conn: sa.Connection, row: dict[str, Any]) -> bool:
    """Put ``row`` in place of the newest earlier message it replaces; False when it replaces none."""
    if row["pid"] not in REPLACE_PIDS:
        return False
    table = incoming_messages
    earlier = conn.execute(
        sa.select(table.c.message_id)
        .where(
            table.c.client_id == row["client_id"],
            table.c.device_id == row["device_id"],
            table.c.sender == row["sender"],
            table.c.pid == row["pid"],
        )
        .order_by(table.c.created_at.desc(), table.c.message_id.desc())
        .limit(1)
    ).scalar()
    if earlier is None:
        return False
    changes = {name: value for name, value in row.items() if name not in ("message_id", "created_at")}
    conn.execute(sa.update(table).where(table.c.message_id == earlier).values(**changes))
    return True


def _small(value: Any, highest: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= highest:
        return None
    return value


def _is_port_pair(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(not isinstance(port, bool) and isinstance(port, int) and 0 <= port <= 0xFFFF for port in value)
    )
