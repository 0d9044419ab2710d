"""The pages that links in mails open (issue 15): the rating page behind the close mail's
Good / No rating / Bad links, and attachment downloads.

Server-rendered pages of the mail-link kit (:mod:`chat.http.pages`: its base template,
hashed stylesheet, languages and security headers) that need no JavaScript and load
nothing else. A refused link is a human page with a 4xx status, never a JSON error or a 500.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from chat.http.common import services
from chat.http.pages import PageSet, pick_language
from chat.mail import attachment_links, votes
from escalation.ratings import MAX_COMMENT, MAX_REASON, RatingValue

RATING_PAGES = PageSet("mail_pages")
# A reason (200) and a comment (4000) of Cyrillic, percent-encoded: ~25 KB; well under this.
MAX_FORM_BYTES = 64 * 1024
_FORM_TYPE = "application/x-www-form-urlencoded"


def _language(request: Request, preferred: str | None) -> str:
    return pick_language(preferred, request.headers.get("accept-language"))


def refused(request: Request, exc: votes.LinkRefused) -> HTMLResponse:
    """The page for a refused link: the refusal's status, and words for its code."""
    language = _language(request, exc.language)
    known = RATING_PAGES.strings[language]
    code = exc.code if exc.code in known else ("not_found" if exc.status == 404 else "bad_request")
    return RATING_PAGES.render("refused.html", language, exc.status, code=code)


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
    return RATING_PAGES.render(
        "rate.html", _language(request, form.language), ticket_id=form.ticket_id, subject=form.subject,
        token=form.token, choice=form.choice.value, choices=[v.value for v in RatingValue], max_reason=MAX_REASON,
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
    return RATING_PAGES.render("done.html", _language(request, vote.language), ticket_id=vote.ticket_id, value=vote.value.value)


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
