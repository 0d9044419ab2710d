"""The pages that links in mails open (issue 15): the rating page behind the close mail's
Good / No rating / Bad links, and attachment downloads.

Server-rendered HTML (jinja2, autoescape) that needs no JavaScript and loads nothing: the
CSS is inline and the CSP forbids everything else. The token sits in the URL, so no page
sends a Referer (``Referrer-Policy: no-referrer``) or is kept by a cache (``no-store``).
A refused link is a human page with a 4xx status, never a JSON error or a 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from chat.http.common import services
from chat.mail import attachment_links, votes
from escalation.ratings import MAX_COMMENT, MAX_REASON, RatingValue

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "mail_pages"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)
# The product's languages (en, pt-BR, de, es, ru); anything else reads English.
STRINGS: Mapping[str, Mapping[str, str]] = json.loads((_TEMPLATES / "strings.json").read_text(encoding="utf-8"))
DEFAULT_LANGUAGE = "en"

PAGE_HEADERS = {
    # Nothing but the inline style and a form posted back here; no script, image or frame.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
# A reason (200) and a comment (4000) of Cyrillic, percent-encoded: ~25 KB; well under this.
MAX_FORM_BYTES = 64 * 1024
_FORM_TYPE = "application/x-www-form-urlencoded"


def pick_language(preferred: str | None, accept_language: str | None = None) -> str:
    """The strings table's language for a user's ``language`` (``pt-BR``; ``pt`` matches it,
    ``de-AT`` reads ``de``), else the browser's ``Accept-Language`` in its order, else English."""
    candidates = [preferred] if preferred else []
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            candidates.append(tag)
    for tag in candidates:
        for known in STRINGS:
            if tag.lower() == known.lower():
                return known
        primary = tag.split("-")[0].lower()
        for known in STRINGS:
            if known.split("-")[0].lower() == primary:
                return known
    return DEFAULT_LANGUAGE


def page(name: str, language: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(lang=language, s=STRINGS[language], **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def refused(request: Request, exc: votes.LinkRefused) -> HTMLResponse:
    """The page for a refused link: the refusal's status, and words for its code."""
    language = pick_language(exc.language, request.headers.get("accept-language"))
    known = STRINGS[language]
    code = exc.code if exc.code in known else ("not_found" if exc.status == 404 else "bad_request")
    return page("refused.html", language, exc.status, code=code)


def _bad_form(request: Request) -> HTMLResponse:
    return refused(request, votes.LinkRefused("the form could not be read", code="bad_request", status=400))


async def rate_page(request: Request) -> Response:
    """``GET /mail/rate?t=…``: the rating form with the link's choice preselected. Records
    nothing: mail scanners and link previews open every link of a mail."""
    token = request.query_params.get("t", "")
    try:
        form = await votes.open_rating(services(request), token)
    except votes.LinkRefused as exc:
        return refused(request, exc)
    language = pick_language(form.language, request.headers.get("accept-language"))
    return page(
        "rate.html", language, ticket_id=form.ticket_id, subject=form.subject, token=form.token,
        choice=form.choice.value, choices=[v.value for v in RatingValue], max_reason=MAX_REASON,
        max_comment=MAX_COMMENT,
    )


async def rate_submit(request: Request) -> Response:
    """``POST /mail/rate`` (form-encoded ``t``, ``c``, ``reason``, ``comment``): cast the vote.

    No session and no CSRF token, on purpose: the signed single-use token in the form *is*
    the capability. A forged cross-site post cannot carry it (only the mail's recipient
    has it), and one that somehow did could only cast the vote the link already allows,
    once."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM_TYPE:
        return _bad_form(request)
    fields = await _read_form(request)
    if fields is None:
        return _bad_form(request)
    try:
        vote = await votes.cast_vote(
            services(request), fields.get("t", ""), fields.get("c", ""),
            reason=fields.get("reason"), comment=fields.get("comment"),
        )
    except votes.LinkRefused as exc:
        return refused(request, exc)
    language = pick_language(vote.language, request.headers.get("accept-language"))
    return page("done.html", language, ticket_id=vote.ticket_id, value=vote.value.value)


async def _read_form(request: Request) -> dict[str, str] | None:
    """The first value of each field of a small url-encoded body, or ``None`` if it is too
    large, not UTF-8 or not a form."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


async def attachment(request: Request) -> Response:
    """``GET /mail/attachment?t=…``: the file a mail links to, always as a download under
    its uploaded name and stored type; nothing a browser could run on our origin."""
    try:
        row, path = await attachment_links.open_attachment(services(request), request.query_params.get("t", ""))
    except votes.LinkRefused as exc:
        return refused(request, exc)
    return FileResponse(
        path,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "private, no-store",
        },
    )


ROUTES = [
    Route("/mail/rate", rate_page, methods=["GET"]),
    Route("/mail/rate", rate_submit, methods=["POST"]),
    Route("/mail/attachment", attachment, methods=["GET"]),
]
