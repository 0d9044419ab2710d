"""Alerts for the staff a committed event concerns: the ``attention`` frame (issue 18).

The ``inbox`` doorbell tells every staff socket that *something* moved; a console cannot
tell from it whether the change is work for its person. This module decides that on the
server, from committed events, and tells only those people, on their own channels
(``user:<id>``, docs/protocol.md, ``attention``):

- ``new``: a support chat started, or a ticket was opened directly — to the platform's
  people who answer (agents and support admins), or to the partner's admins when the
  partner's own first line holds it;
- ``customer_reply``: the customer wrote in a conversation assigned to (claimed by)
  someone — to that person;
- ``assigned``: someone else (or the automatic assignment) gave me a ticket;
- ``transferred``: a ticket moved to a support group — to the group's lead and to whoever
  follows that group (``ui_prefs.groups``: support-group membership is not stored, so a
  person says which groups are theirs in "My profile"); a partner's hand-over to the
  platform without a group is for the platform's people;
- ``sla_warning``: a deadline is close — to the assignee, else to the group's people.

Nobody is alerted for their own action. Whether the console makes a sound, shows a desktop
notification or only counts is the console's choice (away, switches, the conversation
already open): the server does not know what is on the screen.

Like every doorbell it is not replayed; a console that reconnects re-reads its queues.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select

from chat.events import user_channel
from chat.hot_reads import hot_reads_of
from chat.models import ConversationKind, Role, User
from chat.services import Services
from escalation.models import SupportGroup

FRAME: Final = "attention"
# A notification shows a line or two; the console re-reads the rest over HTTP.
PREVIEW_CHARS: Final = 140
# Who answers on the platform (read-only staff look, they do not work the queues).
_WORKERS: Final = (Role.AGENT, Role.SUPPORT_ADMIN)


@dataclass(frozen=True)
class TicketFacts:
    """What the rule needs of a conversation (``ticket``: whether it has a ticket row)."""

    conversation_id: int
    subject: str
    ticket: bool
    assignee_id: int | None
    group_key: str | None
    partner_id: int | None


@dataclass(frozen=True)
class People:
    """The desk's people as the rule needs them."""

    workers: tuple[int, ...] = ()
    # group key -> the users who follow it (its lead and ``ui_prefs.groups``)
    group_people: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # partner (reseller) id -> its enabled admins
    partner_admins: Mapping[int, tuple[int, ...]] = field(default_factory=dict)


def _actor_id(event: Mapping[str, Any]) -> int | None:
    who = event.get("author") if event.get("kind") == "message" else (event.get("data") or {}).get("actor")
    if not isinstance(who, Mapping):
        return None
    user_id = who.get("id")
    return user_id if isinstance(user_id, int) else None


def _frame(facts: TicketFacts, reason: str, **extra: Any) -> dict[str, Any]:
    return {"type": FRAME, "conversation_id": facts.conversation_id, "reason": reason,
            "subject": facts.subject or None, **extra}


def _queue_people(facts: TicketFacts, people: People) -> tuple[int, ...]:
    """Whose queues a ticket is in: its partner's admins, its group's people, or everyone
    who answers on the platform."""
    if facts.partner_id is not None:
        return people.partner_admins.get(facts.partner_id, ())
    if facts.group_key is not None:
        return people.group_people.get(facts.group_key, ())
    return people.workers


def decide(event: Mapping[str, Any], facts: TicketFacts, people: People) -> list[tuple[int, dict[str, Any]]]:
    """The ``(user id, frame)`` pairs one committed event calls for; pure."""
    if not facts.ticket:
        return []
    kind, data = event.get("kind"), event.get("data") or {}
    name = data.get("event") if kind == "system" else None
    recipients: Iterable[int] = ()
    frame: dict[str, Any] | None = None
    if kind == "message" and not event.get("internal"):
        author = event.get("author") or {}
        if author.get("role") in (Role.CUSTOMER.value, Role.VISITOR.value) and facts.assignee_id is not None:
            body = event.get("body") or ""
            frame = _frame(facts, "customer_reply", author=author.get("name"), preview=body[:PREVIEW_CHARS] or None)
            recipients = (facts.assignee_id,)
    elif _is_new(event):
        # Already given to someone (the automatic assignment ran first): they hear "assigned".
        frame = _frame(facts, "new")
        recipients = [u for u in _queue_people(facts, people) if u != facts.assignee_id]
    elif name == "ticket.assigned" and not data.get("claimed") and not data.get("released"):
        assignee = (data.get("assignee") or {}).get("id")
        if isinstance(assignee, int):
            frame, recipients = _frame(facts, "assigned"), (assignee,)
    elif name == "ticket.transferred":
        group = data.get("group")
        if isinstance(group, str):
            frame, recipients = _frame(facts, "transferred", group=group), people.group_people.get(group, ())
        elif data.get("to_platform"):
            frame, recipients = _frame(facts, "transferred", group=None), people.workers
    elif name == "ticket.sla_warning":
        frame = _frame(facts, "sla_warning", target=data.get("target"))
        if facts.assignee_id is not None:
            recipients = (facts.assignee_id,)
        elif facts.group_key is not None or facts.partner_id is not None:
            recipients = _queue_people(facts, people)
    if frame is None:
        return []
    actor = _actor_id(event)
    return [(user_id, frame) for user_id in dict.fromkeys(recipients) if user_id != actor]


