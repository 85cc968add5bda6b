"""Who may see a console page: checked before every console request.

A client's page needs a signed-in client whose key is still valid (a revoked
key or a disabled client ends the session); its requests count against the
client's rate limit exactly as API requests do. Operator pages need an
operator still on record. Every POST needs the session's CSRF token.

Each signing-in starts a session of its own id, which lasts ``SIGNED_IN_FOR``
at most however often it is used (the cookie's 12 hours unused end it
sooner). Signing out records the id in the store (``store.signed_out``): the
cookie is signed, not stored, and a copy of it taken before would otherwise
open the console until it expired.

A client sent to sign in is sent, once signed in, to the page it asked for,
which the session keeps meanwhile (``ASKED``): only ever a client's console
page of this host (``client_page``).
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from relay_server.api import context, ratelimit
from relay_server.console import csrf, return_to
from relay_server.console.blueprint import bp
from relay_server.store.models import Caller
from zimsend_common.timefmt import utcnow

# Pages anyone may open: signing in, the language switch and the static files.
OPEN_ENDPOINTS = frozenset({"console.signin", "console.operator_signin", "console.language", "console.static"})
SIGNED_IN_FOR = timedelta(hours=24)
# Addresses a GET opens that are no page to come back to once signed in: a part of a page
# (htmx's) and the stream of a page's live statuses.
NOT_PAGES = frozenset({"console.devices_table", "console.live"})
# Where the session keeps the page asked for when it was sent to sign in.
ASKED = "asked"
# What a session holds of who signed in, besides its language and CSRF token.
_SIGNED_IN = ("session_id", "since", "client_id", "key_id", "operator")


@bp.before_request
def guard() -> Response | None:
    """Check the CSRF token of a POST, then who is signed in; redirect to sign-in when nobody is."""
    if request.method == "POST":
        csrf.check()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not _session_live():
        for name in _SIGNED_IN:
            session.pop(name, None)
        return _to_sign_in("console.operator_signin" if _operator_page() else "console.signin")
    if _operator_page():
        if not _operator_on_record():
            session.pop("operator", None)
            return _to_sign_in("console.operator_signin")
        return None
    caller = _session_caller()
    if caller is None:
        session.pop("client_id", None)
        return _to_sign_in("console.signin")
    g.caller = caller
    ratelimit.check_rate_limit()
    return None


def _to_sign_in(endpoint: str) -> Response:
    """To the sign-in page: a redirect, or for a part of a page htmx asks for, the whole page's.

    htmx follows a redirect itself and puts the answer in the part's place: the
    devices table refreshed after the session ended became a second page, sign-in
    form and all, inside the first. ``HX-Redirect`` makes it load the sign-in page.
    """
    if endpoint == "console.signin":
        _remember_asked_page()
    target = url_for(endpoint)
    if request.headers.get("HX-Request") == "true":
        return Response(status=401, headers={"HX-Redirect": target})
    return redirect(target)


def _remember_asked_page() -> None:
    """Keep the client's page asked for in the session, to go to once signed in: the page itself, or
    for a part of a page htmx asks for, the page it is part of (htmx names it)."""
    if request.method != "GET":
        return
    if request.headers.get("HX-Request") == "true":
        shown = urlsplit(request.headers.get("HX-Current-URL", ""))
        asked = shown.path + (f"?{shown.query}" if shown.query else "")
    else:
        asked = request.full_path
    page = client_page(asked)
    if page is not None:
        session[ASKED] = page


def client_page(target: str) -> str | None:
    """``target``'s address when it is a console page a signed-in client may be sent to, else None:
    never another host, an address outside /console, an operator's page or a part of a page."""
    page = return_to.console_page(target)
    if page is None or page.endpoint in OPEN_ENDPOINTS | NOT_PAGES or page.endpoint.startswith("console.operator"):
        return None
    return page.address


def sign_in(caller: Caller) -> None:
    """Make the session the caller's, a new one with a fresh CSRF token."""
    _signed_in_session()
    session.update(client_id=caller.client_id, key_id=caller.key_id)


def sign_in_operator(name: str) -> None:
    """Make the session the operator's, a new one with a fresh CSRF token."""
    _signed_in_session()
    session["operator"] = name


def sign_out() -> None:
    """End the session for good, copies of its cookie included; the browser keeps only a new CSRF token."""
    session_id, since = session.get("session_id"), session.get("since")
    if isinstance(session_id, str) and isinstance(since, int):
        until = datetime.fromtimestamp(since, timezone.utc) + SIGNED_IN_FOR
        context.current().store.signed_out.record(session_id, until)
    _fresh_session()


def _signed_in_session() -> None:
    _fresh_session()
    session.update(session_id=secrets.token_urlsafe(32), since=int(time.time()))


def _session_live() -> bool:
    """Whether the session was signed in, less than ``SIGNED_IN_FOR`` ago, and not signed out since."""
    session_id, since = session.get("session_id"), session.get("since")
    if not isinstance(session_id, str) or not isinstance(since, int):
        return False
    if time.time() - since >= SIGNED_IN_FOR.total_seconds():
        return False
    # Asked on every page: a sign-out made in another server process, or another relay, ends
    # the cookie's copies at once only if each page asks the store. Neither the cookie (the
    # copy is the same cookie) nor a process's memory can hold the answer without that window.
    return not context.current().store.signed_out.includes(session_id)


def _operator_page() -> bool:
    return (request.endpoint or "").startswith("console.operator")


def _fresh_session() -> None:
    language = session.get("language")
    session.clear()
    session.permanent = True
    if language:
        session["language"] = language
    csrf.renew()


def _session_caller() -> Caller | None:
    """The session's caller, while its client is active and its key neither revoked nor expired."""
    client_id, key_id = session.get("client_id"), session.get("key_id")
    if not isinstance(client_id, str) or not isinstance(key_id, str):
        return None
    store = context.current().store
    client = store.clients.get(client_id)
    if client is None or client.disabled:
        return None
    now = utcnow()
    for key in store.clients.list_api_keys(client_id):
        if key.key_id == key_id and key.revoked_at is None and (key.expires_at is None or key.expires_at > now):
            return Caller(client_id=client_id, key_id=key_id, is_test=key.is_test, daily_quota=client.daily_quota)
    return None


def _operator_on_record() -> bool:
    name = session.get("operator")
    return isinstance(name, str) and context.current().store.operators.exists(name)
