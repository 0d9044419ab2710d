"""Composing one mail: the words of its kind in the recipient's language and time zone,
rendered as text and HTML, wrapped in a standards-abiding message. No I/O.

:func:`compose` is the one entry point: the planner gives it a kind, a recipient and the
context it gathered (JSON values, datetimes as ISO-8601 strings), and gets the finished
bytes for the outbox. Headers are set through :class:`email.message.EmailMessage` only,
and every header value taken from data is first cut to one line of printable text, so no
name, subject or address can add a header (issue 15, item 7).

Threading: every mail of a ticket names a virtual root message, ``<t{n}.{sig}@domain>``
(:func:`thread_root`), in ``In-Reply-To`` and ``References``, so mail clients group them;
each mail's own ``Message-ID`` starts with the same signed token, and
:func:`ticket_of_message_id` recovers the ticket from any of them for the e-mail intake,
refusing an id that we did not sign.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import parseaddr
from functools import cache, cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import css_inline
import jinja2
from markupsafe import Markup, escape

from chat.mail import catalog
from chat.mail.kinds import KINDS, Audience, MailKind
from chat.settings import Settings

REPLY_MARKER = "##- Please type your reply above this line -##"
"""The line the e-mail intake cuts a reply at. Fixed ASCII in every language: the
translated lead-in follows it on the next line."""



class _Headers(HeaderRegistry):
    """The stdlib's header registry, remembering the classes it makes: the stock one
    builds a new class on every lookup (a quarter of a mail's composing time, measured)."""

    @cache  # noqa: B019 - one module-level instance, a handful of header names
    def __getitem__(self, name: str) -> type[BaseHeader]:
        return super().__getitem__(name)


# SMTP's policy writes CRLF line ends. cte_type="7bit" makes set_content pick
# quoted-printable or base64 for non-ASCII bodies: a relay without 8BITMIME still takes them.
_POLICY = policy.SMTP.clone(cte_type="7bit", header_factory=_Headers())

# Customer-facing ticket mails the customer may answer by e-mail: they carry the marker.
_REPLYABLE = frozenset({
    MailKind.TICKET_OPENED,
    MailKind.SUPPORT_REPLY,
    MailKind.CLOSE_PROPOSED,
    MailKind.TICKET_CLOSED,
    MailKind.TICKET_REOPENED,
    MailKind.OFFLINE_RECEIVED,
})

# The largest ticket number storage holds (BigInteger); a longer number in a Message-ID
# is not ours.
_MAX_TICKET = 2**63 - 1
# 64 bits of HMAC: forging one token takes ~2^63 guesses, each a mail to our intake.
_SIG_HEX = 16
_SUBJECT_MAX = 300  # the outbox column holds 400; long subjects are cut in mail clients anyway


class InvalidAddress(ValueError):
    """A recipient address the mail cannot carry (not one ``user@domain``, or with spaces
    or control characters). Addresses are checked where they are entered (422); this is
    the last guard, never a mangled header."""


@dataclass(frozen=True)
class MailIdentity:
    """Who our mails come from, and the key that signs their thread tokens."""

    mail_from: str
    """``"Support <support@acme.test>"`` (``MAIL_FROM``)."""
    reply_to: str | None
    """``MAIL_REPLY_TO``; ``None``: replies go to ``MAIL_FROM``'s address."""
    public_url: str
    secret: bytes
    """HMAC key of the thread tokens."""

    @classmethod
    def of(cls, settings: Settings) -> MailIdentity:
        # Derived, not the key itself: a thread token must never be usable as a session
        # signature or the other way round. The newest key signs; after a rotation, older
        # mails' tokens stop verifying and the intake treats their replies as new mail.
        secret = hmac.new(settings.secret_keys[-1].encode(), b"supportchat.mail.thread", hashlib.sha256).digest()
        return cls(mail_from=settings.mail_from, reply_to=settings.mail_reply_to, public_url=settings.public_url, secret=secret)

    @cached_property
    def _parsed(self) -> tuple[str, str]:
        name, address = parseaddr(self.mail_from)
        return _one_line(name), address

    @property
    def display_name(self) -> str:
        """``MAIL_FROM``'s display name (may be empty)."""
        return self._parsed[0]

    @property
    def address(self) -> str:
        """``MAIL_FROM``'s bare address: the envelope sender."""
        return self._parsed[1]

    @property
    def domain(self) -> str:
        """``MAIL_FROM``'s domain: it names our Message-IDs."""
        return self.address.rpartition("@")[2].lower()


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str
    language: str
    """Any tag; matched to one we write in (:func:`chat.mail.catalog.language_of`)."""
    time_zone: str
    """An IANA name; an unknown one means UTC."""


@dataclass(frozen=True)
class Composed:
    message_id: str
    """``"<...@domain>"``, angle brackets included."""
    subject: str
    raw: bytes
    """The whole message with CRLF line ends, ready for SMTP ``DATA``."""


# -- thread tokens ------------------------------------------------------------------------


def _signature(secret: bytes, digits: str) -> str:
    return hmac.new(secret, b"ticket:" + digits.encode(), hashlib.sha256).hexdigest()[:_SIG_HEX]


def thread_token(secret: bytes, ticket: int) -> str:
    """``"t{ticket}.{sig}"``: names a ticket, signed so that nobody can make one up."""
    if not 0 < ticket <= _MAX_TICKET:
        raise ValueError(f"no ticket has the number {ticket}")
    return f"t{ticket}.{_signature(secret, str(ticket))}"


def thread_root(identity: MailIdentity, ticket: int) -> str:
    """``"<t{ticket}.{sig}@{domain}>"``: the message every mail of the ticket answers. It
    is never sent itself; mail clients thread on the shared reference."""
    return f"<{thread_token(identity.secret, ticket)}@{identity.domain}>"


_TOKEN = re.compile(r"t([1-9][0-9]{0,18})\.([0-9a-f]{16})(?:\.[A-Za-z0-9_-]+)?")


def ticket_of_message_id(secret: bytes, message_id: str) -> int | None:
    """The ticket a ``Message-ID`` (or an ``In-Reply-To``/``References`` entry) of ours
    names; ``None`` for anyone else's id, a forged or altered token, or plain garbage."""
    value = message_id.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    local, at, _domain = value.rpartition("@")
    match = _TOKEN.fullmatch(local) if at else None
    if match is None:
        return None
    digits, sig = match.groups()
    number = int(digits)
    if number > _MAX_TICKET or not hmac.compare_digest(sig, _signature(secret, digits)):
        return None
    return number


def _new_message_id(identity: MailIdentity, ticket: int | None) -> str:
    # The random part makes every mail unique; with a ticket, the token leads it so the
    # intake can read the ticket from a reply's In-Reply-To alone.
    if ticket is None:
        return f"<m.{secrets.token_hex(16)}@{identity.domain}>"
    return f"<{thread_token(identity.secret, ticket)}.{secrets.token_hex(8)}@{identity.domain}>"


# -- header hygiene -----------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def _one_line(value: object, limit: int = 200) -> str:
    """Printable text on one line: control and format characters (CR, LF, NUL, U+2028 …)
    become spaces, runs of white space one space. Every header value taken from data goes
    through here, so it can only ever be the value of its own header."""
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in str(value))
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _recipient_address(to: Recipient) -> Address:
    raw = to.address.strip()
    if not raw or any(unicodedata.category(c)[0] in "CZ" for c in raw) or raw.count("@") != 1:
        raise InvalidAddress(f"not one e-mail address: {raw!r}")
    username, _, domain = raw.rpartition("@")
    if not username or not domain or not username.isascii():
        raise InvalidAddress(f"not one e-mail address: {raw!r}")
    try:
        # An internationalized domain travels as its ASCII (punycode) form.
        ascii_domain = domain.encode("idna").decode("ascii")
        return Address(display_name=_one_line(to.name), username=username, domain=ascii_domain)
    except (UnicodeError, ValueError) as exc:
        raise InvalidAddress(f"not one e-mail address: {raw!r}") from exc