def _is_new(event: Mapping[str, Any]) -> bool:
    data = event.get("data") or {}
    name = data.get("event") if event.get("kind") == "system" else None
    return name == "conversation.created" or (name == "ticket.opened" and data.get("reason") == "opened")


def _concerns_people(event: Mapping[str, Any]) -> bool:
    """Whether :func:`decide` may need :class:`People` (a customer's reply does not)."""
    return event.get("kind") == "system"


def _candidates(event: Mapping[str, Any]) -> bool:
    kind, data = event.get("kind"), event.get("data") or {}
    if kind == "message":
        return not event.get("internal") and (event.get("author") or {}).get("role") in (
            Role.CUSTOMER.value, Role.VISITOR.value)
    return kind == "system" and data.get("event") in (
        "conversation.created", "ticket.opened", "ticket.assigned", "ticket.transferred", "ticket.sla_warning")


# One indexed row per conversation, read after every batch with a customer's message: the
# plain-SQL hot read (chat.hot_reads), not an ORM session (~0.3 ms of CPU each).
_FACTS = (
    "SELECT c.kind, c.subject, t.conversation_id, t.assignee_id, t.group_key, t.handled_by_org_id"
    " FROM conversations c LEFT JOIN tickets t ON t.conversation_id = c.id WHERE c.id = :id"
)


async def _facts(svc: Services, ids: set[int]) -> dict[int, TicketFacts]:
    reads = hot_reads_of(svc)
    found: dict[int, TicketFacts] = {}
    for cid in sorted(ids):
        for kind, subject, tid, assignee, group, partner in await reads.rows(_FACTS, {"id": cid}):
            is_chat = str(kind) == ConversationKind.CHAT.value
            found[cid] = TicketFacts(cid, subject or "", is_chat and tid is not None, assignee, group, partner)
    return found


async def _people(svc: Services, partners: set[int]) -> People:
    """Every enabled worker and the groups they follow (tens of rows: read per batch of
    system events, which come once per chat or ticket change, not per message)."""
    async with svc.reads() as db:
        staff = (await db.execute(
            select(User.id, User.role, User.ui_prefs, User.organization_id)
            .where(User.disabled.is_(False), User.role.in_([*_WORKERS, Role.RESELLER_ADMIN]))
            .order_by(User.id)
        )).all()
        leads = (await db.execute(select(SupportGroup.key, SupportGroup.lead_id))).all()
    groups: dict[str, list[int]] = {key: [lead] for key, lead in leads if lead is not None}
    workers: list[int] = []
    admins: dict[int, list[int]] = {}
    for user_id, role, prefs, org_id in staff:
        if role is Role.RESELLER_ADMIN:
            if org_id in partners:
                admins.setdefault(org_id, []).append(user_id)
            continue
        workers.append(user_id)
        followed = (prefs or {}).get("groups") or ()
        for key in followed:
            groups.setdefault(key, []).append(user_id)
    return People(tuple(workers), {k: tuple(v) for k, v in groups.items()}, {k: tuple(v) for k, v in admins.items()})


async def alert_staff(svc: Services, events: Sequence[Mapping[str, Any]]) -> int:
    """Publish the ``attention`` frames that committed ``events`` call for; how many.
    Called after the commit and the events' own publication."""
    wanted = [e for e in events if _candidates(e)]
    if not wanted:
        return 0
    facts = await _facts(svc, {int(e["conversation_id"]) for e in wanted})
    people = People()
    if any(_concerns_people(e) for e in wanted):
        partners = {f.partner_id for f in facts.values() if f.partner_id is not None}
        people = await _people(svc, partners)
    # A conversation's opening message comes with its creation: "new" says it all.
    opened = {int(e["conversation_id"]) for e in wanted if _is_new(e)}
    sent = 0
    for event in wanted:
        known = facts.get(int(event["conversation_id"]))
        if known is None or (event.get("kind") == "message" and known.conversation_id in opened):
            continue
        for user_id, frame in decide(event, known, people):
            await svc.publish(user_channel(user_id), frame)
            sent += 1
    return sent


async def on_events(svc: Services, _actor: Any, events: list[dict[str, Any]]) -> None:
    """The after-commit reaction (chat.wiring): chats' and messages' events."""
    await alert_staff(svc, events)
