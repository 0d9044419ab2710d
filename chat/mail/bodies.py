"""What each kind of mail says: one builder per kind turns the planner's context into a
:class:`Body` (heading, paragraphs, quoted messages, facts, buttons) in the recipient's
language and time zone; :mod:`chat.mail.compose` lays every body out with the same two
templates. Pure: no I/O.

Every value from the context is read defensively (:class:`Context`): a missing or
mistyped optional value is empty, never an exception — better a plain mail than none.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chat.mail import catalog
from chat.mail.kinds import KINDS, Audience, MailKind

SUBJECT_MAX = 300  # the outbox column holds 400; long subjects are cut in mail clients anyway

_SPACES = re.compile(r"\s+")


def one_line(value: object, limit: int = 200) -> str:
    """Printable text on one line: control and format characters (CR, LF, NUL, U+2028 …)
    become spaces, runs of white space one space. Every header value taken from data goes
    through here, so it can only ever be the value of its own header."""
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in str(value))
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def safe_url(value: object) -> str | None:
    """An http(s) link from the context, or ``None``: a ``javascript:`` or broken value
    never becomes a link (the HTML is escaped anyway; this keeps the scheme honest)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url.startswith(("https://", "http://")) or any(unicodedata.category(c)[0] in "CZ" for c in url):
        return None
    return url


# -- reading the context ------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    label: str
    url: str | None


@dataclass(frozen=True)
class Button:
    label: str
    url: str
    tone: str
    """CSS class: ``primary``, ``good`` (green), ``neutral`` (grey) or ``bad`` (red)."""


@dataclass(frozen=True)
class Quote:
    meta: str
    body: str
    attachments: tuple[Link, ...] = ()


@dataclass
class Body:
    """What one kind says; the templates lay it out the same way for every kind."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)


class Context:
    """The planner's context as the templates need it: missing or mistyped optional
    values become empty, never an exception; times are shown in the recipient's zone."""

    def __init__(self, data: Mapping[str, Any], language: str, zone: ZoneInfo, ticket: int | None) -> None:
        self.data = data
        self.language = language
        self.zone = zone
        raw_ticket = data.get("ticket")
        self.ticket: Mapping[str, Any] = raw_ticket if isinstance(raw_ticket, Mapping) else {}
        number = ticket if ticket is not None else self.ticket.get("number")
        self.number = str(number) if isinstance(number, int) and not isinstance(number, bool) else "—"

    def t(self, key: str, **values: object) -> str:
        return catalog.text(self.language, key, **values)

    def string(self, key: str, source: Mapping[str, Any] | None = None) -> str:
        value = (self.data if source is None else source).get(key)
        return value.strip() if isinstance(value, str) else ""

    def integer(self, key: str) -> int:
        value = self.data.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        return value if isinstance(value, Mapping) else {}

    @property
    def subject(self) -> str:
        return one_line(self.string("subject", self.ticket), SUBJECT_MAX) or self.t("untitled")

    def time(self, value: object) -> str:
        """An ISO-8601 instant in the recipient's zone and language; a value that is no
        instant is shown as given (better an odd date than no mail)."""
        if not isinstance(value, str) or not value.strip():
            return ""
        try:
            instant = datetime.fromisoformat(value.strip())
        except ValueError:
            return one_line(value)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)  # the product stores UTC
        return catalog.format_datetime(self.language, instant.astimezone(self.zone))

    def messages(self) -> list[Quote]:
        raw = self.data.get("messages")
        quotes = []
        for item in raw if isinstance(raw, list) else []:
            if isinstance(item, Mapping):
                meta = " · ".join(part for part in (self.string("author", item), self.time(item.get("at"))) if part)
                quotes.append(Quote(meta=meta, body=self.string("body", item), attachments=self.attachments(item)))
        return quotes

    def attachments(self, item: Mapping[str, Any]) -> tuple[Link, ...]:
        raw = item.get("attachments")
        files = raw if isinstance(raw, list) else []
        return tuple(
            Link(label=one_line(f.get("name") or "file"), url=safe_url(f.get("url"))) for f in files if isinstance(f, Mapping)
        )

    def target(self, key: str = "target") -> str:
        name = self.string(key)
        return self.t(f"target.{name}") if f"target.{name}" in catalog.MESSAGES[self.language] else name

    def ticket_button(self) -> list[Button]:
        url = safe_url(self.ticket.get("url"))
        return [Button(self.t("view_ticket", number=self.number), url, "primary")] if url else []


