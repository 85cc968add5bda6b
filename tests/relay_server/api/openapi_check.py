"""Checks a real answer of the relay against its OpenAPI document.

``conforms(response)`` fails the test unless the document declares the
request's path and method, declares the answer's status code for it, and the
body is valid against the declared schema (JSON Schema 2020-12, the dialect of
OpenAPI 3.1, with every ``date-time`` required to be UTC ending in ``Z``) and
every declared header that is present holds a value of its schema.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import requests
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from relay_server.openapi import document

DOCUMENT_URI = "urn:zimsend:openapi"
API_PREFIX = "/v1"

_formats = FormatChecker()


@_formats.checks("date-time", raises=ValueError)
def _utc_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not value.endswith("Z"):
        raise ValueError(f"{value!r} is not UTC with a Z")
    datetime.fromisoformat(value)
    return True


@_formats.checks("date", raises=ValueError)
def _date(value: object) -> bool:
    if isinstance(value, str):
        date.fromisoformat(value)
    return True


def conforms(response: requests.Response) -> requests.Response:
    """``response``, after asserting that the document declares it exactly; for chaining."""
    method = response.request.method.lower()
    path = urlsplit(response.request.url).path
    template, operation = find_operation(method, path)
    status = str(response.status_code)
    answers = operation["responses"]
    assert status in answers, (
        f"{method.upper()} {template} answered {status}, which the document does not declare "
        f"(declared: {sorted(answers)}); body: {response.text[:500]}"
    )
    answer = _resolve(answers[status])
    pointer = "/".join(["", "paths", _escape(template), method, "responses", status])
    _check_body(response, answer, pointer, f"{method} {template} {status}")
    _check_headers(response, answer, f"{method} {template} {status}")
    return response


def find_operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The path template and operation the document has for this request."""
    assert path.startswith(API_PREFIX + "/"), f"{path} is outside {API_PREFIX}"
    relative = path[len(API_PREFIX) :]
    candidates = [
        (template.count("{"), template, item[method])
        for template, item in document()["paths"].items()
        if method in item and _pattern(template).fullmatch(relative)
    ]
    assert candidates, f"the document has no {method.upper()} operation for {relative}"
    # A literal segment wins over a template parameter, as in routing.
    _, template, found = min(candidates)
    return template, found


def _check_body(response: requests.Response, answer: dict[str, Any], pointer: str, where: str) -> None:
    content = answer.get("content")
    if not content:
        assert not response.content, f"{where}: the document declares no body, got {response.text[:200]}"
        return
    assert response.headers.get("Content-Type", "").startswith("application/json"), (
        f"{where}: Content-Type is {response.headers.get('Content-Type')!r}"
    )
    assert "application/json" in content, f"{where}: the document declares no JSON body"
    # Validate through a reference into the document, so its own references resolve.
    schema = {"$ref": f"{DOCUMENT_URI}#{pointer}/content/application~1json/schema"}
    errors = sorted(_validator(json.dumps(schema)).iter_errors(response.json()), key=str)
    assert not errors, f"{where}: body does not match the document:\n" + "\n".join(
        f"- at {list(error.absolute_path)}: {error.message}" for error in errors[:10]
    )


def _check_headers(response: requests.Response, answer: dict[str, Any], where: str) -> None:
    for name, header in answer.get("headers", {}).items():
        header = _resolve(header)
        value = response.headers.get(name)
        if value is None:
            assert not header.get("required"), f"{where}: required header {name} is missing"
            continue
        errors = list(_validator(json.dumps(header["schema"])).iter_errors(_typed(value, header["schema"])))
        assert not errors, f"{where}: header {name}: {value!r} does not match {header['schema']}"


def _typed(value: str, schema: dict[str, Any]) -> Any:
    """A header's text as the JSON value its schema describes (headers carry only text)."""
    if schema.get("type") == "integer" and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    return value


@cache
def _validator(schema_json: str) -> Draft202012Validator:
    schema = json.loads(schema_json)
    return Draft202012Validator(schema, registry=_registry(), format_checker=_formats)


@cache
def _registry() -> Registry:
    # The document is one resource: its "#/components/..." references resolve within it.
    resource = DRAFT202012.create_resource(document())
    return Registry().with_resource(DOCUMENT_URI, resource)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _registry().resolver(DOCUMENT_URI).lookup(DOCUMENT_URI + node["$ref"]).contents
    return node


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts))


class TestClientAnswer:
    """A Flask test client's answer, read as ``conforms`` reads a ``requests`` one."""

    def __init__(self, response: Any) -> None:
        self.request = response.request
        self.status_code = response.status_code
        self.headers = response.headers
        self.content = response.get_data()
        self.text = response.get_data(as_text=True)

    def json(self) -> Any:
        return json.loads(self.content)


def conforms_in_process(response: Any) -> Any:
    """``conforms`` for an answer of ``app.test_client()``; returns ``response``."""
    conforms(TestClientAnswer(response))  # type: ignore[arg-type]
    return response
