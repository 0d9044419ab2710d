"""What is mailed to whom, derived from the committed event log (issue 15, item 3).

The planner is a sweeper job. It reads the events table after its cursor, and for each
event that means mail (a support reply, a status change, an assignment, an SLA warning …)
queues one outbox row per recipient through :func:`chat.mail.queue.queue_mail`, keyed by
the event's id — so a planner that crashes, or two that race, queue each mail once. The
chat's hot path pays nothing: no reaction runs after a message, the planner reads later.

Commit order is not id order on PostgreSQL (a transaction may take an id, then commit
after a later one). There the cursor only moves past events older than :data:`SETTLE`;
newer ones are planned now and looked at again next pass, which the idempotency keys
make harmless. SQLite has one writer, which holds its lock from its first insert to its
commit, so an id is never seen before a lower one: the cursor passes whatever was read.

Some mails are *held* and looked at again when due (:func:`release_held`): a digest of
support replies (sent only if the customer has not read them in the chat meanwhile), a
"new ticket nobody is assigned to" (sent only if still unassigned), "the customer replied"
(sent only if nobody answered meanwhile).

Never mailed: internal notes and hidden comments (nor their attachments); anything to a
disabled user or a suppressed address (the queue's gate); a copy to the person who did it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.mail import links
from chat.mail.kinds import MailKind
from chat.mail.models import MailCursor, MailStatus, OutboxMail
from chat.mail.queue import queue_mail, render
from chat.models import STAFF_ROLES, Conversation, Event, Participant, Role, User
from chat.people import display_name
from chat.services import Services
from chat.tokens import Purpose
from escalation.lifecycle import TicketStatus
from escalation.models import CustomerPresence, SupportGroup, Ticket, TicketRating

log = logging.getLogger("chat.mail.planner")

CURSOR = "events"
# Longer than any write transaction we run takes from its first insert to its commit.
SETTLE = timedelta(seconds=10)
# A scan reads ~15 µs of CPU per event; each conversation in a batch costs one short
# transaction, so larger batches keep a burst of chat cheap to plan.
BATCH = 2000
# A rule or the round-robin assigns a new ticket within a sweep or two; an admin is told
# only about tickets still unassigned after this.
UNASSIGNED_GRACE = timedelta(minutes=2)
# A digest quotes the most recent replies; the rest are a click away in the ticket.
MAX_QUOTED = 10

_OPEN = {TicketStatus.NEW, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER}
_STAFF_EVENTS = {"ticket.assigned", "ticket.transferred", "ticket.sla_warning", "ticket.sla_breached",
                 "ticket.escalated"}
_CUSTOMER_EVENTS = {"ticket.opened", "ticket.status_changed"}


async def plan_job(svc: Services, now: datetime) -> int:
    """The sweeper job ``mail.plan``: release or cancel held mails that are due, then plan
    mails for new events. Returns how many rows it queued, released or cancelled."""
    done = await release_held(svc, now)
    while True:
        planned, more = await plan_batch(svc, now)
        done += planned
        if not more:
            return done


async def plan_batch(svc: Services, now: datetime) -> tuple[int, bool]:
    """One batch of events after the cursor. Returns (mails queued, whether the cursor
    moved past a full batch, i.e. there may be more)."""
    async with svc.reads() as db:
        cursor = await db.get(MailCursor, CURSOR)
    after = cursor.last_event_id if cursor is not None else await _start(svc)
    async with svc.reads() as db:
        # Only what decides whether an event can mean mail: no bodies, no ticket rows
        # (their JSON columns cost more to decode than the whole decision). Events of
        # conversations without a ticket (group chats) never mail; the outer join keeps
        # them so that the cursor passes them too.
        rows = [_Seen(*row) for row in (await db.execute(
            select(Event.id, Event.conversation_id, Event.seq, Event.type, Event.internal, Event.created_at,
                   Event.author_id, Event.data["event"].as_string(), User.role, Ticket.tracked, Ticket.assignee_id)
            .outerjoin(Ticket, Ticket.conversation_id == Event.conversation_id)
            .outerjoin(User, User.id == Event.author_id)
            .where(Event.id > after)
            .order_by(Event.id)
            .limit(BATCH)
        )).all()]
    queued = 0
    # One transaction per conversation: a burst of replies in it is one digest update,
    # not one per message (the planner must keep up with the chat, not trail it).
    for items in _by_conversation([seen for seen in rows if _relevant(seen)]):
        try:
            async with svc.sessions.begin() as db:
                queued += await plan_conversation(db, svc, items, now)
        except Exception:
            # One bad conversation must not hold up mail for everyone after it; it is
            # logged with its events for an operator, and the cursor passes them.
            log.exception("planning mail for events %s failed", [seen.id for seen in items])
    new_cursor = after
    settle = timedelta(0) if svc.settings.is_sqlite else SETTLE
    for seen in rows:
        if seen.created_at > now - settle:
            break  # not settled: an earlier id may still commit; look again next pass
        new_cursor = seen.id
    if new_cursor != after:
        async with svc.sessions.begin() as db:
            row = await db.get(MailCursor, CURSOR)
            if row is None:
                db.add(MailCursor(name=CURSOR, last_event_id=new_cursor, updated_at=now))
            elif new_cursor > row.last_event_id:
                row.last_event_id, row.updated_at = new_cursor, now
    return queued, len(rows) == BATCH and new_cursor != after


async def plan_backlog(svc: Services, now: datetime) -> datetime | None:
    """When the oldest event the planner has not read yet was stored, or None (``mail.plan``'s
    lag; an ``escalation.worker.Backlog``). One step of the events' primary key."""
    async with svc.reads() as db:
        cursor = await db.get(MailCursor, CURSOR)
        after = cursor.last_event_id if cursor is not None else 0
        created: datetime | None = await db.scalar(
            select(Event.created_at).where(Event.id > after).order_by(Event.id).limit(1))
    return created


