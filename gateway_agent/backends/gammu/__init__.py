"""The ``gammu`` backend: phones and modems that Gammu already knows how to drive.

Older Nokia and Sony Ericsson phones over USB or Bluetooth, and Huawei or ZTE
sticks with Gammu's quirk handling, run the agent with ``backend = "gammu"``.
It needs python-gammu, the ``gammu`` extra: ``pip install 'zimsend-gateway[gammu]'``.
"""

from __future__ import annotations

try:
    import gammu  # noqa: F401  (checked here so the error names the extra)
except ImportError as exc:
    raise ImportError(
        "the gammu backend needs python-gammu: install the 'gammu' extra "
        "(pip install 'zimsend-gateway[gammu]'); on 32-bit Raspberry Pi OS see "
        "the README's gammu section"
    ) from exc

from gateway_agent.backends.gammu.modem import GammuModem, Timing
from zimsend_common.config import Settings

__all__ = ["GammuModem", "Timing", "create"]


def create(settings: Settings, timing: Timing | None = None) -> GammuModem:
    """A ``GammuModem`` for ``settings``, not yet opened.

    A configuration that names no usable device makes ``open()`` raise NotReady.
    """
    return GammuModem(settings, timing)