# -- one builder per kind -----------------------------------------------------------------


def _ticket_opened(c: Context) -> Body:
    body = Body(c.t("ticket_opened.subject"), [c.t("ticket_opened.body", number=c.number)])
    if first := c.string("first_message"):
        body.quotes.append(Quote(meta=c.t("your_message"), body=first))
    body.buttons = c.ticket_button()
    return body


def _support_reply(c: Context) -> Body:
    return Body(c.t("support_reply.heading", number=c.number), quotes=c.messages(), buttons=c.ticket_button())


def _close_proposed(c: Context) -> Body:
    body = Body(c.t("close_proposed.heading", number=c.number), [c.t("close_proposed.body")])
    if message := c.string("message"):
        body.quotes.append(Quote(meta="", body=message))
    if closes_at := c.time(c.data.get("closes_at")):
        body.paragraphs.append(c.t("close_proposed.closes_at", at=closes_at))
    body.buttons = c.ticket_button()
    return body


def _ticket_closed(c: Context) -> Body:
    body = Body(c.t("ticket_closed.heading", number=c.number), [c.t("ticket_closed.body")])
    rating = c.mapping("rating")
    buttons = [
        Button(c.t(f"rating.{choice}"), url, tone)
        for choice, tone in (("good", "good"), ("none", "neutral"), ("bad", "bad"))
        if (url := safe_url(rating.get(choice)))
    ]
    if buttons:
        body.paragraphs.append(c.t("ticket_closed.rate"))
        body.buttons = buttons
    return body


def _ticket_reopened(c: Context) -> Body:
    return Body(c.t("ticket_reopened.heading", number=c.number), [c.t("ticket_reopened.body")], buttons=c.ticket_button())


def _system_alert(c: Context) -> Body:
    alert = c.mapping("alert")
    body = Body(one_line(c.string("title", alert)) or c.t("system_alert.heading"))
    if organization := c.string("organization"):
        body.paragraphs.append(c.t("system_alert.intro", organization=organization))
    if text := c.string("body", alert):
        body.paragraphs.append(text)
    if url := safe_url(alert.get("url")):
        body.buttons.append(Button(c.t("system_alert.open"), url, "primary"))
    return body


def _join_decided(c: Context) -> Body:
    outcome = "approved" if c.data.get("approved") is True else "rejected"
    group = c.string("group")
    body = Body(c.t(f"join_decided.{outcome}.subject", group=group), [c.t(f"join_decided.{outcome}.body", group=group)])
    if reason := c.string("reason"):
        body.facts.append((c.t("label.reason"), reason))
    return body


def _offline_received(c: Context) -> Body:
    body = Body(c.t("offline_received.subject"), [c.t("offline_received.body")])
    if c.number != "—":
        body.paragraphs.append(c.t("offline_received.ticket", number=c.number))
    if message := c.string("message"):
        body.quotes.append(Quote(meta=c.t("your_message"), body=message))
    return body


def _ticket_assigned(c: Context) -> Body:
    body = Body(c.t("ticket_assigned.heading", number=c.number), [c.subject], buttons=c.ticket_button())
    body.facts = [(label, value) for label, value in ((c.t("label.customer"), c.string("customer")), (c.t("label.assigned_by"), c.string("assigned_by"))) if value]
    return body


def _group_transfer(c: Context) -> Body:
    body = Body(c.t("group_transfer.heading", number=c.number, group=c.string("group")), [c.subject], buttons=c.ticket_button())
    if reason := c.string("reason"):
        body.facts.append((c.t("label.reason"), reason))
    return body


def _unassigned_ticket(c: Context) -> Body:
    body = Body(c.t("unassigned_ticket.heading", number=c.number), [c.subject, c.t("unassigned_ticket.body")], buttons=c.ticket_button())
    if customer := c.string("customer"):
        body.facts.append((c.t("label.customer"), customer))
    return body


def _customer_replied(c: Context) -> Body:
    return Body(c.t("customer_replied.heading", number=c.number), [c.subject], quotes=c.messages(), buttons=c.ticket_button())


def _sla_warning(c: Context) -> Body:
    body = Body(c.t("sla_warning.heading", number=c.number, target=c.target()), [c.subject], buttons=c.ticket_button())
    if due := c.time(c.data.get("due_at")):
        body.facts.append((c.t("label.due"), due))
    return body


