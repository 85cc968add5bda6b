"""One-time passwords: the code, its keyed MAC, and the SMS text around it.

A code is drawn from ``secrets`` and leaves the relay only inside the SMS the
device sends. What the store keeps is HMAC-SHA256 of the OTP's id and the code
under the relay's OTP key, which never enters the database: a copy of the
database alone cannot be searched for the codes (a plain digest of a 6-digit
code could be reversed by trying all million). The stored message text shows
the code masked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from relay_server.api.key_file import data_dir_key
from zimsend_common.config import OTP_PLACEHOLDER, RelaySettings

MIN_LENGTH = 4
MAX_LENGTH = 8
DEFAULT_LENGTH = 6
MASK = "*"
KEY_FILE = "otp.key"
# ``{{code}}`` as the vendor's guide writes it, or ``{code}`` as its OpenAPI does.
_PLACEHOLDER = re.compile(OTP_PLACEHOLDER)


def new_code(length: int) -> str:
    """``length`` random decimal digits, leading zeros included."""
    return "".join(secrets.choice("0123456789") for _ in range(length))


def has_placeholder(template: str) -> bool:
    """True when the template says where the code goes."""
    return _PLACEHOLDER.search(template) is not None


def render(template: str, code: str) -> str:
    """The template with every placeholder replaced by ``code``."""
    return _PLACEHOLDER.sub(lambda _match: code, template)


def masked(template: str, length: int) -> str:
    """The template as it is stored and shown: the code as ``length`` asterisks."""
    return render(template, MASK * length)


def code_mac(key: bytes, otp_id: str, code: str) -> str:
    """Hex HMAC-SHA256 binding ``code`` to its OTP: the same code under another OTP differs."""
    return hmac.new(key, f"{otp_id}:{code}".encode(), hashlib.sha256).hexdigest()


def otp_key(settings: RelaySettings) -> bytes:
    """The key codes are MACed with: ``otp_secret``, else the key file in ``data_dir``.

    The key file is made on first use, readable by its owner only. Relays
    that share one database must share the key: give them the same
    ``otp_secret`` (or the same data directory).
    """
    secret = settings.otp_secret.get_secret_value()
    if secret:
        return secret.encode()
    return data_dir_key(settings.data_dir.resolve(), KEY_FILE)