def _safe_url(value: object) -> str | None:
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


class _Context:
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
        return _one_line(self.string("subject", self.ticket), _SUBJECT_MAX) or self.t("untitled")

    def time(self, value: object) -> str:
        """An ISO-8601 instant in the recipient's zone and language; a value that is no
        instant is shown as given (better an odd date than no mail)."""
        if not isinstance(value, str) or not value.strip():
            return ""
        try:
            instant = datetime.fromisoformat(value.strip())
        except ValueError:
            return _one_line(value)
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
            Link(label=_one_line(f.get("name") or "file"), url=_safe_url(f.get("url"))) for f in files if isinstance(f, Mapping)
        )

    def target(self, key: str = "target") -> str:
        name = self.string(key)
        return self.t(f"target.{name}") if f"target.{name}" in catalog.MESSAGES[self.language] else name

    def ticket_button(self) -> list[Button]:
        url = _safe_url(self.ticket.get("url"))
        return [Button(self.t("view_ticket", number=self.number), url, "primary")] if url else []


# -- one builder per kind -----------------------------------------------------------------


def _ticket_opened(c: _Context) -> Body:
    body = Body(c.t("ticket_opened.subject"), [c.t("ticket_opened.body", number=c.number)])
    if first := c.string("first_message"):
        body.quotes.append(Quote(meta=c.t("your_message"), body=first))
    body.buttons = c.ticket_button()
    return body