async def _start(svc: Services) -> int:
    """A cursor row is made by the migration (at the end of the log then); one that is
    missing (deleted by hand) starts from the beginning rather than skip anything."""
    async with svc.sessions.begin() as db:
        row = await db.get(MailCursor, CURSOR)
        if row is None:
            db.add(MailCursor(name=CURSOR, last_event_id=0, updated_at=svc.clock.now()))
            return 0
        return row.last_event_id


@dataclass(frozen=True)
class _Seen:
    """An event as the planner's scan reads it."""

    id: int
    conversation_id: int
    seq: int
    type: str
    internal: bool
    created_at: datetime
    author_id: int | None
    name: str | None  # a system event's data.event
    role: Role | None  # its author's
    tracked: bool | None  # None: the conversation has no ticket
    assignee_id: int | None

    @property
    def by_support(self) -> bool:
        return self.role in STAFF_ROLES or self.role is Role.RESELLER_ADMIN


def _customer_name(user: User | None, contact_name: str | None) -> str:
    """A ticket's customer as the staff mails name them: as every screen does
    (:func:`chat.people.display_name`); an offline form's contact without an account, by
    the name they gave."""
    if user is not None:
        return display_name(user.id, user.name)
    return contact_name or ""


def _relevant(seen: _Seen) -> bool:
    if seen.tracked is None:
        return False
    if seen.type == "message":
        if seen.internal or not seen.tracked:
            return False
        # A customer's message mails only an assignee (a live chat's is read live).
        return seen.by_support or seen.assignee_id is not None
    if seen.type != "system":
        return False  # a note is internal: never mailed
    return seen.name in _STAFF_EVENTS or (seen.name in _CUSTOMER_EVENTS and not seen.internal)


def _by_conversation(items: list[_Seen]) -> list[list[_Seen]]:
    groups: dict[int, list[_Seen]] = {}
    for seen in items:
        groups.setdefault(seen.conversation_id, []).append(seen)
    return list(groups.values())


