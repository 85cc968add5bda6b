"""What a status report's TP-Status (TS 23.040 9.2.3.15) means for the message.

The ranges, not single values, carry the meaning, so reserved and
operator-specific values land where the standard says they belong:

- 0x00-0x1F: the transaction completed: delivered;
- 0x20-0x3F: a temporary error, the service centre is still trying: pending;
- 0x40-0x5F: a permanent error: failed;
- 0x60-0x7F: a temporary error the service centre gave up on: failed.
"""

from __future__ import annotations

from typing import Literal

from zimsend_common.failures import FailureCode

Outcome = Literal["delivered", "failed", "pending"]

# The few values that say more than "the network failed".
_FAILURES = {
    0x41: FailureCode.INVALID_NUMBER,  # incompatible destination
    0x42: FailureCode.BLOCKED_NUMBER,  # connection rejected by the recipient
    0x43: FailureCode.INVALID_NUMBER,  # not obtainable
    0x46: FailureCode.TIMEOUT,  # validity period expired
    0x62: FailureCode.TIMEOUT,  # no response from the recipient, given up
}


def outcome_of(status: int) -> Outcome:
    """Delivered, failed or still pending, for a TP-Status value."""
    if status < 0x20:
        return "delivered"
    if status < 0x40:
        return "pending"
    return "failed"


def failure_of(status: int) -> FailureCode | None:
    """The contract's failure code for a failed TP-Status; None unless failed."""
    if outcome_of(status) != "failed":
        return None
    return _FAILURES.get(status, FailureCode.NETWORK_ERROR)