def _support_reply(c: _Context) -> Body:
    return Body(c.t("support_reply.heading", number=c.number), quotes=c.messages(), buttons=c.ticket_button())


def _close_proposed(c: _Context) -> Body:
    body = Body(c.t("close_proposed.heading", number=c.number), [c.t("close_proposed.body")])
    if message := c.string("message"):
        body.quotes.append(Quote(meta="", body=message))
    if closes_at := c.time(c.data.get("closes_at")):
        body.paragraphs.append(c.t("close_proposed.closes_at", at=closes_at))
    body.buttons = c.ticket_button()
    return body


def _ticket_closed(c: _Context) -> Body:
    body = Body(c.t("ticket_closed.heading", number=c.number), [c.t("ticket_closed.body")])
    rating = c.mapping("rating")
    buttons = [
        Button(c.t(f"rating.{choice}"), url, tone)
        for choice, tone in (("good", "good"), ("none", "neutral"), ("bad", "bad"))
        if (url := _safe_url(rating.get(choice)))
    ]
    if buttons:
        body.paragraphs.append(c.t("ticket_closed.rate"))
        body.buttons = buttons
    return body


def _ticket_reopened(c: _Context) -> Body:
    return Body(c.t("ticket_reopened.heading", number=c.number), [c.t("ticket_reopened.body")], buttons=c.ticket_button())


def _system_alert(c: _Context) -> Body:
    alert = c.mapping("alert")
    body = Body(_one_line(c.string("title", alert)) or c.t("system_alert.heading"))
    if organization := c.string("organization"):
        body.paragraphs.append(c.t("system_alert.intro", organization=organization))
    if text := c.string("body", alert):
        body.paragraphs.append(text)
    if url := _safe_url(alert.get("url")):
        body.buttons.append(Button(c.t("system_alert.open"), url, "primary"))
    return body


def _join_decided(c: _Context) -> Body:
    outcome = "approved" if c.data.get("approved") is True else "rejected"
    group = c.string("group")
    body = Body(c.t(f"join_decided.{outcome}.subject", group=group), [c.t(f"join_decided.{outcome}.body", group=group)])
    if reason := c.string("reason"):
        body.facts.append((c.t("label.reason"), reason))
    return body


