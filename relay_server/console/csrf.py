"""CSRF tokens: one random token per session, required in every POST the console takes."""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

from relay_server.console.blueprint import bp

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def token() -> str:
    """The session's token, made on first use (before sign-in too: the sign-in form carries it)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def renew() -> None:
    """A new token, for a session that has just changed hands (signed in or out)."""
    session["csrf"] = secrets.token_urlsafe(32)


def check() -> None:
    """403 unless the request carries the session's token in its form or its header."""
    expected = session.get("csrf")
    given = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    if not expected or not hmac.compare_digest(str(expected).encode(), given.encode()):
        abort(403)


@bp.app_template_global("csrf_token")
def _template_token() -> str:
    return token()
