"""``GET /v1/openapi.json``: the API's own description, readable without credentials."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from relay_server.openapi import document

bp = Blueprint("openapi", __name__, url_prefix="/v1")


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of every route under /v1."""
    return jsonify(document())
