"""Modem backends, one package each, chosen by name at run time.

Each backend package exports ``create(settings) -> Modem``. Importing is
deferred so that python-gammu is needed only by those who use ``gammu``.
"""

from __future__ import annotations

import importlib

from gateway_agent.errors import NotReady
from gateway_agent.modem import Modem
from zimsend_common.config import Settings

BACKENDS = ("at", "gammu", "emulator", "smsgate-local")


def open_modem(settings: Settings) -> Modem:
    """A ``Modem`` for ``settings.agent.backend``, not yet opened.

    Raises NotReady when the backend cannot load (python-gammu not installed).
    """
    name = settings.agent.backend
    if name not in BACKENDS:
        raise ValueError(f"unknown modem backend {name!r}; choose one of {', '.join(BACKENDS)}")
    try:
        module = importlib.import_module(f"gateway_agent.backends.{name.replace('-', '_')}")
    except ImportError as exc:
        raise NotReady(f"the {name} backend cannot be loaded: {exc}") from exc
    return module.create(settings)
