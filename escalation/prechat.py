"""The widget's pre-chat answers as fields of a new support chat's ticket (FEATURES §1, §3):
category, severity, affected objects (assets), "when did it happen", a contact e-mail and
the visitor's name.

A chat's ticket row is made by the after-commit reaction to its start
(:mod:`escalation.reactions`), and automatic assignment (:mod:`chat.desk.autoassign`) runs
right after it in the same pass. Assignment rules route by category, severity and source,
and the SLA policy is chosen by category × severity, so the answers must be on the row
before either looks: the route hands them over with :func:`pending` (a context variable;
``start_conversation`` runs the reactions in the request's own task) and the unit that
creates the row applies them, so the row is born with them and its first deadlines use
them. Should that unit not have applied them (the reaction failed and was logged, or the
row came from elsewhere), :func:`apply_prechat` does it afterwards in a unit of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chat import validation
from chat.authz import Principal
from chat.models import Role, User
from chat.services import Services
from escalation import fields
from escalation.config import load_desk
from escalation.store import Work, run_unit


@dataclass(frozen=True)
class Prechat:
    """Checked answers; ``None`` / empty: not given."""

    category: str | None = None
    severity: int | None = None
    assets: tuple[str, ...] = ()
    happened_at: datetime | None = None
    email: str | None = None
    name: str | None = None

    @property
    def empty(self) -> bool:
        return self == Prechat()


async def check_prechat(
    svc: Services,
    *,
    category: str | None = None,
    severity: int | None = None,
    assets: Sequence[str] = (),
    happened_at: datetime | None = None,
    email: str | None = None,
    name: str | None = None,
) -> Prechat:
    """The answers, clean, or ``ValidationFailed`` naming the field — before anything is
    stored. Only customers start chats, so only categories marked for customers pass
    (``category_not_allowed``); a category's default severity fills a missing one, as for
    tickets opened directly."""
    clean_severity = fields.severity(severity)
    clean_assets = tuple(fields.assets(assets))
    when = fields.happened_at(happened_at, svc.clock.now())
    when = when.astimezone(UTC) if when is not None else None  # as the row will hold it
    clean_email = validation.email(email) if email is not None else None
    clean_name = validation.text(name or "", "name", max_length=200, required=False) or None
    clean_category = None
    if category is not None:
        async with svc.reads() as db:
            desk = await load_desk(db, svc.settings)
        clean_category = fields.category(desk, category, staff=False)
        clean_severity = fields.default_severity(desk, clean_category, clean_severity)
    return Prechat(clean_category, clean_severity, clean_assets, when, clean_email, clean_name)


class Pending:
    """Answers waiting for the row of the chat ``user_id`` is starting."""

    def __init__(self, answers: Prechat, user_id: int) -> None:
        self.answers = answers
        self.user_id = user_id
        self.applied_to: int | None = None


_PENDING: ContextVar[Pending | None] = ContextVar("escalation_prechat", default=None)


@contextmanager
def pending(answers: Prechat, actor: Principal) -> Iterator[Pending]:
    """While the block runs, the first chat row ``actor`` creates gets ``answers``."""
    holder = Pending(answers, actor.user_id)
    token = _PENDING.set(holder)
    try:
        yield holder
    finally:
        _PENDING.reset(token)


async def on_row_created(work: Work) -> None:
    """For the unit that has just created a chat's row: apply the answers waiting for it."""
    holder = _PENDING.get()
    if holder is None or holder.answers.empty or holder.applied_to is not None:
        return
    if work.conv.created_by_id != holder.user_id:
        return
    holder.applied_to = work.conv.id
    await _apply(work, holder.answers, holder.user_id)


async def apply_prechat(svc: Services, actor: Principal, conversation_id: int, answers: Prechat) -> None:
    """Put ``answers`` on the chat's ticket in one unit (creating the row if missing);
    deadlines are recomputed with them."""
    if answers.empty:
        return

    async def change(work: Work) -> None:
        await _apply(work, answers, actor.user_id)

    await run_unit(svc, conversation_id, change)


async def _apply(work: Work, answers: Prechat, user_id: int) -> None:
    """Copy the answers onto the row; the typed fields are recorded as one
    ``ticket.updated`` by the customer (the contact details stay off the customer-visible
    stream: they are the desk's, like ``contact_email`` in the ticket JSON)."""
    t = work.ticket
    user = await work.db.get(User, user_id)
    changes: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        before = getattr(t, name)
        if value in (None, ()) or value == before:
            return
        changes[name] = {"from": _shown(before), "to": _shown(value)}
        setattr(t, name, value)

    put("category", answers.category)
    put("severity", answers.severity)
    put("assets", list(answers.assets) or None)
    put("happened_at", answers.happened_at)
    if answers.email is not None:
        t.contact_email = answers.email
    if answers.name is not None:
        t.contact_name = answers.name
        # Agents see a visitor by their user's name (queues, history); a registered
        # customer's own name is theirs to change in their profile.
        if user is not None and (user.role is Role.VISITOR or not user.name):
            user.name = answers.name
    if changes:
        await work.append("ticket.updated", user, internal=False, changes=changes, reason="prechat")
    t.updated_at = work.now


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
