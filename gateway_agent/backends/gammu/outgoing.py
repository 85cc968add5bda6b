"""An outgoing text as the SMS parts Gammu sends, one ``SendSMS`` call each."""

from __future__ import annotations

import gammu

from zimsend_common.segments import encoding_of

GammuSMS = dict[str, object]

# Gammu reads the service centre from the phone's first SMSC slot: the SIM's own.
_PHONE_SMSC = {"Location": 1}


def outgoing_parts(recipient: str, text: str, *, request_report: bool) -> list[GammuSMS]:
    """The parts of ``text`` to ``recipient``, in GSM-7 when it allows, else UCS-2.

    A text too long for one SMS becomes a concatenated message; with
    ``request_report`` every part asks the network for a status report.
    """
    parts = gammu.EncodeSMS(
        {
            "Class": -1,
            "Unicode": encoding_of(text) == "UCS-2",
            "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}],
        }
    )
    for part in parts:
        part["SMSC"] = dict(_PHONE_SMSC)
        part["Number"] = recipient
        # Gammu sets TP-SRR (status report request) on a message typed this way.
        part["Type"] = "Status_Report" if request_report else "Submit"
    return parts


def concat_reference(parts: list[GammuSMS]) -> int:
    """The concatenation reference Gammu gave the parts of a message in parts."""
    header = parts[0]["UDH"]
    assert isinstance(header, dict)
    return int(header["ID8bit"])
