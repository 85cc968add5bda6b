"""Where the console may send a browser back to: an address the browser gave (a form's ``next``,
the page it was on when its session ended), when it is a page of the console on this host.

The address ends up in a ``Location`` header, which the browser resolves as a
URL: another host (``https://evil.example/``, ``//evil.example``) would be
an open redirect, and ``\\`` (read as ``/``) or a dot segment (``..``,
``%2e%2e``) would take a path under /console outside it. Such addresses are
refused whole rather than mended.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flask import current_app, url_for
from werkzeug.exceptions import HTTPException

from relay_server.console.blueprint import PREFIX


@dataclass(frozen=True)
class Page:
    """A console page: the endpoint that answers it and its address (path and query)."""

    endpoint: str
    address: str


def console_page(target: str) -> Page | None:
    """``target`` when it is the address of a console page a GET opens on this host, else None."""
    if not target.isprintable() or "\\" in target or " " in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.fragment or not parts.path.startswith(PREFIX + "/"):
        return None
    segments = unquote(parts.path).split("/")
    if any(segment in (".", "..") for segment in segments) or "" in segments[1:-1]:
        return None
    try:
        endpoint, _values = current_app.url_map.bind("").match(parts.path, method="GET")
    except HTTPException:  # no such page, a POST-only one, or a redirect to another
        return None
    return Page(str(endpoint), parts.path + (f"?{parts.query}" if parts.query else ""))


def back_to(target: str, endpoint: str) -> str:
    """``target`` when it is an address of ``endpoint``'s page (its filters and page kept), else that page's own."""
    page = console_page(target)
    return page.address if page is not None and page.endpoint == endpoint else url_for(endpoint)
