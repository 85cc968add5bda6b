"""The SMSGate app's local server on the phone, as the ``smsgate-local`` backend calls it.

Paths, fields and states are the app's (capcom6/android-sms-gateway,
``modules/localserver``: ``WebService.kt``, ``routes/MessagesRoutes.kt``,
``domain/messages/PostMessageRequest.kt`` and ``Message.kt``,
``domain/ProcessingState.kt``, ``domain/HealthResponse.kt``):

- ``GET /health`` (open to all; the user and password go along anyway): ``{status: pass|warn|fail, checks, version, releaseId}``;
- ``POST /message`` (basic authentication with the user and password the app
  shows): ``{id, textMessage: {text}, phoneNumbers, withDeliveryReport,
  simNumber?}`` answers 202 with the message; an id the phone already has answers 409;
- ``GET /message/{id}``: ``{id, state, recipients: [{phoneNumber, state, error}],
  states: {State: date}}``, 404 for an id it does not know;
- ``DELETE /message/{id}``: cancels a message not yet sent, answering it.

States go ``Pending`` → ``Processed`` → ``Sent`` → ``Delivered``, or end in
``Failed`` (or ``Cancelled``). Dates are ISO 8601 with an offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from zimsend_common.timefmt import parse_utc

_TIMEOUT_SECONDS = 10.0


class LocalApiError(Exception):
    """The phone's server could not be reached or did not answer as the app does."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # None: no answer came, so whether the phone got the request is unknown


@dataclass(frozen=True)
class PhoneMessage:
    """A message as the phone tells it: its state, each recipient's, and when each state came."""

    message_id: str
    state: str
    errors: tuple[str, ...]
    states: dict[str, datetime]

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None


@dataclass(frozen=True)
class Health:
    status: str  # pass, warn or fail
    version: str


class LocalApi:
    """Calls to one phone's local server; every call raises LocalApiError on a failure."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self._url = url.rstrip("/")
        self._session = requests.Session()
        self._session.auth = (username, password)

    def close(self) -> None:
        self._session.close()

    def health(self) -> Health:
        document = self._json("GET", "/health")
        return Health(status=str(document.get("status", "")), version=str(document.get("version", "")))

    def send(
        self, message_id: str, recipient: str, text: str, *, delivery_report: bool, sim_number: int | None
    ) -> PhoneMessage:
        """Hand one text to the phone under our id; raises LocalApiError (status 409) for an id it has."""
        body: dict[str, Any] = {
            "id": message_id,
            "textMessage": {"text": text},
            "phoneNumbers": [recipient],
            "withDeliveryReport": delivery_report,
        }
        if sim_number:
            body["simNumber"] = sim_number
        return _message(self._json("POST", "/message", json=body))

    def message(self, message_id: str) -> PhoneMessage | None:
        """The message's state on the phone; None when the phone does not know the id."""
        try:
            return _message(self._json("GET", f"/message/{message_id}"))
        except LocalApiError as error:
            if error.status == 404:
                return None
            raise

    def cancel(self, message_id: str) -> PhoneMessage:
        """Cancel a message the phone has not sent yet; the message as the phone now has it."""
        return _message(self._json("DELETE", f"/message/{message_id}"))

    def _json(self, method: str, path: str, *, json: Any = None) -> dict[str, Any]:
        try:
            answer = self._session.request(method, self._url + path, json=json, timeout=_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise LocalApiError(f"the phone did not answer: {type(error).__name__}") from None
        if answer.status_code == 401:
            raise LocalApiError("the phone refused the user name or password", status=401)
        if answer.status_code >= 300:
            raise LocalApiError(
                f"the phone answered {answer.status_code}: {answer.text[:200]}", status=answer.status_code
            )
        try:
            document = answer.json()
        except ValueError:
            raise LocalApiError("the phone's answer is not JSON", status=answer.status_code) from None
        if not isinstance(document, dict):
            raise LocalApiError("the phone's answer is not a JSON object", status=answer.status_code)
        return document


def _message(document: dict[str, Any]) -> PhoneMessage:
    recipients = document.get("recipients") or []
    errors = tuple(str(item["error"]) for item in recipients if isinstance(item, dict) and item.get("error"))
    states = {str(name): moment for name, raw in (document.get("states") or {}).items() if (moment := _moment(raw))}
    return PhoneMessage(
        message_id=str(document.get("id", "")), state=str(document.get("state", "")), errors=errors, states=states
    )


def _moment(raw: Any) -> datetime | None:
    try:
        return parse_utc(str(raw))
    except ValueError:
        return None
