"""The reasons a message can fail, as the contract's ``sms.failed`` codes name them."""

from __future__ import annotations

from enum import StrEnum


class FailureCode(StrEnum):
    """``error.code`` of a failed message and of the ``sms.failed`` event."""

    NETWORK_ERROR = "NETWORK_ERROR"
    INVALID_NUMBER = "INVALID_NUMBER"
    NO_CREDIT = "NO_CREDIT"
    BLOCKED_NUMBER = "BLOCKED_NUMBER"
    DEVICE_ERROR = "DEVICE_ERROR"
    TIMEOUT = "TIMEOUT"