async def plan_conversation(db: AsyncSession, svc: Services, items: list[_Seen], now: datetime) -> int:
    """Queue the mails that committed events of one conversation mean, in ``db``'s
    transaction: each system event on its own, the support replies together, the
    customer's messages together."""
    ticket = await db.get(Ticket, items[0].conversation_id)
    conv = await db.get(Conversation, items[0].conversation_id)
    if ticket is None or conv is None:
        return 0
    replies = [e for e in items if e.type == "message" and e.by_support]
    written = [e for e in items if e.type == "message" and not e.by_support]
    # Whole rows only of what a decision reads: system events, and the messages a
    # digest may quote (the last few of each side).
    wanted = [e.id for e in items if e.type == "system"] + [e.id for e in replies[-MAX_QUOTED:] + written[-MAX_QUOTED:]]
    rows = {e.id: e for e in await db.scalars(select(Event).where(Event.id.in_(wanted)))}
    done = 0
    for seen in items:
        event = rows.get(seen.id) if seen.type == "system" else None
        handler = _HANDLERS.get(str(seen.name)) if event is not None else None
        if event is not None and handler is not None:
            done += await handler(_Plan(db, svc, event, ticket, conv, now))
    if replies:
        done += await _Plan(db, svc, rows[replies[-1].id], ticket, conv, now).support_replies(replies, rows)
    if written:
        done += await _Plan(db, svc, rows[written[-1].id], ticket, conv, now).customer_replied(written, rows)
    return done


