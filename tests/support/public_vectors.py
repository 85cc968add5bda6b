"""Test vectors taken from other projects' repositories, with their origin kept beside them.

The data files in ``tests/support/vectors`` hold what was copied (PDUs,
transcripts, expected values) and, in each file's ``origin``, the repository,
path and commit it came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"


def load(name: str) -> dict[str, Any]:
    """The vector file ``name`` (without .json)."""
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def transcript_pdu(transcript: str) -> str:
    """The PDU line of a one-message AT+CMGR transcript, as the modem wrote it."""
    lines = [line.strip() for line in transcript.splitlines() if line.strip()]
    header = next(index for index, line in enumerate(lines) if line.startswith("+CMGR:"))
    return lines[header + 1]


def transcript_stat(transcript: str) -> str:
    """The <stat> of the +CMGR header (empty when the modem left it out)."""
    header = next(line for line in transcript.splitlines() if line.startswith("+CMGR:"))
    return header.partition(":")[2].split(",")[0].strip()


def transcript_slot(transcript: str) -> int:
    """The slot the transcript's AT+CMGR reads."""
    command = next(line for line in transcript.splitlines() if line.upper().startswith("AT+CMGR="))
    return int(command.partition("=")[2])
