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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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
from chat.mail.bodies import BODIES, Context, Link, one_line, safe_url, subject_line
from chat.mail.inbound.parse import REPLY_MARKER
from chat.mail.kinds import KINDS, MailKind
from chat.settings import Settings

# REPLY_MARKER (the line the e-mail intake cuts a reply at) is defined by the parser
# that cuts on it; the mails put it where a reply starts.


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
SUBJECT_MAX = 300  # the outbox column holds 400; long subjects are cut in mail clients anyway


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
        return one_line(name), address

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

    @cached_property
    def reply_address(self) -> tuple[str, str, str]:
        """``(display name, local part, domain)`` of where replies go: ``MAIL_REPLY_TO``'s
        address, else ``MAIL_FROM``'s. A ticket's mails add ``+token`` to the local part."""
        name, address = parseaddr(self.reply_to or "")
        if "@" not in address:
            name, address = "", self.address
        local, _, domain = address.rpartition("@")
        return one_line(name), local, domain.lower()


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


def ticket_of_address(identity: MailIdentity, address: str) -> int | None:
    """The ticket a reply's recipient address names: ``<local>+<thread token>@<domain>``
    of our reply address (:attr:`MailIdentity.reply_address`); ``None`` for any other
    address, a forged token or garbage. Local part and domain compare case-insensitively
    (some relays lower-case them; the token is lower-case already)."""
    _, local, domain = identity.reply_address
    value = address.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    user, at, host = value.rpartition("@")
    base, plus, tag = user.partition("+")
    if not at or not plus or host.lower() != domain or base.lower() != local.lower():
        return None
    match = _TOKEN.fullmatch(tag.lower())
    if match is None:
        return None
    digits, sig = match.groups()
    number = int(digits)
    if number > _MAX_TICKET or not hmac.compare_digest(sig, _signature(identity.secret, digits)):
        return None
    return number


def _new_message_id(identity: MailIdentity, ticket: int | None) -> str:
    # The random part makes every mail unique; with a ticket, the token leads it so the
    # intake can read the ticket from a reply's In-Reply-To alone.
    if ticket is None:
        return f"<m.{secrets.token_hex(16)}@{identity.domain}>"
    return f"<{thread_token(identity.secret, ticket)}.{secrets.token_hex(8)}@{identity.domain}>"


# -- header hygiene -----------------------------------------------------------------------

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
        return Address(display_name=one_line(to.name), username=username, domain=ascii_domain)
    except (UnicodeError, ValueError) as exc:
        raise InvalidAddress(f"not one e-mail address: {raw!r}") from exc


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
    c = Context(context, language, _zone(to.time_zone), ticket)
    body = BODIES[kind](c)
    subject = subject_line(c, kind, ticket, body)
    info = KINDS[kind]
    unsubscribe = safe_url(unsubscribe_url) if not info.essential else None
    from_name = identity.display_name
    agent = one_line(sender_name or "")
    name = one_line(c.string("recipient_name")) or one_line(to.name)
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
    if ticket is not None:
        # A plus-address names the ticket: the intake threads a reply by its recipient
        # even when the client dropped In-Reply-To and the subject (issue 16, item 2).
        reply_name, reply_local, reply_domain = identity.reply_address
        msg["Reply-To"] = Address(display_name=reply_name, username=f"{reply_local}+{thread_token(identity.secret, ticket)}",
                                  domain=reply_domain)
    else:
        msg["Reply-To"] = one_line(identity.reply_to or "") or Address(username=username, domain=domain)
    msg["Subject"] = subject
    msg["Date"] = now
    message_id = _new_message_id(identity, ticket)
    msg["Message-ID"] = message_id
    if ticket is not None:
        root = thread_root(identity, ticket)
        # Ids from the outbox are ours, but they pass the same one-line guard as the rest.
        earlier = [ref for ref in (one_line(r, 250) for r in references) if ref.startswith("<") and ref.endswith(">") and " " not in ref]
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
