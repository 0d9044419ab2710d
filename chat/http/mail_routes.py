"""Mail preferences, the one-click unsubscribe pages, and the support admins' "Sent mail"
API (issue 15, items 1, 2 and 5).

``/mail/unsubscribe?t=…`` is what a mail's ``List-Unsubscribe`` header and footer link
open. A GET only asks (mail scanners and link previews open every link); a POST with the
body ``List-Unsubscribe=One-Click`` — what a mail provider sends for RFC 8058, and what
the page's button sends — switches the kind off. The pages come from the mail-link kit
(:mod:`chat.http.pages`), need no script, and say what happened in the recipient's
language; a forged or expired link is a 400 page and changes nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from chat import validation
from chat.http.common import JSON, current, int_query, path_id, services
from chat.http.pages import PageSet, pick_language
from chat.mail import mailbox, preferences
from chat.mail.preferences import Subject, Unsubscription
from chat.models import STAFF_ROLES, Role
from chat.tokens import ExpiredToken, InvalidToken

# en, pt-BR, de, es, ru: each with the page's sentences and a name for every switchable kind.
UNSUBSCRIBE_PAGES = PageSet("unsubscribe")
# The one-click body is 26 bytes; a multipart version a few hundred.
MAX_FORM_BYTES = 4096
ONE_CLICK = ("List-Unsubscribe", "One-Click")


def _profile_url(role: Role | None) -> str | None:
    """Where the recipient changes every switch: the console for staff, the customer area
    for people who sign in there; an anonymous visitor or a bare address has no profile."""
    if role is None or role is Role.VISITOR:
        return None
    return "/console/#profile" if role in STAFF_ROLES else "/portal/#profile"


def _page(language: str, status: int, *, title: str, lines: list[str], form_action: str | None = None,
          profile_url: str | None = None, code: str | None = None) -> HTMLResponse:
    return UNSUBSCRIBE_PAGES.render(
        "page.html", language, status, title=title, lines=lines, form_action=form_action, profile_url=profile_url,
        code=code,
    )


def _ask(request: Request, found: Unsubscription, token: str, status: int = 200) -> HTMLResponse:
    language = pick_language(found.language, request.headers.get("accept-language"))
    s = UNSUBSCRIBE_PAGES.strings[language]
    kind = s["kinds"][found.kind.value]
    line = s["ask_user"] if found.subject is Subject.USER else s["ask_address"]
    return _page(language, status, title=s["ask_title"].format(kind=kind),
                 lines=[line.format(address=found.address or "")],
                 form_action=f"/mail/unsubscribe?t={quote(token, safe='')}", profile_url=_profile_url(found.role))


def _done(request: Request, found: Unsubscription) -> HTMLResponse:
    language = pick_language(found.language, request.headers.get("accept-language"))
    s = UNSUBSCRIBE_PAGES.strings[language]
    if found.subject is Subject.USER:
        line = s["done_user"].format(kind=s["kinds"][found.kind.value])
    else:
        line = s["done_address"].format(address=found.address or "")
    return _page(language, 200, title=s["done_title"], lines=[line], profile_url=_profile_url(found.role))


def _refused(request: Request, exc: InvalidToken | ExpiredToken) -> HTMLResponse:
    language = pick_language(None, request.headers.get("accept-language"))
    s = UNSUBSCRIBE_PAGES.strings[language]
    which = "expired" if isinstance(exc, ExpiredToken) else "invalid"
    return _page(language, 400, title=s[f"{which}_title"], lines=[s[which]], code=exc.code)


async def _is_one_click(request: Request) -> bool:
    """Whether the body says ``List-Unsubscribe=One-Click`` (RFC 8058, §3.1), form-encoded
    (what providers and our page send) or as a multipart field."""
    declared = request.headers.get("content-length")
    if declared is not None and (validation.ascii_int(declared) is None or int(declared) > MAX_FORM_BYTES):
        return False
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return False
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    text = body.decode("utf-8", "replace")
    if content_type == "application/x-www-form-urlencoded":
        return ONE_CLICK in parse_qsl(text)
    if content_type == "multipart/form-data":
        return 'name="List-Unsubscribe"' in text and "One-Click" in text
    return False


async def unsubscribe_page(request: Request) -> Response:
    """``GET /mail/unsubscribe?t=…``: "Stop these e-mails?" with a button; changes nothing."""
    token = request.query_params.get("t", "")
    try:
        found = await preferences.unsubscribe_preview(services(request), token)
    except (InvalidToken, ExpiredToken) as exc:
        return _refused(request, exc)
    return _done(request, found) if found.done else _ask(request, found, token)


async def unsubscribe(request: Request) -> Response:
    """``POST /mail/unsubscribe?t=…`` with ``List-Unsubscribe=One-Click``: switch the kind
    off (idempotent, 200 each time). Without that body: 400 and the question again."""
    token = request.query_params.get("t", "")
    svc = services(request)
    one_click = await _is_one_click(request)
    try:
        if not one_click:
            return _ask(request, await preferences.unsubscribe_preview(svc, token), token, status=400)
        found = await preferences.unsubscribe(svc, token)
    except (InvalidToken, ExpiredToken) as exc:
        return _refused(request, exc)
    return _done(request, found)


# -- the caller's own mail preferences ----------------------------------------------------


async def my_mail(request: Request) -> Response:
    """``GET /api/me/mail``: the caller's switches, language and time zone."""
    principal, _ = await current(request)
    return JSON(await preferences.mail_preferences(services(request), principal))


