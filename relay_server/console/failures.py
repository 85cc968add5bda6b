"""Errors on console pages: an HTML page with the API's own code and message, never a JSON body."""

from __future__ import annotations

from flask import render_template
from werkzeug.exceptions import HTTPException

from relay_server.api.errors import ApiError
from relay_server.console.blueprint import bp
from relay_server.console.i18n import translate

_HTTP_TEXTS = {
    403: "This form has expired or did not come from the console. Reload the page and try again.",
    404: "There is no such page.",
    405: "This page does not take this method.",
}


@bp.errorhandler(ApiError)
def api_error(error: ApiError) -> tuple[str, int, dict[str, str]]:
    """The error page for an API error: its status, its code and message (Retry-After kept)."""
    page = render_template("error.html", code=error.code, message=error.message, status=error.status)
    return page, error.status, error.headers


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[str, int]:
    """The error page for an HTTP error (a refused CSRF token is a 403)."""
    status = error.code or 500
    text = translate(_HTTP_TEXTS.get(status, error.name))
    return render_template("error.html", code=error.name, message=text, status=status), status
