"""Modem backends, one package each, chosen by name at run time.

Each backend package exports ``create(settings) -> Modem``. Importing is
deferred so that python-gammu is needed only by those who use ``gammu``.
"""

from __future__ import annotations

import importlib

from gateway_agent.modem import Modem
from zimsend_common.config import Settings

BACKENDS = ("at", "gammu", "emulator")


def open_modem(settings: Settings) -> Modem:
    """A ``Modem`` for ``settings.agent.backend``, not yet opened."""
    name = settings.agent.backend
    if name not in BACKENDS:
        raise ValueError(f"unknown modem backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module = importlib.import_module(f"gateway_agent.backends.{name}")
    return module.create(settings)