def _offline_received(c: _Context) -> Body:
    body = Body(c.t("offline_received.subject"), [c.t("offline_received.body")])
    if c.number != "—":
        body.paragraphs.append(c.t("offline_received.ticket", number=c.number))
    if message := c.string("message"):
        body.quotes.append(Quote(meta=c.t("your_message"), body=message))
    return body


def _ticket_assigned(c: _Context) -> Body:
    body = Body(c.t("ticket_assigned.heading", number=c.number), [c.subject], buttons=c.ticket_button())
    body.facts = [(label, value) for label, value in ((c.t("label.customer"), c.string("customer")), (c.t("label.assigned_by"), c.string("assigned_by"))) if value]
    return body


def _group_transfer(c: _Context) -> Body:
    body = Body(c.t("group_transfer.heading", number=c.number, group=c.string("group")), [c.subject], buttons=c.ticket_button())
    if reason := c.string("reason"):
        body.facts.append((c.t("label.reason"), reason))
    return body


def _unassigned_ticket(c: _Context) -> Body:
    body = Body(c.t("unassigned_ticket.heading", number=c.number), [c.subject, c.t("unassigned_ticket.body")], buttons=c.ticket_button())
    if customer := c.string("customer"):
        body.facts.append((c.t("label.customer"), customer))
    return body


def _customer_replied(c: _Context) -> Body:
    return Body(c.t("customer_replied.heading", number=c.number), [c.subject], quotes=c.messages(), buttons=c.ticket_button())


def _sla_warning(c: _Context) -> Body:
    body = Body(c.t("sla_warning.heading", number=c.number, target=c.target()), [c.subject], buttons=c.ticket_button())
    if due := c.time(c.data.get("due_at")):
        body.facts.append((c.t("label.due"), due))
    return body


def _sla_breach(c: _Context) -> Body:
    body = Body(c.t("sla_breach.heading", number=c.number, target=c.target()), [c.subject], buttons=c.ticket_button())
    if breached := c.time(c.data.get("breached_at")):
        body.facts.append((c.t("label.breached_at"), breached))
    return body


def _escalation(c: _Context) -> Body:
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


def _password_reset(c: _Context) -> Body:
    duration = catalog.quantity(c.language, c.integer("expires_minutes"), "minutes")
    body = Body(c.t("password_reset.subject"), [c.t("password_reset.body", duration=duration)], closing=[c.t("password_reset.ignore")])
    if url := _safe_url(c.data.get("url")):
        body.buttons.append(Button(c.t("password_reset.button"), url, "primary"))
    return body


def _invitation(c: _Context) -> Body:
    organization = c.string("organization")
    heading = c.t("invitation.subject", organization=organization) if organization else c.t("invitation.subject_plain")
    body = Body(heading)
    if invited_by := c.string("invited_by"):
        body.paragraphs.append(c.t("invitation.by", name=invited_by))
    body.paragraphs.append(c.t("invitation.body", duration=catalog.quantity(c.language, c.integer("expires_days"), "days")))
    if url := _safe_url(c.data.get("url")):
        body.buttons.append(Button(c.t("invitation.button"), url, "primary"))
    return body


_BODIES: Mapping[MailKind, Callable[[_Context], Body]] = {
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
}


def _subject(c: _Context, kind: MailKind, ticket: int | None, body: Body) -> str:
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
    line = _one_line(line, _SUBJECT_MAX)
    return f"[#{ticket}] {line}" if ticket is not None else line


# -- rendering ----------------------------------------------------------------------------


def _lines(value: str) -> Markup:
    """HTML for plain text: escaped, its line breaks kept."""
    return Markup("<br>\n").join(escape(line) for line in value.splitlines())


def _quoted(value: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in value.splitlines()) or ">"


