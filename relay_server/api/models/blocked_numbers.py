"""Blocked numbers: what adding one takes, and the list as the API shows it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from relay_server.api.models.fields import (
    ABSENT,
    TRUE,
    Answer,
    Pagination,
    Phone,
    RequestModel,
    Rule,
    Timestamp,
)
from relay_server.api.models.sending import parse_to
from relay_server.api.models.tracking import Limit, Page


class BlockNumber(RequestModel):
    """``POST /v1/blocked-numbers``: the number to block, read as a send's ``to``."""

    number: Annotated[
        str,
        Rule(
            lambda value, info: parse_to(value, param="number"),
            codes=("INVALID_PHONE_NUMBER",),
            schema={"type": "string", "examples": ["+33612345678"]},
            required=True,
        ),
    ] = ABSENT


class BlockedNumbersParams(RequestModel):
    """One page of the list, newest first."""

    page: Page = ABSENT
    limit: Limit = ABSENT


class BlockedNumber(Answer):
    number: Phone
    reason: Literal["opt_out", "manual"] = Field(
        description="opt_out: the number replied STOP (or ARRET, UNSUBSCRIBE…) to one of your devices, and a START"
        " reply takes it off again; manual: it was added to the list with POST /v1/blocked-numbers."
    )
    created_at: Timestamp


class OneBlockedNumber(BlockedNumber):
    success: TRUE = True


class BlockedNumberPage(Answer):
    success: TRUE = True
    data: Annotated[list[BlockedNumber], Field(max_length=100)]
    pagination: Pagination