class _Plan:
    """The facts about one event that every decision reads."""

    def __init__(self, db: AsyncSession, svc: Services, event: Event, ticket: Ticket, conv: Conversation,
                 now: datetime) -> None:
        self.db, self.svc, self.event, self.ticket, self.conv, self.now = db, svc, event, ticket, conv, now
        actor = (event.data or {}).get("actor") or {}
        self.actor_id: int | None = event.author_id or (actor.get("id") if isinstance(actor, dict) else None)

    # -- whom --------------------------------------------------------------------------

    async def customers(self) -> list[tuple[User, str]]:
        """The requester (at their address, or the contact address the offline form or the
        pre-chat form left) and the CC people — never the person who did the thing."""
        found: list[tuple[User, str]] = []
        t = self.ticket
        if t.requester_id is not None:
            requester = await self.db.get(User, t.requester_id)
            if requester is not None:
                address = requester.email or t.contact_email
                if address:
                    found.append((requester, address))
        for user_id in t.cc or []:
            user = await self.db.get(User, user_id)
            if user is not None and user.email:
                found.append((user, user.email))
        return [(u, a) for u, a in found if u.id != self.actor_id]

    async def staff(self, ids: Sequence[int | None]) -> list[User]:
        users = []
        for user_id in dict.fromkeys(i for i in ids if i is not None):
            user = await self.db.get(User, user_id)
            if user is not None and user.id != self.actor_id and user.role in STAFF_ROLES | {Role.RESELLER_ADMIN}:
                users.append(user)
        return users

    async def admins(self) -> list[User]:
        return list(await self.db.scalars(
            select(User).where(User.role == Role.SUPPORT_ADMIN, User.disabled.is_(False)).order_by(User.id)))

    async def connected(self, user_id: int) -> bool:
        """Whether the customer has a socket in this conversation on any web process."""
        return await self.db.scalar(select(func.count()).select_from(CustomerPresence).where(
            CustomerPresence.conversation_id == self.conv.id, CustomerPresence.user_id == user_id)) != 0

    # -- what --------------------------------------------------------------------------

    def ticket_context(self, user: User) -> dict[str, Any]:
        """The ticket as a mail shows it, with a link where its reader can open it: staff
        in the console, registered customers in the customer area; a widget visitor has no
        login, so no link (they answer by replying to the mail)."""
        base = self.svc.settings.public_url.rstrip("/")
        ticket: dict[str, Any] = {"number": self.conv.id, "subject": self.conv.subject or ""}
        if user.role in STAFF_ROLES:
            ticket["url"] = f"{base}/console/#{self.conv.id}"
        elif user.role in (Role.CUSTOMER, Role.RESELLER_ADMIN):
            ticket["url"] = f"{base}/portal/"
        return {"ticket": ticket}

    def key(self, kind: MailKind, user: User) -> str:
        return f"ev:{self.event.id}:{kind.value}:u{user.id}"

    async def mail(self, kind: MailKind, user: User, address: str | None = None, *,
                   extra: dict[str, Any] | None = None, held_until: datetime | None = None,
                   sender_name: str | None = None) -> int:
        row = await queue_mail(
            self.db, self.svc, key=self.key(kind, user), kind=kind, user=user, address=address,
            context={**self.ticket_context(user), **(extra or {})}, now=self.now, ticket=self.conv.id,
            conversation_id=self.conv.id, sender_name=sender_name, due_at=held_until,
            held=held_until is not None,
        )
        return 0 if row is None else 1

    def quoted(self, event: Event, author: User | None) -> dict[str, Any]:
        files = [
            {"name": str(a.get("filename") or "file"),
             "url": links.link(self.svc.tokens, self.svc.settings.public_url, Purpose.MAIL_ATTACHMENT, {"a": a["id"]})}
            for a in (event.data or {}).get("attachments") or [] if isinstance(a, dict) and "id" in a
        ]
        return {"author": author.name if author is not None else "", "body": event.body or "",
                "at": event.created_at.isoformat(), "attachments": files, "seq": event.seq, "event_id": event.id}

    # -- decisions ---------------------------------------------------------------------

    async def authors(self, events: Sequence[_Seen | Event]) -> dict[int, User]:
        ids = {e.author_id for e in events if e.author_id is not None}
        return {u.id: u for u in await self.db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}

    async def support_replies(self, events: list[_Seen], rows: dict[int, Event]) -> int:
        """Public replies by support: to each customer not in the chat right now; replies
        within the digest window are one mail (the first opens it, later ones join)."""
        authors = await self.authors(events)
        done = 0
        for user, address in await self.customers():
            if await self.connected(user.id):
                continue
            done += await self._digest(MailKind.SUPPORT_REPLY, user, address, events, rows, authors)
        return done

    async def customer_replied(self, events: list[_Seen], rows: dict[int, Event]) -> int:
        """The customer wrote on a ticket that has an assignee: told if nobody answers
        within the digest window (an agent in the console answers sooner than a mail)."""
        t = self.ticket
        authors = await self.authors(events)
        own = [e for e in events if e.author_id != t.assignee_id]
        done = 0
        for user in await self.staff([t.assignee_id]):
            done += await self._digest(MailKind.CUSTOMER_REPLIED, user, None, own, rows, authors)
        return done

    async def _digest(self, kind: MailKind, user: User, address: str | None, events: list[_Seen],
                      rows: dict[int, Event], authors: dict[int, User]) -> int:
        """Messages into ``user``'s held digest of ``kind`` for this conversation: joined to
        the one waiting, or a new one due a digest window after the first. A message
        already in a digest (an event planned again) is not added twice."""
        digests = list(await self.db.scalars(select(OutboxMail).where(
            OutboxMail.conversation_id == self.conv.id, OutboxMail.to_user_id == user.id, OutboxMail.kind == kind.value,
        ).order_by(OutboxMail.id.desc()).limit(20)))
        # Events of one conversation are planned in id order, so a digest covers every
        # event up to its "upto" (on PostgreSQL a message committed late with a lower id
        # than one already quoted is left out of the digest: the mail still goes).
        upto = max((int((row.context or {}).get("upto") or 0) for row in digests), default=0)
        fresh = [e for e in events if e.id > upto]
        if not fresh:
            return 0
        quoted = [self.quoted(rows[e.id], authors.get(e.author_id or 0)) for e in fresh[-MAX_QUOTED:]]
        progress = {"after_seq": fresh[-1].seq, "upto": fresh[-1].id}
        held = next((row for row in digests if row.status is MailStatus.HELD), None)
        if held is not None:
            # Rendered again only when released (release_held): a burst of fifty replies
            # costs fifty small updates and one composition, not fifty.
            held.context = {**held.context, **progress, "stale": True,
                            "messages": [*held.context.get("messages", []), *quoted][-MAX_QUOTED:],
                            "count": int(held.context.get("count") or 0) + len(fresh)}
            held.updated_at = self.now
            return 1
        window = timedelta(seconds=self.svc.settings.mail_digest_seconds)
        author = authors.get(fresh[0].author_id or 0)
        return await self.mail(kind, user, address, held_until=fresh[0].created_at + window,
                               sender_name=author.name if author is not None and kind is MailKind.SUPPORT_REPLY else None,
                               extra={"messages": quoted, "count": len(fresh), **progress})

    async def opened(self) -> int:
        data = self.event.data
        offline = data.get("channel") == "widget_offline"
        kind = MailKind.OFFLINE_RECEIVED if offline else MailKind.TICKET_OPENED
        first = await self.db.scalar(select(Event.body).where(
            Event.conversation_id == self.conv.id, Event.type == "message", Event.internal.is_(False),
        ).order_by(Event.seq).limit(1))
        done = 0
        # The requester is told even when they opened it themselves: the confirmation
        # carries the number to quote (BX), it is no copy of their own words.
        self.actor_id = None if self.ticket.requester_id == self.actor_id else self.actor_id
        for user, address in await self.customers():
            extra = {"message": first or ""} if offline else {"first_message": first}
            done += await self.mail(kind, user, address, extra=extra)
        if self.ticket.assignee_id is None:
            customer = await self.db.get(User, self.ticket.requester_id) if self.ticket.requester_id else None
            name = _customer_name(customer, self.ticket.contact_name)
            for admin in await self.admins():
                done += await self.mail(MailKind.UNASSIGNED_TICKET, admin, extra={"customer": name},
                                        held_until=self.event.created_at + UNASSIGNED_GRACE)
        return done

    async def status_changed(self) -> int:
        data = self.event.data
        before, after = data.get("from"), data.get("to")
        if after == TicketStatus.PROPOSED_TO_CLOSE.value:
            closes = self.ticket.auto_close_at
            return await self._to_customers(MailKind.CLOSE_PROPOSED, {
                "closes_at": closes.isoformat() if closes is not None else None, "message": None})
        if after == TicketStatus.CLOSED.value:
            return await self._closed()
        if before in (TicketStatus.CLOSED.value, TicketStatus.PROPOSED_TO_CLOSE.value) and after in {
                s.value for s in _OPEN}:
            return await self._to_customers(MailKind.TICKET_REOPENED, {})
        return 0

    async def _to_customers(self, kind: MailKind, extra: dict[str, Any]) -> int:
        return sum([await self.mail(kind, user, address, extra=extra)
                    for user, address in await self.customers()])

    async def _closed(self) -> int:
        t = self.ticket
        rated = await self.db.scalar(select(TicketRating.id).where(
            TicketRating.conversation_id == t.conversation_id, TicketRating.round == t.resolution_round))
        done = 0
        for user, address in await self.customers():
            rating = None
            if user.id == t.requester_id and rated is None:
                # Three links, each its own single-use token: a vote counts once.
                rating = {choice: links.link(
                    self.svc.tokens, self.svc.settings.public_url, Purpose.MAIL_RATING,
                    {"t": t.conversation_id, "r": t.resolution_round, "u": user.id, "c": choice}, single_use=True,
                ) for choice in ("good", "none", "bad")}
            done += await self.mail(MailKind.TICKET_CLOSED, user, address, extra={"rating": rating})
        return done

    async def assigned(self) -> int:
        assignee = (self.event.data.get("assignee") or {}).get("id")
        requester = await self.db.get(User, self.ticket.requester_id) if self.ticket.requester_id else None
        actor = (self.event.data.get("actor") or {}).get("name")
        return sum([await self.mail(MailKind.TICKET_ASSIGNED, user, extra={
            "customer": _customer_name(requester, self.ticket.contact_name),
            "assigned_by": actor}) for user in await self.staff([assignee])])

    async def transferred(self) -> int:
        key = self.event.data.get("group")
        group = await self.db.get(SupportGroup, key) if isinstance(key, str) else None
        if group is None:
            return 0
        # A group's members are not stored: its lead speaks for it (and assigns).
        return sum([await self.mail(MailKind.GROUP_TRANSFER, user, extra={
            "group": group.name, "reason": self.event.data.get("note") or self.event.data.get("reason")})
            for user in await self.staff([group.lead_id])])

    async def sla(self) -> int:
        data = self.event.data
        warning = data.get("event") == "ticket.sla_warning"
        kind = MailKind.SLA_WARNING if warning else MailKind.SLA_BREACH
        extra = {"target": data.get("target"), "due_at" if warning else "breached_at": data.get("due_at")}
        users = await self.staff([self.ticket.assignee_id])
        if not users and self.ticket.group_key is not None:
            group = await self.db.get(SupportGroup, self.ticket.group_key)
            users = await self.staff([group.lead_id if group is not None else None])
        if not users:
            users = [u for u in await self.admins() if u.id != self.actor_id]
        return sum([await self.mail(kind, user, extra=extra) for user in users])

    async def escalated(self) -> int:
        data = self.event.data
        extra = {"step": data.get("step"), "action": data.get("action"), "target": data.get("target"),
                 "breached_at": data.get("breached_at")}
        return sum([await self.mail(MailKind.ESCALATION, user, extra=extra)
                    for user in await self.staff(list(data.get("notify") or []))])


