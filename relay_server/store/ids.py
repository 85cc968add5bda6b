"""Fresh identifiers and secrets, in the contract's formats, from the ``secrets`` module."""

from __future__ import annotations

import secrets
import string

_ALPHANUMERIC = string.ascii_letters + string.digits
_LOWER_ALPHANUMERIC = string.ascii_lowercase + string.digits


def _choose(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_client_id() -> str:
    """``client_`` and 10 digits."""
    return "client_" + _choose(string.digits, 10)


def new_api_key(*, test: bool) -> str:
    """``zs_live_`` (or ``zs_test_``) and 32 alphanumerics."""
    return ("zs_test_" if test else "zs_live_") + _choose(_ALPHANUMERIC, 32)


def new_key_id() -> str:
    """``key_`` and 16 lowercase hex: names a key without revealing it."""
    return "key_" + secrets.token_hex(8)


def new_device_id() -> str:
    """``device_`` and 12 lowercase alphanumerics."""
    return "device_" + _choose(_LOWER_ALPHANUMERIC, 12)


def new_device_password() -> str:
    """A device password: 32 characters, about 190 bits."""
    return _choose(_ALPHANUMERIC, 32)


def new_message_id() -> str:
    """``msg_`` and 16 lowercase hex."""
    return "msg_" + secrets.token_hex(8)


def new_batch_id() -> str:
    """``batch_`` and 16 lowercase hex."""
    return "batch_" + secrets.token_hex(8)
