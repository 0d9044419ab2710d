"""Support notes on a customer, for shift handover (PSD "Заметки для поддержки").

Staff only, never shown or sent to the customer. Notes are kept as a list: each has its
author and time, so the next shift knows who said what and when.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import validation
from chat.authz import Action, Principal, require
from chat.desk.models import CustomerNote
from chat.errors import NotFound
from chat.events import author_json
from chat.models import STAFF_ROLES, User
from chat.secrets_mask import mask_secrets
from chat.services import Services
from chat.wire import View, iso

MAX_NOTE = 4000
NOTES_SHOWN = 200


class CustomerNoteView(View, frozen=True, kw_only=True):
    id: int
    customer_id: int
    author: dict[str, Any] | None  # chat.events.author_json: who wrote it, as events name people
    body: str
    created_at: str

    @classmethod
    def of(cls, note: CustomerNote, author: User | None) -> CustomerNoteView:
        return cls(id=note.id, customer_id=note.customer_id, author=author_json(author), body=note.body,
                   created_at=iso(note.created_at))


async def _customer(db: AsyncSession, customer_id: int) -> User:
    user = await db.get(User, customer_id)
    # Notes are about customers; staff accounts are not their subject.
    if user is None or user.role in STAFF_ROLES:
        raise NotFound("no such customer", code="user_not_found")
    return user


async def list_notes(svc: Services, actor: Principal, customer_id: int) -> list[CustomerNoteView]:
    """The customer's notes, newest first."""
    require(actor, Action.VIEW_DESK)
    async with svc.reads() as db:
        await _customer(db, customer_id)
        rows = await db.execute(
            select(CustomerNote, User)
            .outerjoin(User, User.id == CustomerNote.author_id)
            .where(CustomerNote.customer_id == customer_id)
            .order_by(CustomerNote.id.desc())
            .limit(NOTES_SHOWN)
        )
        return [CustomerNoteView.of(n, u) for n, u in rows]


async def add_note(svc: Services, actor: Principal, customer_id: int, body: str) -> CustomerNoteView:
    require(actor, Action.WORK_DESK)
    # Staff notes are masked too: a key pasted into a handover note would outlive the chat
    # it came from, and staff need to know *that* a key was given, not the key.
    clean = mask_secrets(validation.text(body, "body", max_length=MAX_NOTE)).text
    async with svc.sessions.begin() as db:
        await _customer(db, customer_id)
        note = CustomerNote(customer_id=customer_id, author_id=actor.user_id, body=clean, created_at=svc.clock.now())
        db.add(note)
        await db.flush()
        author = await db.get(User, actor.user_id)
    return CustomerNoteView.of(note, author)


async def delete_note(svc: Services, actor: Principal, note_id: int) -> None:
    """Its author takes a note back; a support admin may remove any."""
    require(actor, Action.WORK_DESK)
    async with svc.sessions.begin() as db:
        note = await db.get(CustomerNote, note_id)
        if note is None:
            raise NotFound("no such note")
        if note.author_id != actor.user_id:
            require(actor, Action.MANAGE_DESK)
        await db.delete(note)

