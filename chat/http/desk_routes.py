"""The agent console and its API: queues, claims, canned replies, assignment rules, customer
notes, agents — and the console's own files at ``/console/``.

Handlers only parse, call the use cases in :mod:`chat.desk` (which authorize) and reply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from chat.desk import (
    agents,
    autoassign,
    canned,
    claims,
    detail,
    group_chats,
    notes,
    queues,
    resolve,
    rules,
    support_groups,
)
from chat.http.common import JSON, Strict, current, path_id, read_json, services
from chat.validation import Count, Id, SmallInt

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "static" / "console"

# The console runs only its own scripts and talks only to its own origin (HTTP and the
# websocket); nothing may frame it (clickjacking an agent's "Resolve").
# Images of attachments are fetched with the token and shown from blob: URLs (img-src).
CONSOLE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    # Small files, no build step: revalidate every time (StaticFiles answers 304 by ETag).
    "cache-control": "no-cache",
}


class _ConsoleFiles:
    """StaticFiles with the console's security headers on every answer."""

    def __init__(self, directory: Path) -> None:
        self.files = StaticFiles(directory=directory, html=True, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in CONSOLE_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in CONSOLE_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.files(scope, receive, with_headers)


async def console_redirect(request: Request) -> Response:
    return RedirectResponse("/console/", status_code=308)


async def console_page(request: Request) -> Response:
    """A console page with an address of its own (``/console/reports``): the same
    single-page console, which opens the page its path names."""
    return FileResponse(CONSOLE_DIR / "index.html", headers=CONSOLE_HEADERS)


def _no_content() -> Response:
    return Response(status_code=204)


# -- the console's own state: me, agents --------------------------------------------------


class MeBody(Strict):
    away: bool


class AgentPatch(Strict):
    max_chats: SmallInt | None = None
    away: bool | None = None


async def desk_me(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await agents.me(services(request), principal))


async def update_desk_me(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, MeBody)
    svc = services(request)
    agent = await agents.update_agent(svc, principal, principal.user_id, away=body.away)
    if not body.away:
        # Back at the desk: whatever waited for a free agent may be theirs now.
        await autoassign.assign_waiting(svc, now_online={principal.user_id})
    return JSON({"agent": agent})


async def list_agents(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"agents": await agents.list_agents(services(request), principal)})


async def update_agent(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, AgentPatch)
    svc = services(request)
    agent = await agents.update_agent(svc, principal, path_id(request, "user_id"), max_chats=body.max_chats, away=body.away)
    if body.max_chats is not None:
        await autoassign.assign_waiting(svc)  # a raised limit makes room
    return JSON({"agent": agent})


# -- queues and the conversation view ---------------------------------------------------


async def inbox(request: Request) -> Response:
    principal, _ = await current(request)
    params = request.query_params
    return JSON(await queues.inbox(services(request), principal, params.get("handled_by"), params.get("view")))


async def counts(request: Request) -> Response:
    principal, _ = await current(request)
    params = request.query_params
    return JSON(await queues.queue_counts(services(request), principal, params.get("handled_by"), params.get("view")))


async def queue_item(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"item": await queues.queue_item(services(request), principal, path_id(request, "conversation_id"))})


async def search(request: Request) -> Response:
    principal, _ = await current(request)
    found = await queues.search_tickets(services(request), principal, request.query_params.get("q", ""),
                                        request.query_params.get("status"))
    return JSON({"items": found})


async def conversation_detail(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await detail.conversation_detail(services(request), principal, path_id(request, "conversation_id")))


class ClaimBody(Strict):
    take_over: bool = False


async def claim(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, ClaimBody)
    result = await claims.claim(services(request), principal, path_id(request, "conversation_id"), take_over=body.take_over)
    return JSON(result)


async def release(request: Request) -> Response:
    principal, _ = await current(request)
    svc = services(request)
    await claims.release(svc, principal, path_id(request, "conversation_id"))
    # Someone else, if anyone: handing the chat straight back would undo the release.
    await autoassign.assign_waiting(svc, exclude={principal.user_id})
    return _no_content()


class ResolveBody(Strict):
    body: str
    client_msg_id: str


async def resolve_conversation(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, ResolveBody)
    result = await resolve.resolve(services(request), principal, path_id(request, "conversation_id"),
                                   body=body.body, client_msg_id=body.client_msg_id)
    return JSON(result)


