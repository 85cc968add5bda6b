"""The error answer: ``{success: false, error: {code, message, param?, details?}}``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from relay_server.api.models.fields import Answer, omitted_when_none
from relay_server.api.errors import ERROR_CODES

ErrorCodeName = Literal[tuple(sorted(ERROR_CODES))]  # type: ignore[valid-type]


class ErrorObject(Answer):
    code: ErrorCodeName
    message: str
    param: str | None = omitted_when_none("The parameter at fault.")
    details: dict[str, Any] | None = omitted_when_none()


class Error(Answer):
    success: Literal[False] = False
    error: ErrorObject = Field(description="Why the request was refused.")
