"""The console's session: a cookie signed with the console key, for /console only.

The key is ``console_secret``, else a key file in ``data_dir`` made on first
use, so every relay process (and a restarted relay) reads sessions the others
signed. The cookie is HttpOnly, SameSite=Strict, Secure when the request came
over https, and ends after 12 hours unused (its signature carries the time
it was last written, and each answer writes it again).
Requests outside /console get no session at all.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from relay_server.api import context
from relay_server.api.key_file import data_dir_key
from relay_server.console.blueprint import PREFIX

COOKIE_NAME = "zimsend_console"
KEY_FILE = "console.key"
LIFETIME = timedelta(hours=12)


def console_key() -> bytes:
    """The key console sessions are signed with."""
    settings = context.current().settings.relay
    secret = settings.console_secret.get_secret_value()
    return secret.encode() if secret else data_dir_key(settings.data_dir.resolve(), KEY_FILE)


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, keyed by the console key and confined to /console."""

    salt = "zimsend-console-session"

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        return URLSafeTimedSerializer(
            console_key(),
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not is_console(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_name(self, app: Flask) -> str:
        return COOKIE_NAME

    def get_cookie_path(self, app: Flask) -> str:
        return PREFIX

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        return "Strict"

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


def configure(app: Flask) -> None:
    """Give ``app`` the console's session."""
    app.session_interface = ConsoleSessionInterface()
    app.permanent_session_lifetime = LIFETIME


def is_console(path: str) -> bool:
    """Whether ``path`` is the console's (a page, or an address under /console no page has)."""
    return path == PREFIX or path.startswith(PREFIX + "/")
