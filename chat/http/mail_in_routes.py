"""E-mail in, the staff side (issue 16): the received-mail log, the Spam view, marking a
ticket as spam, releasing a spam mail, and the sender block list. Each handler parses,
calls one use case of :mod:`chat.mail.inbound.desk` and shapes JSON (docs/http.md,
"Received mail and spam")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from chat.http.common import JSON, Strict, current, int_query, path_id, read_json, services
from chat.mail.inbound import desk
from chat.mail.mailbox import MAX_ID


class SpamBody(Strict):
    block: str = "sender"


class BlockBody(Strict):
    pattern: str
    reason: str = ""


async def list_received(request: Request) -> Response:
    """``GET /api/mail/inbound?status=&sender=&before_id=&limit=``, newest first."""
    principal, _ = await current(request)
    q = request.query_params
    page = await desk.list_received(
        services(request), principal, status=q.get("status"), sender=q.get("sender"),
        before_id=int_query(request, "before_id", 1, MAX_ID),
        limit=int_query(request, "limit", 1, desk.PAGE_MAX) or desk.PAGE_DEFAULT,
    )
    return JSON(page)


async def open_received(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await desk.open_received(services(request), principal, path_id(request, "mail_id")))


async def release_mail(request: Request) -> Response:
    """``POST /api/mail/inbound/{id}/not-spam``."""
    principal, _ = await current(request)
    return JSON(await desk.release_mail(services(request), principal, path_id(request, "mail_id")))


async def spam(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await desk.spam_view(services(request), principal))


async def mark_spam(request: Request) -> Response:
    """``POST /api/tickets/{id}/spam {"block": "sender" | "domain" | "none"}``."""
    principal, _ = await current(request)
    body = await read_json(request, SpamBody)
    ticket = await desk.mark_spam(services(request), principal, path_id(request, "ticket_id"), body.block)
    return JSON({"ticket": ticket})


async def unmark_spam(request: Request) -> Response:
    """``DELETE /api/tickets/{id}/spam``: not spam."""
    principal, _ = await current(request)
    return JSON({"ticket": await desk.unmark_spam(services(request), principal, path_id(request, "ticket_id"))})


async def list_blocks(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"blocks": await desk.list_blocks(services(request), principal)})


async def add_block(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, BlockBody)
    return JSON(await desk.add_block(services(request), principal, body.pattern, body.reason), status_code=201)


async def remove_block(request: Request) -> Response:
    principal, _ = await current(request)
    await desk.remove_block(services(request), principal, request.path_params["pattern"])
    return Response(status_code=204)


ROUTES: list[BaseRoute] = [
    Route("/api/mail/inbound", list_received, methods=["GET"]),
    Route("/api/mail/inbound/{mail_id}", open_received, methods=["GET"]),
    Route("/api/mail/inbound/{mail_id}/not-spam", release_mail, methods=["POST"]),
    Route("/api/mail/spam", spam, methods=["GET"]),
    Route("/api/tickets/{ticket_id}/spam", mark_spam, methods=["POST"]),
    Route("/api/tickets/{ticket_id}/spam", unmark_spam, methods=["DELETE"]),
    Route("/api/mail/blocklist", list_blocks, methods=["GET"]),
    Route("/api/mail/blocklist", add_block, methods=["POST"]),
    Route("/api/mail/blocklist/{pattern}", remove_block, methods=["DELETE"]),
]
