"""Errors on console pages: an HTML page with the API's own code and message, never a JSON body."""

from __future__ import annotations

from flask import Response, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from relay_server.api.errors import ApiError
from relay_server.console.blueprint import bp
from relay_server.console.i18n import translate
from relay_server.console.sessions import is_console

_HTTP_TEXTS = {
    403: "This form has expired or did not come from the console. Reload the page and try again.",
    404: "There is no such page.",
    405: "This page does not take this method.",
}
# The API's codes for a bare 404 or 405 of the HTTP layer (``errors.http_error``).
_ROUTING_CODES = {"NOT_FOUND": 404, "METHOD_NOT_ALLOWED": 405}


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


@bp.after_app_request
def error_page(response: Response) -> Response:
    """An API error body answered at a console address, made the console's error page (status and
    headers, Retry-After and Allow included, kept).

    The handlers above see only errors of a console page's own code. An address
    under /console that no page has (a typo, a GET of a form's POST-only
    address), an unexpected failure or an unreachable database reach the app's
    handlers, which answer the API's JSON.
    """
    if response.status_code < 400 or not response.is_json or not is_console(request.path):
        return response
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return response
    code, message = str(error.get("code", "")), str(error.get("message", ""))
    if _ROUTING_CODES.get(code) == response.status_code:
        # Said as the handler above says a 404 or 405 a page raises.
        code, message = HTTP_STATUS_CODES[response.status_code], translate(_HTTP_TEXTS[response.status_code])
    page = render_template("error.html", code=code, message=message, status=response.status_code)
    response.set_data(page)
    response.mimetype = "text/html"
    return response
