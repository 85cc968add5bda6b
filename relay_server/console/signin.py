"""Signing in with a client id and an API key, signing out, and the language switch."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from relay_server.api.auth import verify_credentials
from relay_server.api.errors import ApiError
from relay_server.console import guard
from relay_server.console.blueprint import PREFIX, bp
from relay_server.console.i18n import LANGUAGES
from relay_server.console.return_to import console_page


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Response | str | tuple[str, int]:
    """The sign-in form; a right client id and key open the session, as the API's headers would, and
    go to the page asked for (``next``: the address's, else the one the session was on when it
    ended) when it is a client's console page of this host, else to the devices."""
    if request.method == "GET":
        asked = guard.client_page(request.args.get("next") or session.get(guard.ASKED, ""))
        return render_template("signin.html", next_page=asked)
    next_page = guard.client_page(request.form.get("next", ""))
    client_id = request.form.get("client_id", "").strip()
    api_key = request.form.get("api_key", "").strip()
    try:
        if not client_id or not api_key:
            raise ApiError("MISSING_AUTH_HEADERS", "The API key and the client ID are required.")
        caller = verify_credentials(client_id, api_key)
    except ApiError as error:
        if error.code == "TOO_MANY_AUTH_FAILURES":
            raise
        return render_template("signin.html", error=error, client_id=client_id, next_page=next_page), error.status
    guard.sign_in(caller)
    return redirect(next_page or url_for("console.devices"))


@bp.post("/signout")
def signout() -> Response:
    """End the session."""
    guard.sign_out()
    return redirect(url_for("console.signin"))


@bp.post("/language")
def language() -> Response:
    """Keep the chosen language in the session cookie and go back to the page it was chosen on."""
    chosen = request.form.get("language", "")
    if chosen in LANGUAGES:
        session["language"] = chosen
    return redirect(_page_to_go_back_to(request.form.get("next", "")))


def _page_to_go_back_to(back: str) -> str:
    """``back`` when it is a console page a GET opens (``return_to``), else the nearest one above
    it (the CSV upload's result answers a POST only: the send page), else the devices; never elsewhere."""
    page = console_page(back)
    path = back.partition("?")[0]
    while page is None and path.startswith(PREFIX + "/"):
        page = console_page(path)
        path = path.rpartition("/")[0]
    return page.address if page is not None else url_for("console.devices")
