"""Canned (typical) replies: listed and searched by staff, edited by support admins,
filled in for one conversation when an agent picks one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from chat import audit, validation
from chat.authz import Action, Principal, require
from chat.desk import placeholders
from chat.desk.models import CannedReply
from chat.errors import Conflict, NotFound, ValidationFailed
from chat.events import load_visible
from chat.models import Organization, User
from chat.services import Services
from chat.wire import View, iso

MAX_TITLE = 200
MAX_BODY = 10_000
MAX_SHORTCUT = 40
MAX_URL = 500
LIST_MAX = 200
T = TypeVar("T")


class CannedReplyView(View, frozen=True, kw_only=True):
    id: int
    title: str
    body: str
    shortcut: str | None
    kb_url: str | None
    created_by_id: int | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, reply: CannedReply) -> CannedReplyView:
        return cls(
            id=reply.id, title=reply.title, body=reply.body, shortcut=reply.shortcut, kb_url=reply.kb_url,
            created_by_id=reply.created_by_id, created_at=iso(reply.created_at), updated_at=iso(reply.updated_at),
        )


def _shortcut(value: str | None) -> str | None:
    if value is None:
        return None
    clean = value.strip().lstrip("/").lower()
    if not clean:
        return None
    if len(clean) > MAX_SHORTCUT or not all(ch.isalnum() or ch in "-_" for ch in clean):
        raise ValidationFailed(f"shortcut must be at most {MAX_SHORTCUT} letters, digits, '-' or '_'", field="shortcut")
    return clean


def _kb_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    clean = value.strip()
    # Only web links: a javascript: URL in a reply would run in whoever clicks it.
    if len(clean) > MAX_URL or not clean.startswith(("https://", "http://")):
        raise ValidationFailed(f"kb_url must be an http(s) link of at most {MAX_URL} characters", field="kb_url")
    return clean


def _named(field: str, check: Callable[[], T]) -> T:
    """Run a shared check, naming the field its refusal is about (the form marks it)."""
    try:
        return check()
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, code=exc.code, field=field) from None


def _title(value: str) -> str:
    return _named("title", lambda: validation.text(value, "title", max_length=MAX_TITLE))


def _body(value: str) -> str:
    clean = _named("body", lambda: validation.text(value, "body", max_length=MAX_BODY))
    _named("body", lambda: placeholders.check(clean))
    return clean


async def list_replies(svc: Services, actor: Principal, *, q: str | None = None) -> list[CannedReplyView]:
    """Every canned reply (or those whose title, shortcut or text contains ``q``), by title."""
    require(actor, Action.VIEW_DESK)
    query = select(CannedReply).order_by(func.lower(CannedReply.title), CannedReply.id).limit(LIST_MAX)
    if q and q.strip():
        needle = f"%{q.strip().lower()}%"
        query = query.where(or_(
            func.lower(CannedReply.title).like(needle),
            func.lower(CannedReply.body).like(needle),
            func.lower(func.coalesce(CannedReply.shortcut, "")).like(needle),
        ))
    async with svc.reads() as db:
        return [CannedReplyView.of(r) for r in await db.scalars(query)]


async def create_reply(
    svc: Services, actor: Principal, *, title: str, body: str, shortcut: str | None = None, kb_url: str | None = None
) -> CannedReplyView:
    require(actor, Action.MANAGE_DESK)
    reply = CannedReply(
        title=_title(title),
        body=_body(body),
        shortcut=_shortcut(shortcut),
        kb_url=_kb_url(kb_url),
        created_by_id=actor.user_id,
        created_at=svc.clock.now(),
        updated_at=svc.clock.now(),
    )
    try:
        async with svc.sessions.begin() as db:
            db.add(reply)
            await db.flush()
            view = CannedReplyView.of(reply)
            await audit.record_change(db, actor, at=reply.created_at, action="config.canned.create",
                                      target_kind="canned", target_id=reply.id, after=view)
    except IntegrityError:
        raise Conflict(f"the shortcut /{reply.shortcut} is taken", code="shortcut_taken", field="shortcut") from None
    return view


_UNSET: Any = object()


async def update_reply(
    svc: Services,
    actor: Principal,
    reply_id: int,
    *,
    title: str | None = None,
    body: str | None = None,
    shortcut: str | None = _UNSET,
    kb_url: str | None = _UNSET,
) -> CannedReplyView:
    """Change the given fields; ``shortcut``/``kb_url`` set to None (or "") clear them."""
    require(actor, Action.MANAGE_DESK)
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _title(title)
    if body is not None:
        changes["body"] = _body(body)
    if shortcut is not _UNSET:
        changes["shortcut"] = _shortcut(shortcut)
    if kb_url is not _UNSET:
        changes["kb_url"] = _kb_url(kb_url)
    try:
        async with svc.sessions.begin() as db:
            reply = await db.get(CannedReply, reply_id)
            if reply is None:
                raise NotFound("no such canned reply")
            before = CannedReplyView.of(reply)
            for name, value in changes.items():
                setattr(reply, name, value)
            reply.updated_at = svc.clock.now()
            await db.flush()
            view = CannedReplyView.of(reply)
            await audit.record_change(db, actor, at=reply.updated_at, action="config.canned.update",
                                      target_kind="canned", target_id=reply.id, before=before, after=view)
    except IntegrityError:
        raise Conflict(
            f"the shortcut /{changes.get('shortcut')} is taken", code="shortcut_taken", field="shortcut"
        ) from None
    return view


async def delete_reply(svc: Services, actor: Principal, reply_id: int) -> None:
    require(actor, Action.MANAGE_DESK)
    async with svc.sessions.begin() as db:
        reply = await db.get(CannedReply, reply_id)
        if reply is None:
            raise NotFound("no such canned reply")
        await audit.record_change(db, actor, at=svc.clock.now(), action="config.canned.delete",
                                  target_kind="canned", target_id=reply.id, before=CannedReplyView.of(reply))
        await db.delete(reply)


async def render_reply(svc: Services, actor: Principal, reply_id: int, conversation_id: int) -> dict[str, Any]:
    """The reply's text with its placeholders filled in for one conversation, and its
    knowledge-base link appended; what the console puts into the composer."""
    require(actor, Action.VIEW_DESK)
    async with svc.reads() as db:
        reply = await db.get(CannedReply, reply_id)
        if reply is None:
            raise NotFound("no such canned reply")
        conv, _ = await load_visible(db, actor, conversation_id)
        customer = await db.get(User, conv.created_by_id) if conv.created_by_id is not None else None
        org = await db.get(Organization, conv.organization_id) if conv.organization_id is not None else None
        agent = await db.get(User, actor.user_id)
    values = {
        "customer.name": customer.name if customer else None,
        "customer.first_name": placeholders.first_name(customer.name if customer else None),
        "customer.email": customer.email if customer else None,
        "organization.name": org.name if org else None,
        "agent.name": agent.name if agent else None,
        "agent.first_name": placeholders.first_name(agent.name if agent else None),
        "conversation.id": str(conv.id),
        "conversation.subject": conv.subject or None,
    }
    text = placeholders.render(reply.body, values)
    if reply.kb_url:
        text = f"{text}\n\n{reply.kb_url}"
    return {"id": reply.id, "conversation_id": conv.id, "text": text, "kb_url": reply.kb_url}
