"""Blocked numbers: ``GET``/``POST /v1/blocked-numbers`` and ``DELETE /v1/blocked-numbers/:number``.

The caller's list of numbers it will not send to, of its key mode (a
``zs_test_`` key sees and changes the test list only). A send to a number on
it is refused with 403 ``BLOCKED_NUMBER`` (see ``sending``). The relay adds
a number that replies STOP to one of the client's devices, and takes it off
again when it replies START (``store.blocked_numbers``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint, Response, request

from relay_server.api.auth import current_caller
from relay_server.api.body import json_body
from relay_server.api.context import current
from relay_server.api.errors import ApiError
from relay_server.api.models.blocked_numbers import (
    BlockedNumber,
    BlockedNumberPage,
    BlockedNumbersParams,
    BlockNumber,
    OneBlockedNumber,
)
from relay_server.api.models.fields import PHONE
from relay_server.api.models.sending import parse_to
from relay_server.api.routes import respond, route
from relay_server.api.tracking import pagination
from relay_server.store import blocked_numbers
from zimsend_common.timefmt import utcnow

bp = Blueprint("blocked_numbers", __name__, url_prefix="/v1")

BLOCKED = {"tag": "Blocked numbers"}
Shown = TypeVar("Shown", bound=BlockedNumber)


@route(
    bp,
    "GET",
    "/blocked-numbers",
    summary="List the blocked numbers",
    status=200,
    answers=BlockedNumberPage,
    query=BlockedNumbersParams,
    description="One page of the numbers sends to which are refused, newest first.",
    **BLOCKED,
)
def list_blocked() -> Response:
    """One page of the caller's list, newest first."""
    return blocked_answer(request.args.to_dict())


def blocked_answer(args: dict[str, str]) -> Response:
    """The list's answer for the query parameters ``args``, whoever asks (the API or the console)."""
    params = BlockedNumbersParams.model_validate(args)
    caller = current_caller()
    found, total = current().store.blocked_numbers.page(caller.client_id, caller.is_test, params.page, params.limit)
    return respond(
        BlockedNumberPage(
            data=[_shown(entry, BlockedNumber) for entry in found],
            pagination=pagination(params.page, params.limit, total),
        )
    )


@route(
    bp,
    "POST",
    "/blocked-numbers",
    summary="Block a number",
    status=201,
    answers=OneBlockedNumber,
    body=BlockNumber,
    description="On the list: sends to it are refused with 403 BLOCKED_NUMBER. A number already on the list"
    " stays as it was, and is answered the same.",
    example={"number": "+33612345678"},
    **BLOCKED,
)
def block() -> Response:
    """Put the number on the caller's list (``manual``); one already there is answered as it is."""
    return block_answer(json_body())


def block_answer(body: dict[str, Any]) -> Response:
    """``block`` of the request body ``body``, whoever asks (the API or the console)."""
    checked = BlockNumber.model_validate(body)
    caller = current_caller()
    entry, _new = current().store.blocked_numbers.add(caller.client_id, caller.is_test, checked.number, utcnow())
    return respond(_shown(entry, OneBlockedNumber), 201)


@route(
    bp,
    "DELETE",
    "/blocked-numbers/<number>",
    summary="Unblock a number",
    status=204,
    answers=(),
    description="Off the list, whatever put it there: sends to it go again.",
    errors=("INVALID_PHONE_NUMBER", "BLOCKED_NUMBER_NOT_FOUND"),
    path_params={"number": {**PHONE, "description": "The number in E.164, its + written %2B."}},
    **BLOCKED,
)
def unblock(number: str) -> tuple[str, int]:
    """Take the number off the caller's list; 404 BLOCKED_NUMBER_NOT_FOUND when it is not on it."""
    wanted = parse_to(number, param="number")
    caller = current_caller()
    if not current().store.blocked_numbers.remove(caller.client_id, caller.is_test, wanted):
        raise ApiError("BLOCKED_NUMBER_NOT_FOUND", f"The number {wanted} is not on your list.", param="number")
    return "", 204


def _shown(entry: blocked_numbers.BlockedNumber, answer: type[Shown]) -> Shown:
    """``entry`` as the API shows it, in ``answer``: an item of a page, or a number alone."""
    return answer(number=entry.number, reason=entry.reason, created_at=entry.created_at)
