"""The web console under /console: devices, messages, sending, inbox, blocked numbers, webhooks, charts,
operators.

Server-rendered pages over the same code the API runs (see README.md in this folder).
"""

from __future__ import annotations

import importlib

from flask import Flask

from relay_server.console import sessions
from relay_server.console.blueprint import bp

# Each module adds its routes to ``bp`` when imported.
PAGE_MODULES = (
    "relay_server.console.guard",
    "relay_server.console.failures",
    "relay_server.console.signin",
    "relay_server.console.devices",
    "relay_server.console.messages",
    "relay_server.console.live",
    "relay_server.console.send",
    "relay_server.console.inbox",
    "relay_server.console.blocked",
    "relay_server.console.deliveries",
    "relay_server.console.charts",
    "relay_server.console.operator",
)


def init_app(app: Flask) -> None:
    """Serve the console under /console with its signed session cookie."""
    sessions.configure(app)
    for module_name in PAGE_MODULES:
        importlib.import_module(module_name)
    app.register_blueprint(bp)