_HANDLERS = {
    "ticket.opened": _Plan.opened,
    "ticket.status_changed": _Plan.status_changed,
    "ticket.assigned": _Plan.assigned,
    "ticket.transferred": _Plan.transferred,
    "ticket.sla_warning": _Plan.sla,
    "ticket.sla_breached": _Plan.sla,
    "ticket.escalated": _Plan.escalated,
}


async def release_held(svc: Services, now: datetime) -> int:
    """Held mails that are due: released to the sender when still wanted, else cancelled."""
    async with svc.sessions.begin() as db:
        held = list(await db.scalars(select(OutboxMail).where(
            OutboxMail.status == MailStatus.HELD, OutboxMail.due_at <= now).order_by(OutboxMail.id).limit(BATCH)))
        for mail in held:
            wanted = await _still_wanted(db, svc, mail)
            if wanted and mail.context.get("stale"):
                await _render_again(db, svc, mail, now)
            mail.status = MailStatus.PENDING if wanted else MailStatus.CANCELLED
            mail.last_error = None if wanted else "no longer needed when due"
            mail.updated_at = now
        return len(held)


async def _render_again(db: AsyncSession, svc: Services, mail: OutboxMail, now: datetime) -> None:
    """A digest that grew while held, composed once more with every message it quotes.
    It was never sent, so its new Message-ID is as good as the old one."""
    user = await db.get(User, mail.to_user_id) if mail.to_user_id is not None else None
    context = {k: v for k, v in mail.context.items() if k != "stale"}
    composed = render(svc, MailKind(mail.kind), user, mail.to_addr, context, now=now,
                      ticket=context.get("ticket_number"), sender_name=context.get("sender_name"))
    mail.context, mail.raw, mail.subject, mail.message_id = context, composed.raw, composed.subject, composed.message_id


