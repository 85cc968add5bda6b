"""Gammu's errors as the agent's ``ModemError`` classes.

python-gammu raises one exception class per Gammu error (``gammu.ERR_TIMEOUT``
and so on). ``RULES`` is the one table that says what each means to the agent:

==========================================  ============  =========  =============
Gammu error                                 becomes       temporary  failure code
==========================================  ============  =========  =============
ERR_TIMEOUT                                 ModemTimeout  yes        TIMEOUT
ERR_DEVICE* (gone, unreadable, locked...),  PortGone      yes        DEVICE_ERROR
ERR_NOTCONNECTED
ERR_SECURITYERROR (PIN, PUK asked)          NotReady      no         DEVICE_ERROR
ERR_NOSIM (absent, busy, failed)            NotReady      yes        DEVICE_ERROR
ERR_NOSERVICE, ERR_NETWORK_ERROR            CommandError  yes        NETWORK_ERROR
ERR_BUSY, ERR_FULL                          CommandError  yes        DEVICE_ERROR
ERR_GETTING_SMSC, ERR_EMPTYSMSC             CommandError  no         DEVICE_ERROR
anything else                               CommandError  no         DEVICE_ERROR
==========================================  ============  =========  =============

Unknown errors are permanent on purpose: after an error Gammu could not name,
nobody knows whether the network took the message, and a resend could deliver
it twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import gammu

from gateway_agent.errors import CommandError, ModemError, ModemTimeout, NotReady, PortGone
from zimsend_common.failures import FailureCode


@dataclass(frozen=True)
class Rule:
    """How one Gammu error is reported to the agent."""

    error: type[ModemError]
    temporary: bool
    failure: FailureCode


_TIMEOUT = Rule(ModemTimeout, True, FailureCode.TIMEOUT)
_PORT_GONE = Rule(PortGone, True, FailureCode.DEVICE_ERROR)
_LOCKED = Rule(NotReady, False, FailureCode.DEVICE_ERROR)
_NO_SIM = Rule(NotReady, True, FailureCode.DEVICE_ERROR)
_NETWORK = Rule(CommandError, True, FailureCode.NETWORK_ERROR)
_BUSY = Rule(CommandError, True, FailureCode.DEVICE_ERROR)
_PERMANENT = Rule(CommandError, False, FailureCode.DEVICE_ERROR)

RULES: dict[str, Rule] = {
    "ERR_TIMEOUT": _TIMEOUT,
    "ERR_DEVICENOTEXIST": _PORT_GONE,
    "ERR_DEVICEOPENERROR": _PORT_GONE,
    "ERR_DEVICEREADERROR": _PORT_GONE,
    "ERR_DEVICEWRITEERROR": _PORT_GONE,
    "ERR_DEVICEBUSY": _PORT_GONE,
    "ERR_DEVICELOCKED": _PORT_GONE,
    "ERR_DEVICENOPERMISSION": _PORT_GONE,
    "ERR_DEVICENOTWORK": _PORT_GONE,
    "ERR_DEVICEDTRRTSERROR": _PORT_GONE,
    "ERR_DEVICECHANGESPEEDERROR": _PORT_GONE,
    "ERR_DEVICEPARITYERROR": _PORT_GONE,
    "ERR_NOTCONNECTED": _PORT_GONE,
    "ERR_SECURITYERROR": _LOCKED,
    "ERR_NOSIM": _NO_SIM,
    "ERR_NOSERVICE": _NETWORK,
    "ERR_NETWORK_ERROR": _NETWORK,
    "ERR_BUSY": _BUSY,
    "ERR_FULL": _BUSY,
    "ERR_GETTING_SMSC": _PERMANENT,
    "ERR_EMPTYSMSC": _PERMANENT,
}


def rule_for(name: str) -> Rule:
    """The rule for the Gammu error called ``name``; unknown names are permanent."""
    return RULES.get(name, _PERMANENT)


def modem_error(exc: Exception, doing: str) -> ModemError:
    """The ``ModemError`` that reports ``exc``, a ``gammu.GSMError``, raised while ``doing``."""
    name = type(exc).__name__
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    text = info.get("Text", name)
    message = f"{doing}: {text} ({name})"
    rule = rule_for(name)
    if rule.error is CommandError:
        return CommandError(
            message,
            kind="GAMMU",
            code=info.get("Code"),
            name=name,
            temporary=rule.temporary,
            failure=rule.failure,
        )
    return rule.error(message, temporary=rule.temporary, failure=rule.failure)


@contextmanager
def gammu_errors(doing: str) -> Iterator[None]:
    """Raise whatever Gammu raises inside the block as its ``ModemError``."""
    try:
        yield
    except gammu.GSMError as exc:
        raise modem_error(exc, doing) from exc
