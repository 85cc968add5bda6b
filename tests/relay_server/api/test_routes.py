"""The route table's answer writer: one JSON shape, whatever the text holds."""

from __future__ import annotations

import json

from flask import Flask

from relay_server.api.models.errors import ErrorObject
from relay_server.api.routes import respond


def test_an_answer_is_json_with_its_status_and_leaves_out_what_is_absent():
    with Flask("answers").app_context():
        response = respond(ErrorObject(code="INVALID_JSON", message="Déjà vu"), 418)
    assert response.status_code == 418 and response.mimetype == "application/json"
    assert json.loads(response.get_data()) == {"code": "INVALID_JSON", "message": "Déjà vu"}


def test_a_lone_surrogate_an_sms_brought_is_answered_escaped_not_with_a_failure():
    with Flask("answers").app_context():
        response = respond(ErrorObject(code="INVALID_JSON", message="a\ud800b"))
    assert response.get_data().isascii()
    assert json.loads(response.get_data())["message"] == "a\ud800b"
