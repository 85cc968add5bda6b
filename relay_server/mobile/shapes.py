"""The app's JSON shapes: what it sends (pydantic models) and what it reads (documents).

Field names, states and the date format are the app's (client-go
``requests_mobile.go``, ``responses_mobile.go``, ``domain_messages.go``;
the app's ``GatewayApi.kt``). Dates go out as ``yyyy-MM-dd'T'HH:mm:ss.SSSXXX``
(exactly three fraction digits and an offset): the app reads more digits as
milliseconds and throws on a date without an offset, losing the whole list.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay_server.store.models import Message
from zimsend_common.timefmt import as_utc

AppVersion = tuple[int, int, int]
OLDEST_APP: AppVersion = (0, 0, 0)
# The app knows the Cancelling state (and MessageCancelled) from 1.67 on; an
# older one reads an unknown state as pending and would send the message.
CANCELLING_SINCE: AppVersion = (1, 67, 0)
MAX_PULL = 100

_USER_AGENT = re.compile(r"^me\.capcom\.smsgateway/(\d{1,4})\.(\d{1,4})\.(\d{1,4})")
# On Android before 7 the app writes a date's offset itself: west of UTC it comes out
# with a one-digit hour, and signed twice (``-5:00``, ``+-5:00``).
_HAND_WRITTEN_OFFSET = re.compile(r"(\+-|[+-])(\d{1,2}):?(\d\d)$")

ProcessingState = Literal["Pending", "Processed", "Sent", "Delivered", "Failed", "Cancelling", "Cancelled"]


class _Lenient(BaseModel):
    # The app grows fields release by release: unknown ones are not an error. Built at first use,
    # as the API's models are (relay_server.api.models.fields): the worker, which imports this
    # module for MAX_PULL, then builds none.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class SimCard(_Lenient):
    slotIndex: int | None = None
    simNumber: int | None = None
    phoneNumber: str | None = Field(None, max_length=512)
    carrierName: str | None = Field(None, max_length=256)
    iccid: str | None = Field(None, max_length=64)


class RegisterRequest(_Lenient):
    name: str | None = Field(None, max_length=128)
    pushToken: str | None = Field(None, max_length=256)
    simCards: list[SimCard] | None = Field(None, max_length=8)


class DevicePatchRequest(_Lenient):
    id: str | None = Field(None, max_length=64)
    pushToken: str | None = Field(None, max_length=256)
    simCards: list[SimCard] | None = Field(None, max_length=8)


class RecipientState(_Lenient):
    phoneNumber: str = Field(min_length=1, max_length=512)
    state: ProcessingState
    error: str | None = Field(None, max_length=4096)


class MessagePatch(_Lenient):
    id: str = Field(min_length=1, max_length=36)
    state: ProcessingState
    recipients: list[RecipientState] = Field(default_factory=list, max_length=100)
    # A time that cannot be read is None: a report is never refused for a time alone.
    states: dict[ProcessingState, datetime | None] = Field(default_factory=dict)

    @field_validator("states", mode="before")
    @classmethod
    def _read_times(cls, states: Any) -> Any:
        if not isinstance(states, dict):
            return states
        return {state: read_app_date(value) for state, value in states.items()}


class MessagePatchList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[MessagePatch] = Field(max_length=MAX_PULL * 10)


def app_version(user_agent: str | None) -> AppVersion | None:
    """The app's version from its ``User-Agent`` (``me.capcom.smsgateway/1.68.0``), else None.

    Local builds say 1.0.0 and are taken for what they say: the oldest app.
    """
    found = _USER_AGENT.match(user_agent or "")
    return None if found is None else (int(found[1]), int(found[2]), int(found[3]))


def format_version(version: AppVersion) -> str:
    return ".".join(str(part) for part in version)


def parse_version(text: str | None) -> AppVersion:
    found = re.fullmatch(r"(\d{1,4})\.(\d{1,4})\.(\d{1,4})", text or "")
    return OLDEST_APP if found is None else (int(found[1]), int(found[2]), int(found[3]))


def app_date(moment: datetime | None) -> str | None:
    """``2025-01-15T10:30:00.000Z``: the app's date format, always with milliseconds."""
    if moment is None:
        return None
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def read_app_date(value: Any) -> datetime | None:
    """A date the app wrote, in UTC; None when it is none, or none a calendar date can carry.

    Read as leniently as the app writes it: any ISO 8601 offset, and the
    offsets Android before 7 makes (``-5:00``, ``+-5:00``).
    """
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(_HAND_WRITTEN_OFFSET.sub(_offset, value.strip())))
    except ValueError:
        return None


def _offset(found: re.Match[str]) -> str:
    return f"{found[1][-1]}{int(found[2]):02d}:{found[3]}"


# Ours: 1 urgent .. 5 bulk. The app's: -128..127, and 100 and above skip its delays and limits.
_APP_PRIORITY = {1: 100, 2: 50, 3: 0, 4: -50, 5: -100}


def message_document(message: Message, *, cancelling: bool, with_state: bool) -> dict[str, Any]:
    """One message as ``GET /message`` lists it; ``state`` only for apps that know it."""
    document: dict[str, Any] = {
        "id": message.message_id,
        "message": message.body,  # read by apps older than textMessage
        "textMessage": {"text": message.body},
        "phoneNumbers": [message.to],
        "withDeliveryReport": True,
        "isEncrypted": False,
        "priority": _APP_PRIORITY.get(message.priority, 0),
        "createdAt": app_date(message.created_at),
    }
    if message.valid_until is not None:
        document["validUntil"] = app_date(message.valid_until)
    if with_state:
        document["state"] = "Cancelling" if cancelling else "Pending"
    return document
