"""The client's devices and the credentials check, as the API shows them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from relay_server.api.models.fields import TRUE, Answer, Count, DeviceId, Timestamp


class Device(Answer):
    """What a device last told the relay in its heartbeats."""

    device_id: DeviceId
    name: str
    online: bool = Field(description="Heard from within the offline threshold.")
    last_seen: Timestamp | None
    signal: Annotated[int, Field(ge=0, le=100)] | None
    operator: str | None
    registration: str | None
    phone_number: str | None
    model: str | None
    manufacturer: str | None
    firmware: str | None
    sent_today: Count = Field(
        description="Messages the network accepted in the device's day (from its local midnight) that held its "
        "last heartbeat; 0 once that day is over: when the heartbeat said the day ends, or at the start of the "
        "device's next day when it told it (daily_limit_reached_until), else (an older agent) 25 hours after "
        "the heartbeat, as the relay does not know the device's midnight."
    )
    queue_depth: Count
    daily_limit_reached_until: Timestamp | None = Field(
        description="When the device sends again, having sent its day's daily_send_limit of SMS parts "
        "(the start of its next day); null while it sends. It is online meanwhile."
    )
    shared_paused_until: Timestamp | None = Field(
        description="After its SIM refused a send for want of credit, with no_credit_pause_seconds set: until "
        "when the device leaves the client's shared queues to its other devices (it still sends messages sent "
        "with its X-Device-ID); null when it takes shared messages. It is online meanwhile."
    )
    prefixes: list[str] = Field(
        description="The destination prefixes (E.164, such as +26377) the device is the route for, as the "
        "operator set them: a message sent without X-Device-ID to a number one of them begins (the longest "
        "of the client's devices' prefixes winning) leaves through a device of that prefix while one of them "
        "can send, through any device otherwise. Empty: no route."
    )
    daily_send_limit: Count | None = Field(
        description="The SMS parts the device sends a day (its agent's daily_send_limit, from its local midnight), "
        "as its heartbeats told it; 0: no limit; null: not told (a phone, or an older agent). "
        "Having sent that many in its day it pauses until its next (daily_limit_reached_until); a message of "
        "more parts never leaves through it (sent without X-Device-ID, it goes through another of the client's "
        "devices)."
    )


class DeviceList(Answer):
    success: TRUE = True
    devices: list[Device]
    total: Count


class OneDevice(Device):
    success: TRUE = True


class AuthTest(Answer):
    success: TRUE = True
    message: str
    client_id: Annotated[str, WithJsonSchema({"type": "string", "pattern": "^client_[0-9]{10}$"})]
    device_id: DeviceId | None
    device_status: Literal["online", "offline"] | None = Field(
        description="null without X-Device-ID; online as GET /v1/devices says it."
    )
