"""Reading past what real phones get wrong, where the content is still unambiguous.

Each departure from TS 23.040 that a decoder forgives is logged as a warning
naming it, so a person can see which device sends non-conforming PDUs.
"""

from __future__ import annotations

import logging

log = logging.getLogger("gateway_agent.pdu")


def repaired(what: str, **details: object) -> None:
    """Note that a non-conforming PDU was read leniently, and how."""
    log.warning("non-conforming PDU read leniently", extra={"repair": what, **details})
