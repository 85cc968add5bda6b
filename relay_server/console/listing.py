"""A page listing what an API route answers for the request's filters (history, inbox, webhook logs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, render_template, request

from relay_server.api.errors import ApiError

# The filters of every listing of messages (history and inbox) besides its own, as the API names them:
# the period, in UTC, whose inputs are the ``period`` macro's, and the page (``limit`` has no input:
# it is set in the address, and the pager keeps it).
PERIOD = ("from_date", "to_date")
PAGING = ("page", "limit")


def listing(
    template: str, names: tuple[str, ...], answer_of: Callable[[dict[str, str]], Response], items: str, **page: Any
) -> tuple[str, int]:
    """``template`` with the ``items`` of the answer for the filters ``names`` the request gives.

    Each value goes to the API as the request gives it, as the API's own route
    takes its query: what spaces mean is the API's to say (none around a date,
    a number or a status; an unencoded '+' of a phone number; part of the
    text a search looks for, where " no" is not "no"). Empty fields, which a
    form sends and the API reads as absent, are left out of the filters the
    page shows and pages with. Filters the API refuses show its error on the
    page, over an empty list, with the API's status.
    """
    filters = {name: request.args[name] for name in names if request.args.get(name)}
    try:
        answer = answer_of(filters).get_json()
    except ApiError as error:
        return render_template(template, filters=filters, error=error, items=[], pagination=None, **page), error.status
    return render_template(
        template, filters=filters, error=None, items=answer[items], pagination=answer["pagination"], **page
    ), 200
