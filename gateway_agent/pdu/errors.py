"""The one error every PDU decoder and encoder raises."""

from __future__ import annotations


class PduError(ValueError):
    """A PDU, or a value to put in one, that TS 23.040 does not allow.

    The message names the field at fault. Decoders raise nothing else on
    malformed input.
    """
