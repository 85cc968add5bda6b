"""Text that a database cannot hold, kept anyway.

PostgreSQL refuses U+0000 in any text column, and neither database can take
a lone surrogate (U+D800..U+DFFF: not encodable as UTF-8). Anyone can text a
SIM, so such characters do reach the gateway. The store keeps two things:

- a display form, where each such character reads U+FFFD (the replacement
  character), in the ordinary columns that search and listings use;
- when the display form differs from what arrived, the exact value as JSON
  with every non-ASCII character escaped (``"\\u0000"``, ``"\\ud800"``), which
  both databases hold and ``json.loads`` turns back into the very same string.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with each character no database can hold replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def clipped(text: str, length: int) -> str:
    """The storable form of ``text``, cut to at most ``length`` characters."""
    return storable(text[:length])


def exact_json(value: Any) -> str:
    """``value`` as ASCII-only JSON: any string in it comes back exactly through ``from_exact_json``.

    Values JSON cannot express are kept as their ``repr``.
    """
    return json.dumps(value, ensure_ascii=True, default=repr)


def from_exact_json(document: str) -> Any:
    """The value ``exact_json`` encoded."""
    return json.loads(document)
