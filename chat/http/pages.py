"""The kit for the server-rendered pages that links in mails open: the rating page
(:mod:`chat.http.mail_pages`), the unsubscribe page (:mod:`chat.http.mail_routes`) and the
account pages (:mod:`chat.http.account_mail`).

One jinja2 environment over ``chat/templates`` (autoescape, ``StrictUndefined``: a missing
word is an error in the tests, never a blank on a page), one base template
(``pages/base.html``) with one stylesheet (``pages/pages.css``), one language picker and
one set of security headers.

The stylesheet is allowed by its SHA-256 hash in the Content-Security-Policy: no page
allows ``'unsafe-inline'``, so text that got into a page could neither style nor script
it. The token sits in the URL, so no page sends a Referer (``no-referrer``) or is kept by
a cache (``no-store``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

from chat.validation import LANGUAGES

DEFAULT_LANGUAGE = "en"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)

# Read once and marked safe so the page carries it byte for byte as hashed (autoescape
# would turn its quotes into entities and the hash would no longer match).
_STYLE = (TEMPLATES / "pages" / "pages.css").read_text(encoding="utf-8")
if "<" in _STYLE:  # "</style>" would end the element early; no CSS needs "<"
    raise RuntimeError("pages/pages.css must not contain '<'")
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode()
_env.globals["style"] = Markup(_STYLE)


def security_headers(*, scripts: bool = False) -> dict[str, str]:
    """The headers of every mail-link page. Nothing loads but the hashed stylesheet and
    forms posted back here; ``scripts`` also allows same-origin scripts and their calls
    to the API (the account pages post through ``/console/js/password.js``)."""
    sources = "script-src 'self'; connect-src 'self'; " if scripts else ""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; {sources}style-src '{STYLE_HASH}'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",  # the token is in the URL
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


def _primary(tag: str) -> str:
    return tag.replace("_", "-").split("-", 1)[0].lower()


def _accepted(accept_language: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (by ``q``; ties keep
    the header's order); ``*``, ``q=0`` ("not this one") and unreadable entries dropped."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and tag != "*" and weight > 0:
            weighted.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def pick_language(preferred: str | None, accept_language: str | None) -> str:
    """One of the product's languages (:data:`chat.validation.LANGUAGES`) for a page: the
    user's ``language`` when the link names a user and it is one of ours, else the
    browser's ``Accept-Language`` by preference, else English.

    A tag matches exactly (case-insensitive, ``pt_BR`` as ``pt-BR``) or by its primary
    subtag: ``pt`` and ``pt-PT`` read ``pt-BR``, ``de-AT`` reads ``de``."""
    for tag in ([preferred] if preferred else []) + _accepted(accept_language):
        wanted = tag.strip().replace("_", "-").lower()
        for known in LANGUAGES:
            if wanted == known.lower():
                return known
        for known in LANGUAGES:
            if _primary(known) == _primary(wanted):
                return known
    return DEFAULT_LANGUAGE


def load_strings(page_set: str) -> Mapping[str, Mapping[str, Any]]:
    """``chat/templates/<page_set>/strings.json``: per language, the words of a page set.

    Raises ``ValueError`` at import when a language is missing or has other keys than
    English, so a page can never lack a word in one language."""
    table: dict[str, dict[str, Any]] = json.loads((TEMPLATES / page_set / "strings.json").read_text(encoding="utf-8"))
    if set(table) != set(LANGUAGES):
        raise ValueError(f"{page_set}/strings.json has languages {sorted(table)}, not {sorted(LANGUAGES)}")
    for language, words in table.items():
        if _shape(words) != _shape(table[DEFAULT_LANGUAGE]):
            raise ValueError(f"{page_set}/strings.json: {language} does not have the keys of {DEFAULT_LANGUAGE}")
    return table


def _shape(words: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _shape(value) if isinstance(value, Mapping) else None for key, value in words.items()}


@dataclass(frozen=True)
class PageSet:
    """One directory of page templates (each extends ``pages/base.html``) and its strings.

    A page renders with ``lang`` (the language tag) and ``s`` (that language's words)
    beside the caller's context."""

    directory: str
    scripts: bool = False
    """Whether the pages load same-origin scripts (see :func:`security_headers`)."""
    strings: Mapping[str, Mapping[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strings", load_strings(self.directory))

    def render(self, template: str, language: str, status: int = 200, /, **context: Any) -> HTMLResponse:
        """``<directory>/<template>`` in ``language`` (one of :data:`LANGUAGES`) as a response.
        Positional-only, so the context may use any name."""
        html = _env.get_template(f"{self.directory}/{template}").render(
            lang=language, s=self.strings[language], **context
        )
        return HTMLResponse(html, status_code=status, headers=security_headers(scripts=self.scripts))
