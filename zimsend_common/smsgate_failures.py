"""What the SMSGate app's words for a failed send mean, for the relay (phones on its mobile API)
and the agent (the ``smsgate-local`` backend) alike.

The app puts Android's ``SmsManager`` result name in a recipient's ``error``
(``RESULT_ERROR_NO_SERVICE``, ``RESULT_ERROR_RADIO_OFF``...), or its own
words for a message that expired (``TTL expired``).
"""

from __future__ import annotations

from zimsend_common.failures import FailureCode

# Words in the error that say which failure it is; anything else is the phone's own.
_FAILURE_WORDS = (
    ("NO_SERVICE", FailureCode.NETWORK_ERROR),
    ("RADIO_OFF", FailureCode.NETWORK_ERROR),
    ("NULL_PDU", FailureCode.DEVICE_ERROR),
    ("expired", FailureCode.TIMEOUT),
    ("TTL", FailureCode.TIMEOUT),
)
# Failures that say the phone could not reach the network at all: the SMS never left it.
_NOT_SENT_WORDS = ("NO_SERVICE", "RADIO_OFF")


def failure_code(error: str | None) -> FailureCode:
    """The contract's failure code for the app's error."""
    return next((code for word, code in _FAILURE_WORDS if error and word in error), FailureCode.DEVICE_ERROR)


def never_left_the_phone(error: str | None) -> bool:
    """Whether the error says the SMS never reached the network, so sending it again cannot duplicate it."""
    return bool(error) and any(word in (error or "") for word in _NOT_SENT_WORDS)