# -- canned replies ----------------------------------------------------------------------


class CannedBody(Strict):
    title: str
    body: str
    shortcut: str | None = None
    kb_url: str | None = None


class CannedPatch(Strict):
    title: str | None = None
    body: str | None = None
    shortcut: str | msgspec.UnsetType | None = msgspec.UNSET
    kb_url: str | msgspec.UnsetType | None = msgspec.UNSET


class RenderBody(Strict):
    conversation_id: Id


async def list_canned(request: Request) -> Response:
    principal, _ = await current(request)
    items = await canned.list_replies(services(request), principal, q=request.query_params.get("q"))
    return JSON({"canned_replies": items})


async def create_canned(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, CannedBody)
    reply = await canned.create_reply(services(request), principal, title=body.title, body=body.body,
                                      shortcut=body.shortcut, kb_url=body.kb_url)
    return JSON({"canned_reply": reply}, status_code=201)


async def update_canned(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, CannedPatch)
    optional: dict[str, Any] = {}
    if body.shortcut is not msgspec.UNSET:
        optional["shortcut"] = body.shortcut
    if body.kb_url is not msgspec.UNSET:
        optional["kb_url"] = body.kb_url
    reply = await canned.update_reply(services(request), principal, path_id(request, "reply_id"),
                                      title=body.title, body=body.body, **optional)
    return JSON({"canned_reply": reply})


async def delete_canned(request: Request) -> Response:
    principal, _ = await current(request)
    await canned.delete_reply(services(request), principal, path_id(request, "reply_id"))
    return _no_content()


async def render_canned(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, RenderBody)
    rendered = await canned.render_reply(services(request), principal, path_id(request, "reply_id"), body.conversation_id)
    return JSON(rendered)


# -- customer notes ----------------------------------------------------------------------


class NoteBody(Strict):
    body: str


async def list_notes(request: Request) -> Response:
    principal, _ = await current(request)
    items = await notes.list_notes(services(request), principal, path_id(request, "user_id"))
    return JSON({"notes": items})


async def add_note(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, NoteBody)
    note = await notes.add_note(services(request), principal, path_id(request, "user_id"), body.body)
    return JSON({"note": note}, status_code=201)


async def delete_note(request: Request) -> Response:
    principal, _ = await current(request)
    await notes.delete_note(services(request), principal, path_id(request, "note_id"))
    return _no_content()


# -- assignment rules --------------------------------------------------------------------


class RuleBody(Strict):
    name: str
    assignee_id: Id
    category: str | None = None
    severity: SmallInt | None = None
    source: str | None = None
    enabled: bool = True
    position: SmallInt | None = None


class RulePatch(Strict):
    name: str | None = None
    assignee_id: Id | None = None
    category: str | msgspec.UnsetType | None = msgspec.UNSET
    severity: SmallInt | msgspec.UnsetType | None = msgspec.UNSET
    source: str | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | None = None
    position: SmallInt | None = None


class DefaultAssigneeBody(Strict):
    user_id: Id | None


async def list_rules(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await rules.list_rules(services(request), principal))


async def create_rule(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, RuleBody)
    rule = await rules.create_rule(
        services(request), principal, name=body.name, assignee_id=body.assignee_id, category=body.category,
        severity=body.severity, source=body.source, enabled=body.enabled, position=body.position,
    )
    return JSON({"rule": rule}, status_code=201)


async def update_rule(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, RulePatch)
    optional = {name: getattr(body, name) for name in ("category", "severity", "source")
                if getattr(body, name) is not msgspec.UNSET}
    rule = await rules.update_rule(
        services(request), principal, path_id(request, "rule_id"), name=body.name, assignee_id=body.assignee_id,
        enabled=body.enabled, position=body.position, **optional,
    )
    return JSON({"rule": rule})


async def delete_rule(request: Request) -> Response:
    principal, _ = await current(request)
    await rules.delete_rule(services(request), principal, path_id(request, "rule_id"))
    return _no_content()


async def set_default_assignee(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, DefaultAssigneeBody)
    user_id = await rules.set_default_assignee(services(request), principal, body.user_id)
    return JSON({"default_assignee_id": user_id})


# -- transfer groups ---------------------------------------------------------------------


class GroupBody(Strict):
    key: str
    name: str
    level: SmallInt
    position: SmallInt | None = None
    lead_id: Id | None = None


