"""Phone numbers as the contract takes them: international, stored in E.164."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

# Separators people write inside numbers; nothing else is tolerated.
_SEPARATORS = re.compile(r"[\s\-().]")
MAX_INPUT_LENGTH = 64


class InvalidPhoneNumber(ValueError):
    """The text is not a valid phone number in international format."""


def normalize(raw: str) -> str:
    """``raw`` in E.164 (``+33612345678``), or InvalidPhoneNumber.

    Spaces, dashes, dots and parentheses are ignored. The number must carry
    its country code, written ``+33...`` or ``0033...``: no region is assumed.
    """
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber("not a phone number")
    compact = _SEPARATORS.sub("", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not re.fullmatch(r"\+[1-9][0-9]{5,15}", compact):
        raise InvalidPhoneNumber("a number starts with + and its country code, then digits")
    return _e164(compact)


# Parsing against the numbering plans costs far more than the rest of a send's checks
# (40 µs, against 3 µs remembered), and senders repeat their numbers (a bulk to a
# list, an OTP to the same customer). The newest few thousand are remembered: a
# bulk's list fits, and a process sending each message to a new number stays
# within its memory (65,536 numbers held 14 MB, in every server process).
@lru_cache(maxsize=4096)
def _e164(compact: str) -> str:
    """The compact ``+digits`` number in E.164, or InvalidPhoneNumber (raised again each time)."""
    try:
        number = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(str(exc)) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("no such number in its country's numbering plan")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
