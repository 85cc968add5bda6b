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


_DESCRIPTIONS = {
    FailureCode.NETWORK_ERROR: "The network could not deliver the message",
    FailureCode.INVALID_NUMBER: "The recipient's number is not valid",
    FailureCode.NO_CREDIT: "The SIM has no credit left",
    FailureCode.BLOCKED_NUMBER: "The recipient's number is blocked",
    FailureCode.DEVICE_ERROR: "The device could not send the message",
    FailureCode.TIMEOUT: "The message could not be sent in time",
}


def describe(code: FailureCode) -> str:
    """The ``error.message`` that goes with a failure code (the code itself says what failed)."""
    return _DESCRIPTIONS[code]
