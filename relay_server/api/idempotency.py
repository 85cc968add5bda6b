"""``Idempotency-Key`` on POST: a retried request is answered, not done again.

The first request with a key reserves it before any work is done, so of
several concurrent duplicates only one does the work; the others wait for its
answer and replay it. An answer is kept for 24 hours (the store's window):
the same key with the same request gets the same status code and body; with
another request, 409 ``IDEMPOTENCY_CONFLICT``.

A request that stores messages keeps its answer in the very transaction that
stores them (``store_answered``): a relay that dies mid-request leaves either
both, and the retry replays the answer, or neither, and the retry, once the
reservation is taken for abandoned, does the work. Every other answer is kept
when it is given, except a 5xx and a 429: those are never kept (the
reservation is released) since whatever a request stored is already answered
for, and a retry must be free to succeed; a 429 says to try again later (a
daily quota used up, too many OTPs for a number), and the retry of a client
that waited, with the same key as it should, must not be told so again.

A request counts as the same when its method, path, ``X-Device-ID`` and body
bytes are. Keys belong to a client and its key mode (live or test).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, Response, g, request

from relay_server.api import context
from relay_server.api.auth import current_caller, is_authenticated
from relay_server.api.body import request_body
from relay_server.api.errors import ApiError
from relay_server.store.idempotency import PENDING_STATUS
from relay_server.store.models import IdempotencyRecord, Message, ReservedAnswer
from relay_server.store.store import ReservationLost, Store
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 250  # the store keeps 255, less the key mode's prefix
# A reservation still pending after this long belongs to a request that died.
ABANDONED_AFTER = timedelta(seconds=60)
# An answer that says to try again later, and is not kept for the retry.
TRY_LATER = 429
_PENDING_PREFIX = b"pending:"
_WAIT_STEP_SECONDS = 0.05
_WAIT_LIMIT_SECONDS = 30.0


@dataclass(frozen=True)
class Reservation:
    """A key this request holds until its answer is kept or dropped."""

    client_id: str
    key: str
    token: bytes


def init_app(app: Flask) -> None:
    """Replay or reserve keyed POSTs before they are handled; keep their answers."""
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)


def request_hash() -> str:
    """What makes two requests the same: method, path, X-Device-ID and body."""
    digest = hashlib.sha256()
    for part in (
        request.method.encode(),
        request.path.encode(),
        request.headers.get("X-Device-ID", "").strip().encode(),
    ):
        digest.update(len(part).to_bytes(8, "big") + part)
    digest.update(request_body())
    return digest.hexdigest()


def reserve(store: Store, client_id: str, key: str, req_hash: str) -> Reservation | IdempotencyRecord:
    """Hold ``key`` for this request, or the answer kept for it.

    Waits while another request holds the key; raises ApiError 409 when the
    key was used for another request or its holder does not finish in time.
    """
    deadline = time.monotonic() + _WAIT_LIMIT_SECONDS
    while True:
        token = _PENDING_PREFIX + secrets.token_hex(16).encode()
        record = store.idempotency_put(client_id, key, req_hash, PENDING_STATUS, token)
        if record.request_hash != req_hash:
            raise ApiError(
                "IDEMPOTENCY_CONFLICT",
                "This Idempotency-Key was already used for a different request.",
                param=HEADER,
            )
        if record.body == token:
            return Reservation(client_id, key, token)
        if record.status_code != PENDING_STATUS:
            return record
        if utcnow() - record.created_at > ABANDONED_AFTER:
            store.idempotency_release(client_id, key, record.body)
        elif time.monotonic() > deadline:
            raise _in_progress()
        else:
            time.sleep(_WAIT_STEP_SECONDS)


def keep(store: Store, reservation: Reservation, status_code: int, body: bytes) -> None:
    """Keep the answer of the reserved request for replays."""
    store.idempotency_complete(reservation.client_id, reservation.key, reservation.token, status_code, body)


def release(store: Store, reservation: Reservation) -> None:
    """Give the key up without an answer, so that a retry does the work."""
    store.idempotency_release(reservation.client_id, reservation.key, reservation.token)


def store_answered(
    save: Callable[[ReservedAnswer | None], list[Message]], render: Callable[[list[Message]], Response]
) -> tuple[list[Message], Response]:
    """Store messages with ``save`` and answer with ``render`` of them, as one transaction with the key's answer.

    ``save`` stores the messages and, given a ReservedAnswer, keeps that
    answer in the same transaction (as ``Store.insert_messages`` does).
    Without a reservation this is a plain save. When the reservation was
    taken over by a retry meanwhile, nothing is stored: 409 ``IDEMPOTENCY_CONFLICT``.
    """
    reservation: Reservation | None = g.get("idempotency")
    answers: list[Response] = []

    def render_kept(stored: list[Message]) -> tuple[int, bytes]:
        answers.append(render(stored))
        return answers[-1].status_code, answers[-1].get_data()

    if reservation is None:
        stored = save(None)
        return stored, render(stored)
    kept = ReservedAnswer(reservation.client_id, reservation.key, reservation.token, render_kept)
    try:
        stored = save(kept)
    except ReservationLost:
        g.pop("idempotency")
        raise _in_progress() from None
    g.pop("idempotency")  # answered: nothing is left to keep or release
    return stored, answers[-1]


def _in_progress() -> ApiError:
    return ApiError(
        "IDEMPOTENCY_CONFLICT",
        "A request with this Idempotency-Key is still in progress.",
        param=HEADER,
    )


def _before() -> Response | None:
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None or not is_authenticated():
        return None
    key = key.strip()
    # A control character (NUL above all) is no key, and no database keeps it.
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            "INVALID_PARAMETER",
            f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable characters.",
            param=HEADER,
        )
    caller = current_caller()
    # Test and live keys of one client never share answers.
    scoped_key = ("test:" if caller.is_test else "live:") + key
    outcome = reserve(context.current().store, caller.client_id, scoped_key, request_hash())
    if isinstance(outcome, Reservation):
        g.idempotency = outcome
        return None
    response = Response(outcome.body, status=outcome.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _after(response: Response) -> Response:
    reservation: Reservation | None = g.pop("idempotency", None)
    if reservation is None:
        return response
    store = context.current().store
    if response.status_code >= 500 or response.status_code == TRY_LATER:
        _release_quietly(store, reservation)
    else:
        keep(store, reservation, response.status_code, response.get_data())
    return response


def _teardown(exc: BaseException | None) -> None:
    # Only reached with a reservation when the answer never made it to _after.
    reservation: Reservation | None = g.pop("idempotency", None)
    if reservation is not None:
        _release_quietly(context.current().store, reservation)


def _release_quietly(store: Store, reservation: Reservation) -> None:
    # A 5xx may be the database itself failing: the answer must still go out,
    # and a reservation left behind is taken for abandoned later.
    try:
        release(store, reservation)
    except Exception:
        log.exception("cannot release an idempotency key", extra={"client_id": reservation.client_id})
