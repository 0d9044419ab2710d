"""The widget's pre-chat answers as fields of a new support chat's ticket (FEATURES §1, §3):
category, severity, affected objects (assets), "when did it happen", a contact e-mail and
the visitor's name.

The route checks the answers (:func:`check_prechat`) before anything is stored, and
``start_conversation`` commits them with the chat, in its ``conversation.created`` event
(``data.prechat``). A chat's ticket row is made by the after-commit reaction to its start
(:mod:`escalation.reactions`) or, should that reaction fail, by the sweeper's backfill;
whichever unit creates the row applies the committed answers (:func:`apply_committed`),
so the row is born with them: the SLA policy (category x severity) and the assignment
pass that runs right after the reaction both see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from chat import validation
from chat.models import Event, Role, User
from chat.secrets_mask import KINDS, mask_secrets
from chat.services import Services
from escalation import fields
from escalation.config import load_desk
from escalation.unit_of_work import Work


@dataclass(frozen=True)
class Prechat:
    """Checked answers; ``None`` / empty: not given."""

    category: str | None = None
    severity: int | None = None
    assets: tuple[str, ...] = ()
    happened_at: datetime | None = None
    email: str | None = None
    name: str | None = None
    masked: tuple[str, ...] = ()  # kinds of secrets masked in the answers (chat.secrets_mask)

    @property
    def empty(self) -> bool:
        return self == Prechat()

    def as_data(self) -> dict[str, Any]:
        """The answers as stored in ``conversation.created`` (given ones only)."""
        data: dict[str, Any] = {
            "category": self.category, "severity": self.severity, "assets": list(self.assets) or None,
            "happened_at": self.happened_at.isoformat() if self.happened_at is not None else None,
            "email": self.email, "name": self.name, "masked": list(self.masked) or None,
        }
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Prechat:
        when = data.get("happened_at")
        return cls(
            category=data.get("category"), severity=data.get("severity"), assets=tuple(data.get("assets") or ()),
            happened_at=datetime.fromisoformat(when) if when else None, email=data.get("email"), name=data.get("name"),
        )


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
    # The free-text answers are masked before they are stored with the chat's start.
    masked_assets = [mask_secrets(a) for a in clean_assets]
    masked_name = mask_secrets(clean_name) if clean_name is not None else None
    clean_assets = tuple(m.text for m in masked_assets)
    clean_name = masked_name.text if masked_name is not None else None
    found = {k for m in [*masked_assets, masked_name] if m is not None for k in m.kinds}
    masked = tuple(k for k in KINDS if k in found)
    clean_category = None
    if category is not None:
        async with svc.reads() as db:
            desk = await load_desk(db, svc.settings)
        clean_category = fields.category(desk, category, staff=False)
        clean_severity = fields.default_severity(desk, clean_category, clean_severity)
    return Prechat(clean_category, clean_severity, clean_assets, when, clean_email, clean_name, masked)


async def apply_committed(work: Work) -> None:
    """For the unit that has just created a chat's row: apply the answers committed with
    the chat's start (its first event, ``conversation.created``), if any."""
    data = await work.db.scalar(
        select(Event.data).where(Event.conversation_id == work.conv.id).order_by(Event.seq).limit(1)
    )
    if not data or data.get("event") != "conversation.created" or not data.get("prechat"):
        return
    answers = Prechat.from_data(data["prechat"])
    if work.conv.created_by_id is not None and not answers.empty:
        await _apply(work, answers, work.conv.created_by_id)


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
