"""Sending from the console: one SMS from a form, many from a CSV file, and the live text count.

The form's fields are the body of ``POST /v1/sms/send`` and go through the
same checks and dispatch (``sending.one_message``, ``sending.store_and_submit``);
a CSV file is a ``send-bulk-personalized`` request (``sending.send_items``).
The count under the text is the relay's own splitting (``parse_text``), asked
for by a POST: the text of a GET's URL, percent-encoded, passes the HTTP
server's request-line limit (gunicorn's 4094 bytes) at some 680 characters
of a non-Latin script, where the API takes 1600.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response as FlaskResponse
from flask import jsonify, render_template, request, url_for
from werkzeug.wrappers import Response

from relay_server.api import daily_quota, sending
from relay_server.api import devices as api_devices
from relay_server.api.auth import callers_device_id, current_caller
from relay_server.api.context import current
from relay_server.api.errors import ApiError
from relay_server.api.models.messages import PRIORITY_WORDS
from relay_server.api.models.sending import BulkOfMessages, parse_text
from relay_server.console.blueprint import bp

CSV_COLUMNS = ("to", "message")


@bp.get("/send")
def send_form() -> str:
    """The send form and the CSV upload."""
    return _form()


@bp.post("/send")
def send() -> FlaskResponse | tuple[str, int]:
    """Send one SMS; back to the history, where it can be watched, or the form with the error."""
    body: dict[str, Any] = {"to": request.form.get("to", ""), "message": request.form.get("message", "")}
    body.update(_options())
    try:
        message = sending.one_message(body, _device_id())
        # After a POST, the history (where the message's status moves live) by a 303.
        return sending.store_and_submit(
            [message], lambda stored: FlaskResponse(status=303, headers={"Location": url_for("console.messages")})
        )
    except ApiError as error:
        return _form(error=error, values=request.form), error.status


@bp.post("/send/bulk")
def send_bulk() -> str | tuple[str, int]:
    """Send each ``to,message`` row of the uploaded CSV; the page lists what was queued and what refused."""
    try:
        items = _csv_items(request.files.get("file"))
        request_body = BulkOfMessages.model_validate({"messages": items, **_options()}, context=sending.send_context())
        answer = sending.send_items(_device_id(), request_body, request_body.messages).get_json()
    except ApiError as error:
        return _form(error=error), error.status
    return _form(bulk=answer)


@bp.post("/send/count")
def count() -> Response:
    """How the relay would send the form's ``text``: characters, SMS parts and encoding (or why it would
    refuse it)."""
    text = request.form.get("text", "")
    if not text:
        return jsonify(characters=0, segments=0, encoding=None, error=None)
    try:
        split = parse_text(text, languages=current().settings.sms.sms_languages)
    except ApiError as error:
        return jsonify(characters=len(text), segments=None, encoding=None, error=error.message)
    return jsonify(characters=len(text), segments=split.count, encoding=split.label, error=None)


def _options() -> dict[str, Any]:
    """The request-wide options the form sets: priority and, when given, the time to send at (UTC)."""
    options: dict[str, Any] = {}
    priority = request.form.get("priority", "").strip()
    if priority:
        # isdecimal() alone takes other scripts' digits too, which int() may refuse ('²'):
        # anything but ASCII digits goes to the API's check as it was typed.
        options["priority"] = int(priority) if priority.isascii() and priority.isdecimal() else priority
    scheduled = request.form.get("scheduled_at", "").strip()
    if scheduled:
        # A datetime-local field has no zone: the form says it is UTC.
        if len(scheduled) == len("2026-01-31T12:00"):
            scheduled += ":00"
        options["scheduled_at"] = scheduled if scheduled.endswith("Z") else scheduled + "Z"
    return options


def _device_id() -> str | None:
    chosen = request.form.get("device_id", "").strip()
    return callers_device_id(chosen) if chosen else None


def _csv_items(upload: Any) -> list[dict[str, str]]:
    """The rows of the CSV file as bulk items; a header row naming the columns is skipped."""
    if upload is None or not upload.filename:
        raise ApiError("INVALID_PARAMETER", "Choose a CSV file with one to,message row per SMS.", param="file")
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError("INVALID_PARAMETER", "The CSV file must be UTF-8 text.", param="file") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    except csv.Error as error:
        # A quote left open runs to the end of the file: past 128 KiB, one field too long.
        raise ApiError("INVALID_PARAMETER", f"The CSV file cannot be read: {error}.", param="file") from None
    if rows and tuple(cell.strip().lower() for cell in rows[0][:2]) == CSV_COLUMNS:
        rows = rows[1:]
    if not rows:
        raise ApiError("INVALID_PARAMETER", "The CSV file has no rows.", param="file")
    return [{"to": row[0].strip(), "message": row[1] if len(row) > 1 else ""} for row in rows]


def _form(**page: Any) -> str:
    devices = api_devices.list_devices().get_json()["devices"]
    quota = daily_quota.standing(current_caller(), current().clock())
    return render_template("send.html", devices=devices, priorities=PRIORITY_WORDS, quota=quota, **page)