def _sla_breach(c: Context) -> Body:
    body = Body(c.t("sla_breach.heading", number=c.number, target=c.target()), [c.subject], buttons=c.ticket_button())
    if breached := c.time(c.data.get("breached_at")):
        body.facts.append((c.t("label.breached_at"), breached))
    return body


def _escalation(c: Context) -> Body:
    body = Body(c.t("escalation.heading", number=c.number, step=c.integer("step")), [c.subject], buttons=c.ticket_button())
    action = c.string("action")
    action_key = f"action.{action}"
    facts = (
        (c.t("label.action"), c.t(action_key) if action_key in catalog.MESSAGES[c.language] else action),
        (c.t("label.deadline"), c.target()),
        (c.t("label.breached_at"), c.time(c.data.get("breached_at"))),
    )
    body.facts = [(label, value) for label, value in facts if value]
    return body


def _password_reset(c: Context) -> Body:
    duration = catalog.quantity(c.language, c.integer("expires_minutes"), "minutes")
    body = Body(c.t("password_reset.subject"), [c.t("password_reset.body", duration=duration)], closing=[c.t("password_reset.ignore")])
    if url := safe_url(c.data.get("url")):
        body.buttons.append(Button(c.t("password_reset.button"), url, "primary"))
    return body


def _invitation(c: Context) -> Body:
    organization = c.string("organization")
    heading = c.t("invitation.subject", organization=organization) if organization else c.t("invitation.subject_plain")
    body = Body(heading)
    if invited_by := c.string("invited_by"):
        body.paragraphs.append(c.t("invitation.by", name=invited_by))
    body.paragraphs.append(c.t("invitation.body", duration=catalog.quantity(c.language, c.integer("expires_days"), "days")))
    if url := safe_url(c.data.get("url")):
        body.buttons.append(Button(c.t("invitation.button"), url, "primary"))
    return body


def _account_accessed(c: Context) -> Body:
    body = Body(c.t("account_accessed.subject"), [c.t("account_accessed.body", name=one_line(c.string("staff_name")) or "—")],
                closing=[c.t("account_accessed.closing")])
    facts = (
        (c.t("label.reason"), one_line(c.string("reason"), 500)),
        (c.t("account_accessed.from"), c.time(c.data.get("started_at"))),
        (c.t("account_accessed.until"), c.time(c.data.get("ended_at"))),
    )
    body.facts = [(label, value) for label, value in facts if value]
    return body


BODIES: Mapping[MailKind, Callable[[Context], Body]] = {
    MailKind.TICKET_OPENED: _ticket_opened,
    MailKind.SUPPORT_REPLY: _support_reply,
    MailKind.CLOSE_PROPOSED: _close_proposed,
    MailKind.TICKET_CLOSED: _ticket_closed,
    MailKind.TICKET_REOPENED: _ticket_reopened,
    MailKind.SYSTEM_ALERT: _system_alert,
    MailKind.JOIN_DECIDED: _join_decided,
    MailKind.OFFLINE_RECEIVED: _offline_received,
    MailKind.TICKET_ASSIGNED: _ticket_assigned,
    MailKind.GROUP_TRANSFER: _group_transfer,
    MailKind.UNASSIGNED_TICKET: _unassigned_ticket,
    MailKind.CUSTOMER_REPLIED: _customer_replied,
    MailKind.SLA_WARNING: _sla_warning,
    MailKind.SLA_BREACH: _sla_breach,
    MailKind.ESCALATION: _escalation,
    MailKind.PASSWORD_RESET: _password_reset,
    MailKind.INVITATION: _invitation,
    MailKind.ACCOUNT_ACCESSED: _account_accessed,
}


def subject_line(c: Context, kind: MailKind, ticket: int | None, body: Body) -> str:
    """``[#123] <ticket subject>`` for the customer's ticket mails (one thread, one
    subject), ``[#123] <what happened>: <subject>`` for staff; the kind's own line
    otherwise."""
    if kind is MailKind.SYSTEM_ALERT:
        line = c.t("system_alert.subject", title=c.string("title", c.mapping("alert")))
    elif kind in (MailKind.JOIN_DECIDED, MailKind.INVITATION):
        line = body.heading
    elif KINDS[kind].audience is Audience.STAFF:
        line = c.t(f"{kind.value}.subject", subject=c.subject, group=c.string("group"), step=c.integer("step"))
    elif ticket is not None:
        line = c.subject
    else:
        line = c.t(f"{kind.value}.subject")
    line = one_line(line, SUBJECT_MAX)
    return f"[#{ticket}] {line}" if ticket is not None else line