# Built once: parsing templates costs far more than rendering them (the benchmark queues
# 10 000 mails). Autoescape on for .html only: the text part is not HTML.
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("chat.mail", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_TEMPLATES.filters["lines"] = _lines
_TEMPLATES.filters["quoted"] = _quoted
_HTML = _TEMPLATES.get_template("mail.html")
_TEXT = _TEMPLATES.get_template("mail.txt")
# No remote stylesheets: the mail's CSS is ours and inline, and composing does no I/O.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # unknown name, or a path-like one
        return ZoneInfo("UTC")


def compose(
    identity: MailIdentity,
    kind: MailKind,
    to: Recipient,
    context: Mapping[str, Any],
    *,
    now: datetime,
    ticket: int | None = None,
    sender_name: str | None = None,
    unsubscribe_url: str | None = None,
    references: Sequence[str] = (),
) -> Composed:
    """The finished mail of ``kind`` to ``to``.

    ``context`` holds the kind's values (JSON types, instants as ISO-8601 strings; the
    keys per kind are listed in docs and in the builders above); a missing optional value
    leaves its line out. ``ticket`` threads the mail into the ticket's conversation and
    puts ``[#ticket]`` in the subject. ``sender_name`` (an agent) goes before
    ``MAIL_FROM``'s display name; the address is always ``MAIL_FROM``'s.
    ``unsubscribe_url`` adds RFC 8058 one-click unsubscribe headers and a footer link,
    except on essential kinds. ``references`` are earlier Message-IDs of the thread.

    Raises :class:`InvalidAddress` for an address that is not one plain ``user@domain``,
    and ``ValueError`` for a naive ``now``.
    """
    if now.tzinfo is None:
        raise ValueError("compose needs a timezone-aware now")
    language = catalog.language_of(to.language)
    c = _Context(context, language, _zone(to.time_zone), ticket)
    body = _BODIES[kind](c)
    subject = _subject(c, kind, ticket, body)
    info = KINDS[kind]
    unsubscribe = _safe_url(unsubscribe_url) if not info.essential else None
    from_name = identity.display_name
    agent = _one_line(sender_name or "")
    name = _one_line(c.string("recipient_name")) or _one_line(to.name)
    view = {
        "language": language,
        "subject": subject,
        "marker": REPLY_MARKER if kind in _REPLYABLE else "",
        "reply_lead": c.t("reply_lead"),
        "greeting": c.t("greeting", name=name) if name else c.t("greeting_anonymous"),
        "heading": body.heading,
        "paragraphs": body.paragraphs,
        "quotes": body.quotes,
        "attachments_label": c.t("attachments"),
        "facts": body.facts,
        "buttons": body.buttons,
        "closing": body.closing,
        "automatic": c.t("automatic", sender=from_name or identity.domain),
        "unsubscribe": Link(c.t("unsubscribe"), unsubscribe) if unsubscribe else None,
    }

    msg = EmailMessage(policy=_POLICY)
    username, _, domain = identity.address.rpartition("@")
    display = f"{agent} ({from_name})" if agent and from_name else agent or from_name
    msg["From"] = Address(display_name=display, username=username, domain=domain)
    msg["To"] = _recipient_address(to)
    msg["Reply-To"] = _one_line(identity.reply_to or "") or Address(username=username, domain=domain)
    msg["Subject"] = subject
    msg["Date"] = now
    message_id = _new_message_id(identity, ticket)
    msg["Message-ID"] = message_id
    if ticket is not None:
        root = thread_root(identity, ticket)
        # Ids from the outbox are ours, but they pass the same one-line guard as the rest.
        earlier = [ref for ref in (_one_line(r, 250) for r in references) if ref.startswith("<") and ref.endswith(">") and " " not in ref]
        msg["In-Reply-To"] = root
        msg["References"] = " ".join(dict.fromkeys([root, *earlier]))
    if info.notification:
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
    if unsubscribe:
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(_TEXT.render(mail=view))
    msg.add_alternative(_INLINER.inline(_HTML.render(mail=view)), subtype="html")
    # After the parts exist: making the message multipart moves every Content-* header
    # into its first part, and each part added gets a MIME-Version of its own.
    msg["Content-Language"] = language
    for part in msg.iter_parts():
        del part["MIME-Version"]
    return Composed(message_id=message_id, subject=subject, raw=msg.as_bytes(policy=_POLICY))