# -- Sent mail and suppressions (support admins) ------------------------------------------


async def list_outbox(request: Request) -> Response:
    """``GET /api/mail/outbox?status=&to=&kind=&before_id=&limit=``, newest first."""
    principal, _ = await current(request)
    q = request.query_params
    page = await mailbox.list_outbox(
        services(request), principal, status=q.get("status"), to=q.get("to"), kind=q.get("kind"),
        before_id=int_query(request, "before_id", 1, mailbox.MAX_ID),
        limit=int_query(request, "limit", 1, mailbox.PAGE_MAX) or mailbox.PAGE_DEFAULT,
    )
    return JSON(page)


async def open_mail(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await mailbox.open_mail(services(request), principal, path_id(request, "mail_id")))


# The mail's own HTML, as a mail client shows it: its inline styles apply (they are what
# css_inline made of the template's stylesheet); nothing runs, nothing loads from
# elsewhere, forms and navigation are off (sandbox), only the console may frame it.
MAIL_VIEW_HEADERS = {
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def view_mail(request: Request) -> Response:
    """``GET /mail/view?t=…``: one outbox mail's HTML part (link from ``GET /api/mail/outbox/{id}``)."""
    try:
        html = await mailbox.mail_html(services(request), request.query_params.get("t", ""))
    except (InvalidToken, ExpiredToken) as exc:
        return HTMLResponse(f"<p>{exc.code}</p>", status_code=400, headers=MAIL_VIEW_HEADERS)
    return HTMLResponse(html, headers=MAIL_VIEW_HEADERS)


async def list_suppressions(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"suppressions": await mailbox.list_suppressions(services(request), principal)})


async def clear_suppression(request: Request) -> Response:
    principal, _ = await current(request)
    await mailbox.clear_suppression(services(request), principal, request.path_params["address"])
    return Response(status_code=204)


ROUTES: list[BaseRoute] = [
    Route("/mail/unsubscribe", unsubscribe_page, methods=["GET"]),
    Route("/mail/unsubscribe", unsubscribe, methods=["POST"]),
    Route("/api/me/mail", my_mail, methods=["GET"]),
    Route("/mail/view", view_mail, methods=["GET"]),
    Route("/api/mail/outbox", list_outbox, methods=["GET"]),
    Route("/api/mail/outbox/{mail_id}", open_mail, methods=["GET"]),
    Route("/api/mail/suppressions", list_suppressions, methods=["GET"]),
    Route("/api/mail/suppressions/{address}", clear_suppression, methods=["DELETE"]),
]
