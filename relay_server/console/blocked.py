"""Blocked numbers: the client's list (of the signed-in key's mode), a number added, one taken off.

Each read and action is the API's own function (``api.blocked_numbers``), so
the page shows and refuses exactly what the API would.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, request
from werkzeug.wrappers import Response

from relay_server.api import blocked_numbers
from relay_server.api.errors import ApiError
from relay_server.console.blueprint import bp
from relay_server.console.i18n import translate
from relay_server.console.listing import PAGING, listing
from relay_server.console.return_to import back_to


@bp.get("/blocked-numbers")
def blocked() -> tuple[str, int]:
    """One page of the list, newest first, and the form that adds a number."""
    return listing("blocked_numbers.html", PAGING, blocked_numbers.blocked_answer, "data")


@bp.post("/blocked-numbers")
def block() -> Response:
    """Put the form's number on the list, as ``POST /v1/blocked-numbers`` does."""
    return _act(lambda: blocked_numbers.block_answer({"number": request.form.get("number", "")}), "Number blocked.")


@bp.post("/blocked-numbers/<number>/unblock")
def unblock(number: str) -> Response:
    """Take the number off the list, as ``DELETE /v1/blocked-numbers/:number`` does."""
    return _act(lambda: blocked_numbers.unblock(number), "Number unblocked.")


def _act(action: Callable[[], object], done: str) -> Response:
    try:
        action()
    except ApiError as error:
        flash(f"{error.code}: {error.message}", "error")
    else:
        flash(translate(done), "info")
    return redirect(back_to(request.form.get("next", ""), "console.blocked"))