async def _still_wanted(db: AsyncSession, svc: Services, mail: OutboxMail) -> bool:
    conv_id, user_id = mail.conversation_id, mail.to_user_id
    if conv_id is None:
        return True
    ticket = await db.get(Ticket, conv_id)
    if mail.kind == MailKind.UNASSIGNED_TICKET.value:
        return ticket is not None and ticket.assignee_id is None and ticket.status is not TicketStatus.CLOSED
    if mail.kind == MailKind.SUPPORT_REPLY.value and user_id is not None:
        last = max((int(m.get("seq") or 0) for m in mail.context.get("messages", [])), default=0)
        read = await db.scalar(select(Participant.last_read_seq).where(
            Participant.conversation_id == conv_id, Participant.user_id == user_id))
        here = await db.scalar(select(func.count()).select_from(CustomerPresence).where(
            CustomerPresence.conversation_id == conv_id, CustomerPresence.user_id == user_id))
        # Read in the chat, or there right now: the mail would only repeat what they saw.
        return (read or 0) < last and not here
    if mail.kind == MailKind.CUSTOMER_REPLIED.value:
        after = int(mail.context.get("after_seq") or 0)
        answered = await db.scalar(select(func.count()).select_from(Event).join(User, User.id == Event.author_id).where(
            Event.conversation_id == conv_id, Event.seq > after, Event.type == "message",
            Event.internal.is_(False), User.role.in_(list(STAFF_ROLES))))
        online = user_id is not None and svc.presence.agent_statuses().get(user_id) == "online"
        return not answered and not online
    return True
