"""Who may see a console page: checked before every console request.

A client's page needs a signed-in client whose key is still valid (a revoked
key or a disabled client ends the session); its requests count against the
client's rate limit exactly as API requests do. Operator pages need an
operator still on record. Every POST needs the session's CSRF token.
"""

from __future__ import annotations

from flask import g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from relay_server.api import context, ratelimit
from relay_server.console import csrf
from relay_server.console.blueprint import bp
from relay_server.store.models import Caller
from zimsend_common.timefmt import utcnow

# Pages anyone may open: signing in, the language switch and the static files.
OPEN_ENDPOINTS = frozenset({"console.signin", "console.operator_signin", "console.language", "console.static"})


@bp.before_request
def guard() -> Response | None:
    """Check the CSRF token of a POST, then who is signed in; redirect to sign-in when nobody is."""
    if request.method == "POST":
        csrf.check()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if (request.endpoint or "").startswith("console.operator"):
        if not _operator_on_record():
            session.pop("operator", None)
            return redirect(url_for("console.operator_signin"))
        return None
    caller = _session_caller()
    if caller is None:
        session.pop("client_id", None)
        return redirect(url_for("console.signin"))
    g.caller = caller
    ratelimit.check_rate_limit()
    return None


def sign_in(caller: Caller) -> None:
    """Make the session the caller's, with a fresh CSRF token."""
    _fresh_session()
    session.update(client_id=caller.client_id, key_id=caller.key_id)


def sign_in_operator(name: str) -> None:
    """Make the session the operator's, with a fresh CSRF token."""
    _fresh_session()
    session["operator"] = name


def sign_out() -> None:
    """Forget who the session was; it keeps only a new CSRF token."""
    _fresh_session()


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
    client = store.get_client(client_id)
    if client is None or client.disabled:
        return None
    now = utcnow()
    for key in store.list_api_keys(client_id):
        if key.key_id == key_id and key.revoked_at is None and (key.expires_at is None or key.expires_at > now):
            return Caller(client_id=client_id, key_id=key_id, is_test=key.is_test)
    return None


def _operator_on_record() -> bool:
    name = session.get("operator")
    return isinstance(name, str) and context.current().store.operators.exists(name)
