"""``GET /v1/openapi.json``: the API's own description, readable without credentials."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from relay_server.api.routes import route
from relay_server.openapi import document

bp = Blueprint("openapi", __name__, url_prefix="/v1")


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document (this one)."""

    model_config = ConfigDict(extra="allow", defer_build=True)  # built at first use, as the API's models

    openapi: str = Field(pattern=r"^3\.1\.")
    info: dict[str, Any]
    paths: dict[str, Any]


@route(
    bp,
    "GET",
    "/openapi.json",
    summary="Get this document",
    tag="Document",
    status=200,
    answers=OpenApiDocument,
    description="The OpenAPI 3.1 document of the API.",
    authenticated=False,
)
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of every route under /v1."""
    return jsonify(document())
