"""When two spellings of a phone number name the same number."""

from __future__ import annotations

import re

# A status report may give the recipient nationally (0772...) where the send
# used +263772...: the last nine digits are what both spellings share.
SIGNIFICANT_DIGITS = 9
_NON_DIGITS = re.compile(r"\D")


def same_number(a: str, b: str) -> bool:
    """True when two spellings (international, national, with or without +) name one number."""
    a_digits, b_digits = _NON_DIGITS.sub("", a), _NON_DIGITS.sub("", b)
    return a_digits[-SIGNIFICANT_DIGITS:] == b_digits[-SIGNIFICANT_DIGITS:] != ""
