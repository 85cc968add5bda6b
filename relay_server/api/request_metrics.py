"""HTTP requests counted by route and status, in every server process."""

from __future__ import annotations

from flask import Flask, Response, request
from prometheus_client import Counter

HTTP_REQUESTS = Counter(
    "zimsend_http_requests_total",
    "HTTP requests answered, by method, route (the URL rule, not the path) and status",
    ["method", "route", "status"],
)
# A path no route matched: labelled as one, so that scanners cannot mint labels.
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_app(app: Flask) -> None:
    """Count every answer the app gives."""
    app.after_request(_count)


def _count(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in _METHODS else "other"
    HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
    return response
