"""The console's one blueprint: every page module adds its routes to ``bp``."""

from __future__ import annotations

from flask import Blueprint

PREFIX = "/console"

bp = Blueprint(
    "console",
    __name__,
    url_prefix=PREFIX,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
