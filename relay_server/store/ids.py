"""Fresh identifiers and secrets, in the contract's formats, from the ``secrets`` module."""

from __future__ import annotations

import re
import secrets
import string
from datetime import datetime

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


def new_operator_password() -> str:
    """32 alphanumerics: a console operator's password, as strong as an API key."""
    return _choose(_ALPHANUMERIC, 32)


def new_key_id() -> str:
    """``key_`` and 16 lowercase hex: names a key without revealing it."""
    return "key_" + secrets.token_hex(8)


def new_device_id() -> str:
    """``device_`` and 12 lowercase alphanumerics."""
    return "device_" + _choose(_LOWER_ALPHANUMERIC, 12)


def new_device_password() -> str:
    """A device password: 32 characters, about 190 bits."""
    return _choose(_ALPHANUMERIC, 32)


# A message's id begins with the minute it was made in, of a cycle of this many (about 4 h 16).
_MINUTES_CYCLE = 256
_RANDOM_BITS = 64 - (_MINUTES_CYCLE - 1).bit_length()


def new_message_id(made_at: datetime) -> str:
    """``msg_`` and 16 lowercase hex: two name ``made_at``'s minute in ``_MINUTES_CYCLE``, fourteen are random.

    Messages made together then sit together in every index of message ids
    (the messages' own, their events'): a bulk's thousand rows change a few
    dozen pages of each, where ids random throughout changed a page a row,
    each written to the write-ahead log and again to the database (a bulk of
    1,000 into a million stored messages wrote 30-50 MB to SQLite's files;
    now 5-11). Messages spread over the cycle use its prefixes evenly, so two
    ids are about as unlikely to meet as with 64 random bits; those of one
    minute still differ in 56, which also leave an id unguessable.
    """
    return "msg_" + _clustered_hex(made_at)


def new_incoming_id(made_at: datetime) -> str:
    """``in_`` and 16 lowercase hex, made as a message's (``new_message_id``): an incoming SMS."""
    return "in_" + _clustered_hex(made_at)


def _clustered_hex(made_at: datetime) -> str:
    minute = int(made_at.timestamp() // 60) % _MINUTES_CYCLE
    return format(minute << _RANDOM_BITS | secrets.randbits(_RANDOM_BITS), "016x")


def new_batch_id() -> str:
    """``batch_`` and 16 lowercase hex."""
    return "batch_" + secrets.token_hex(8)


def new_otp_id() -> str:
    """``otp_`` and 16 lowercase hex."""
    return "otp_" + secrets.token_hex(8)


_SHAPES = {
    "client": re.compile(r"client_[0-9]{10}"),
    "device": re.compile(r"device_[a-z0-9]{12}"),
    "message": re.compile(r"msg_[0-9a-f]{16}"),
    "incoming": re.compile(r"in_[0-9a-f]{16}"),
    # Agents name events ``evt_`` and 32 hex; the store holds any id of this shape.
    "event": re.compile(r"[A-Za-z0-9_-]{1,40}"),
    "otp": re.compile(r"otp_[0-9a-f]{16}"),
}


def is_client_id(value: str) -> bool:
    return bool(_SHAPES["client"].fullmatch(value))


def is_device_id(value: str) -> bool:
    return bool(_SHAPES["device"].fullmatch(value))


def is_message_id(value: str) -> bool:
    """True for ``msg_`` and 16 lowercase hex; anything else can name no message."""
    return bool(_SHAPES["message"].fullmatch(value))


def is_incoming_id(value: str) -> bool:
    return bool(_SHAPES["incoming"].fullmatch(value))


def is_event_id(value: str) -> bool:
    """True for an agent's event id the store can keep: up to 40 letters, digits, ``_`` or ``-``."""
    return bool(_SHAPES["event"].fullmatch(value))


def is_otp_id(value: str) -> bool:
    """True for ``otp_`` and 16 lowercase hex; anything else can name no OTP."""
    return bool(_SHAPES["otp"].fullmatch(value))
