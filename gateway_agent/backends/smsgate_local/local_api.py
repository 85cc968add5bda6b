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
        document = _object(self._request("GET", "/health"))
        return Health(status=str(document.get("status", "")), version=str(document.get("version", "")))

    def send(
        self, message_id: str, recipient: str, text: str, *, delivery_report: bool, sim_number: int | None
    ) -> None:
        """Hand one text to the phone under our id; raises LocalApiError (status 409) for an id it has.

        Once the phone took the text (it answered 2xx) its answer is not read:
        an answer it garbled must not pass for a refusal, or the text could go
        twice; ``message`` tells what became of it."""
        body: dict[str, Any] = {
            "id": message_id,
            "textMessage": {"text": text},
            "phoneNumbers": [recipient],
            "withDeliveryReport": delivery_report,
        }
        if sim_number:
            body["simNumber"] = sim_number
        self._request("POST", "/message", json=body)

    def message(self, message_id: str) -> PhoneMessage | None:
        """The message's state on the phone; None when the phone does not know the id."""
        try:
            return self._message("GET", f"/message/{message_id}")
        except LocalApiError as error:
            if error.status == 404:
                return None
            raise

    def cancel(self, message_id: str) -> PhoneMessage:
        """Cancel a message the phone has not sent yet; the message as the phone now has it."""
        return self._message("DELETE", f"/message/{message_id}")

    def _message(self, method: str, path: str) -> PhoneMessage:
        answer = self._request(method, path)
        return _read_message(_object(answer), answer.status_code)

    def _request(self, method: str, path: str, *, json: Any = None) -> requests.Response:
        """The phone's answer when it is a success (2xx); LocalApiError otherwise."""
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
        return answer


def _object(answer: requests.Response) -> dict[str, Any]:
    """The JSON object the answer carries; LocalApiError when it carries none."""
    try:
        document = answer.json()
    except ValueError:
        raise LocalApiError("the phone's answer is not JSON", status=answer.status_code) from None
    if not isinstance(document, dict):
        raise LocalApiError("the phone's answer is not a JSON object", status=answer.status_code)
    return document


def _read_message(document: dict[str, Any], status: int) -> PhoneMessage:
    """The message as the phone's answer tells it; LocalApiError when it tells no state.

    Any other field not shaped as the app writes it reads as absent, so that
    it costs only itself: a message whose dates are garbled still has its state.
    """
    state, message_id = document.get("state"), document.get("id")
    if not isinstance(state, str):
        raise LocalApiError("the phone's answer tells no state for the message", status=status)
    return PhoneMessage(
        message_id=message_id if isinstance(message_id, str) else "",
        state=state,
        errors=_errors(document.get("recipients")),
        states=_dates(document.get("states")),
    )


def _errors(recipients: Any) -> tuple[str, ...]:
    """The recipients' errors, from the app's list of ``{phoneNumber, state, error}``."""
    if not isinstance(recipients, list):
        return ()
    return tuple(str(item["error"]) for item in recipients if isinstance(item, dict) and item.get("error"))


def _dates(states: Any) -> dict[str, datetime]:
    """When each state came, from the app's ``{State: date}``; a date that is not one is left out."""
    if not isinstance(states, dict):
        return {}
    return {str(name): moment for name, raw in states.items() if (moment := _moment(raw))}


def _moment(raw: Any) -> datetime | None:
    try:
        return parse_utc(str(raw))
    except ValueError:
        return None