class GroupPatch(Strict):
    name: str | None = None
    level: SmallInt | None = None
    position: SmallInt | None = None
    lead_id: Id | UnsetType | None = UNSET  # null: no lead; absent: unchanged


async def create_group(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, GroupBody)
    group = await support_groups.create_group(services(request), principal, key=body.key, name=body.name,
                                              level=body.level, position=body.position, lead_id=body.lead_id)
    return JSON({"group": group}, status_code=201)


async def update_group(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, GroupPatch)
    group = await support_groups.update_group(services(request), principal, request.path_params["key"],
                                              name=body.name, level=body.level, position=body.position,
                                              lead_id=body.lead_id)
    return JSON({"group": group})


async def delete_group(request: Request) -> Response:
    principal, _ = await current(request)
    await support_groups.delete_group(services(request), principal, request.path_params["key"])
    return _no_content()


# -- group chats in the console (issue 18): the Groups queue and each agent's read marker ---


async def list_group_chats(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await group_chats.group_chats(services(request), principal))


async def get_group_chat(request: Request) -> Response:
    principal, _ = await current(request)
    found = await group_chats.group_chat(services(request), principal, path_id(request, "conversation_id"))
    return JSON({"group_chat": found})


class ReadBody(Strict):
    seq: Count


async def read_group_chat(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, ReadBody)
    found = await group_chats.mark_read(services(request), principal, path_id(request, "conversation_id"), body.seq)
    return JSON({"group_chat": found})


ROUTES: list[BaseRoute] = [
    Route("/api/desk/group-chats", list_group_chats, methods=["GET"]),
    Route("/api/desk/group-chats/{conversation_id}", get_group_chat, methods=["GET"]),
    Route("/api/desk/group-chats/{conversation_id}/read", read_group_chat, methods=["POST"]),
    Route("/api/desk/me", desk_me, methods=["GET"]),
    Route("/api/desk/me", update_desk_me, methods=["PATCH"]),
    Route("/api/desk/agents", list_agents, methods=["GET"]),
    Route("/api/desk/agents/{user_id}", update_agent, methods=["PATCH"]),
    Route("/api/desk/inbox", inbox, methods=["GET"]),
    Route("/api/desk/counts", counts, methods=["GET"]),
    Route("/api/desk/items/{conversation_id}", queue_item, methods=["GET"]),
    Route("/api/desk/search", search, methods=["GET"]),
    Route("/api/desk/conversations/{conversation_id}", conversation_detail, methods=["GET"]),
    Route("/api/desk/conversations/{conversation_id}/claim", claim, methods=["POST"]),
    Route("/api/desk/conversations/{conversation_id}/release", release, methods=["POST"]),
    Route("/api/desk/conversations/{conversation_id}/resolve", resolve_conversation, methods=["POST"]),
    Route("/api/desk/canned-replies", list_canned, methods=["GET"]),
    Route("/api/desk/canned-replies", create_canned, methods=["POST"]),
    Route("/api/desk/canned-replies/{reply_id}", update_canned, methods=["PATCH"]),
    Route("/api/desk/canned-replies/{reply_id}", delete_canned, methods=["DELETE"]),
    Route("/api/desk/canned-replies/{reply_id}/render", render_canned, methods=["POST"]),
    Route("/api/desk/customers/{user_id}/notes", list_notes, methods=["GET"]),
    Route("/api/desk/customers/{user_id}/notes", add_note, methods=["POST"]),
    Route("/api/desk/notes/{note_id}", delete_note, methods=["DELETE"]),
    Route("/api/desk/rules", list_rules, methods=["GET"]),
    Route("/api/desk/rules", create_rule, methods=["POST"]),
    Route("/api/desk/rules/{rule_id}", update_rule, methods=["PATCH"]),
    Route("/api/desk/rules/{rule_id}", delete_rule, methods=["DELETE"]),
    Route("/api/desk/default-assignee", set_default_assignee, methods=["PUT"]),
    Route("/api/desk/groups", create_group, methods=["POST"]),
    Route("/api/desk/groups/{key}", update_group, methods=["PATCH"]),
    Route("/api/desk/groups/{key}", delete_group, methods=["DELETE"]),
    Route("/console", console_redirect, methods=["GET"]),
    Route("/console/reports", console_page, methods=["GET"]),
    Mount("/console", app=_ConsoleFiles(CONSOLE_DIR), name="console"),
]
