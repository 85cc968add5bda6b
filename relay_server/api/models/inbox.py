"""The inbox: its filters and the incoming message as the API shows it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from relay_server.api.models.fields import (
    ABSENT,
    DEVICE_ID,
    INCOMING_ID,
    TRUE,
    Answer,
    Pagination,
    RequestModel,
    Timestamp,
    query_rule,
)
from relay_server.api.models.tracking import DeviceFilter, FromDate, Limit, Page, Search, ToDate, recipient

MAX_SENDER_LENGTH = 32


def parse_sender(raw: str) -> str:
    """A number normalized like history's ``to``, or a sender name as given (a network's, say)."""
    try:
        return recipient(raw)
    except ValueError:
        name = raw.strip()
        if 0 < len(name) <= MAX_SENDER_LENGTH and name.isprintable():
            return name
        raise


class InboxParams(RequestModel):
    """The caller's incoming SMS matching every filter given, newest first."""

    sender: Annotated[
        str | None,
        query_rule(
            parse_sender,
            "Only this sender (a number in international format, or a name).",
            {"type": "string"},
            name="from",
        ),
    ] = Field(default=ABSENT, alias="from")
    from_date: FromDate = ABSENT
    to_date: ToDate = ABSENT
    device_id: DeviceFilter = ABSENT
    search: Search = ABSENT
    page: Page = ABSENT
    limit: Limit = ABSENT


Octet = Annotated[int, Field(ge=0, le=255)]
Port = Annotated[int, Field(ge=0, le=65535)]


class Ports(Answer):
    destination: Port
    source: Port | None


class IncomingMessage(Answer):
    """An SMS one of the client's devices received (``store.inbox.received_data`` writes its fields,
    for the ``sms.received`` event as well)."""

    message_id: Annotated[str, WithJsonSchema(INCOMING_ID)]
    from_: str = Field(
        alias="from",
        description="The sender: a number in international format or a name; empty when the network gave none.",
    )
    message: str
    device_id: Annotated[str, WithJsonSchema(DEVICE_ID)]
    parts: Annotated[int, Field(ge=1)]
    received_at: Timestamp
    created_at: Timestamp
    in_reply_to: str | None = Field(
        description="The last message sent to this number from this device, when there is one."
    )
    opt_out: bool = Field(description="The text is an opt-out keyword: STOP, ARRET, UNSUBSCRIBE…")
    kind: Literal["text", "flash", "wap_push", "data", "undecodable"] = Field(
        description="flash: class 0, shown at once by a phone; wap_push and data: binary, `message` holds "
        "the octets in hex; undecodable: no decoder could read it, `pdu` holds what the modem gave."
    )
    message_class: Annotated[int, Field(ge=0, le=3)] | None = Field(description="TP-DCS message class.")
    pid: Octet | None = Field(description="TP-PID (TS 23.040 9.2.3.9).")
    data_coding: Octet | None = Field(description="TP-DCS (TS 23.038 4).")
    ports: Ports | None = Field(description="Application ports from the user data header, when it has them.")
    binary: bool = Field(description="8-bit data: `message` is its octets in hex.")
    pdu: str | None = Field(description="The raw PDU of an undecodable message.")


class InboxPage(Answer):
    success: TRUE = True
    data: Annotated[list[IncomingMessage], Field(max_length=100)]
    pagination: Pagination


class OneIncomingMessage(IncomingMessage):
    success: TRUE = True
