"""The baseline of ``bench/api.py``: a bare Flask app answering a constant on the
relay's routes, under the very server ``zimsend-relay serve`` runs, with the
same gunicorn settings (``relay_server.cli.serve.options``) and the same
``ZIMSEND_`` settings (port, workers).

    ZIMSEND_HTTP_PORT=8001 ZIMSEND_HTTP_WORKERS=2 .venv/bin/python bench/bare_server.py
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from relay_server.cli.serve import Server, options
from zimsend_common.config import load_settings


def bare_app() -> Flask:
    """Each route answers its constant without reading the request."""
    app = Flask("bare")

    @app.get("/v1/openapi.json")
    def ready() -> Any:
        return jsonify(openapi="3.1.0")

    @app.get("/v1/sms/status/<message_id>")
    def status(message_id: str) -> Any:
        return jsonify(success=True, message_id=message_id, status="queued")

    @app.get("/v1/sms/history")
    def history() -> Any:
        return jsonify(success=True, data=[])

    @app.post("/v1/sms/send")
    @app.post("/v1/sms/send-bulk")
    def send() -> Any:
        return jsonify(success=True, status="queued"), 202

    return app


if __name__ == "__main__":
    settings = load_settings()
    Server(options(settings, settings.relay.http_workers or 2), bare_app).run()
