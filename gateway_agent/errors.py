"""The errors a modem backend raises.

    ModemError                 anything that kept the modem from doing what was asked
     ├── ModemTimeout          no final answer in time (temporary; TIMEOUT)
     ├── NoPrompt              no ``> `` invitation for a part: that part was not
     │                         handed over, so it may be tried again (temporary)
     ├── CommandError          ERROR, +CMS ERROR, +CME ERROR or MODEM ERROR (or a gammu error)
     ├── NotReady              SIM locked or absent, no network, bad PIN, backend not installed
     ├── PortGone              the serial port or connection disappeared
     └── Unsendable            the message cannot be put into PDUs (a recipient
                               that is not a number); INVALID_NUMBER, permanent

A CommandError from the AT driver carries the modem's error number, the
standard name of that number, and the temporary flag and failure code
``gateway_agent.backends.at.error_table`` gives it.

Every ModemError says whether a later retry may succeed (``temporary``) and
which contract failure code a message failed by it gets (``failure``). One
raised after some parts of a message were accepted carries their ``progress``
(``gateway_agent.modem.Progress``), which its ``detail`` tells too: the
message may only go on from there, never be sent again from its first part.
"""

from __future__ import annotations

from gateway_agent.modem import Progress
from zimsend_common.failures import FailureCode


class ModemError(Exception):
    temporary: bool = False
    failure: FailureCode = FailureCode.DEVICE_ERROR
    progress: Progress | None = None  # set by the backend when earlier parts were accepted

    def __init__(
        self,
        message: str,
        *,
        temporary: bool | None = None,
        failure: FailureCode | None = None,
    ) -> None:
        super().__init__(message)
        if temporary is not None:
            self.temporary = temporary
        if failure is not None:
            self.failure = failure

    @property
    def detail(self) -> str:
        """The modem's own words, for ``error.detail``, and how many parts went before them."""
        return str(self) if self.progress is None else f"{self}; {self.progress}"


class ModemTimeout(ModemError):
    temporary = True
    failure = FailureCode.TIMEOUT


class NoPrompt(ModemError):
    """The modem never invited a part's text: that part has not been sent, unlike after a ModemTimeout."""

    temporary = True
    failure = FailureCode.TIMEOUT


class CommandError(ModemError):
    """The modem refused a command; ``code`` is its error number, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "ERROR",
        code: int | None = None,
        name: str = "",
        temporary: bool | None = None,
        failure: FailureCode | None = None,
    ) -> None:
        super().__init__(message, temporary=temporary, failure=failure)
        self.kind = kind  # "ERROR", "+CMS ERROR", "+CME ERROR", "MODEM ERROR", "GAMMU"
        self.code = code
        self.name = name


class NotReady(ModemError):
    failure = FailureCode.DEVICE_ERROR


class PortGone(ModemError):
    temporary = True
    failure = FailureCode.DEVICE_ERROR


class Unsendable(ModemError):
    temporary = False
    failure = FailureCode.INVALID_NUMBER
