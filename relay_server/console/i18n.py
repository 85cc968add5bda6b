"""French and English: the language of a console page, and its words.

The language is the one chosen with the switch (kept in the session cookie),
else the browser's ``Accept-Language`` best match, else French (the vendor's
users read French first). Texts are written in English in the templates and
code; ``french.WORDS`` gives each its French.
"""

from __future__ import annotations

from flask import request, session

from relay_server.console.blueprint import bp
from relay_server.console.french import WORDS

LANGUAGES = ("fr", "en")
DEFAULT = "fr"


def language() -> str:
    """The language of the current page."""
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT


def translate(text: str, **values: object) -> str:
    """``text`` in the page's language, with ``{name}`` fields filled from ``values``."""
    if language() == "fr":
        text = WORDS.get(text, text)
    return text.format(**values) if values else text


@bp.app_template_global("_")
def _template_translate(text: str, **values: object) -> str:
    return translate(text, **values)


@bp.app_template_global("language")
def _template_language() -> str:
    return language()
