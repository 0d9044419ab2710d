"""Raw received mail to a :class:`~chat.mail.inbound.message.ParsedMail` (issue 16, items 4-6).
Pure: bytes in, a value out, no I/O.

Mail arrives in every shape a client or a forger can make, so every step here is
defensive: headers are read raw and decoded by us (a broken encoded word or charset
leaves the text as it came), the MIME tree is walked to a bounded depth and number of
parts, a file over the size limit is left out rather than failing the mail, and the only
error raised is :class:`~chat.mail.inbound.message.MalformedMail`, for mail nothing can
be done with (no usable sender).

Decisions:

- ``text/plain`` is preferred to ``text/html``; HTML is sanitized (nh3) and written out as
  lines (:func:`chat.mail.inbound.text.html_to_text`).
- A mail forwarded as an attachment (``message/rfc822``) is kept as a ``.eml`` file, and
  its sender, subject and text are added below what the person wrote: the forwarded
  words are usually the point of the ticket.
- A mail whose subject starts with a forward prefix (``Fwd:``, ``WG:``, ``Пересл.:`` ...)
  forwards inline: its quote is what support must read, so only our marker is cut.
- ``winmail.dat`` (``application/ms-tnef``) and calendar invites (``text/calendar``) are
  kept as files.
"""

from __future__ import annotations

import email
import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.errors import MessageError
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import TypeVar

from chat.mail.inbound.bounces import automatic_reason, is_delivery_report, is_spam, parse_bounce
from chat.mail.inbound.message import Bounce, InboundFile, MalformedMail, ParsedMail
from chat.mail.inbound.text import (
    clean_text,
    cut_marker,
    cut_reply,
    decode_bytes,
    decode_header_value,
    html_to_text,
    message_ids,
    one_line,
    unescape_surrogates,
)

_T = TypeVar("_T")
_D = TypeVar("_D")

REPLY_MARKER = "##- Please type your reply above this line -##"
"""The line our replyable mails put above everything we wrote (``chat.mail.compose``
writes it; the value must stay the same on both sides, a test says so)."""

SUBJECT_MAX = 400  # the mail_inbound.subject column
NAME_MAX = 200
ADDRESS_MAX = 320  # the mail_inbound.sender column; RFC 5321's 64 + 1 + 255
FILENAME_MAX = 180  # below every file system's 255 bytes, even in UTF-8 Cyrillic
# Lists on one mail: a real thread's References or a real CC list are far shorter.
MAX_IDS = 100
MAX_ADDRESSES = 100
# The MIME tree: real mail nests 3-5 deep (mixed > related > alternative) and has tens of
# parts; a bomb of 10 000 nested or sibling parts stops here, the rest is not looked at.
MAX_DEPTH = 20
MAX_PARTS = 500
MAX_FILES = 100
# A header longer than this is not one a client wrote; decoding it all would cost time.
HEADER_MAX = 16_000
# Bytes of one body part decoded into text, and characters of full_text: a 10 MB body is
# a paste or an attack, and the original is kept (MAIL_IN_KEEP_BYTES) for staff anyway.
BODY_BYTES_MAX = 4_000_000
FULL_TEXT_MAX = 1_000_000



class _MemoHeaders(HeaderRegistry):
    """The stdlib's header registry, remembering what it parsed. The parser asks for a
    part's Content-Type about five times while building the tree, and each time parses
    it again: a mail of 5 000 tiny parts took 1 s with the stock registry (measured), a
    fifth of that with this one. Long values are not kept (a bounded memory)."""

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one module-level instance
    def _parsed(self, name: str, value: str) -> BaseHeader:
        return super().__call__(name, value)

    def __call__(self, name: str, value: str) -> BaseHeader:
        if len(value) > 500:
            return super().__call__(name, value)
        return self._parsed(name, value)


_POLICY = policy.default.clone(header_factory=_MemoHeaders())

# Any of these from the stdlib's email package means "this piece is broken": the piece is
# skipped or kept raw, never the whole mail failed.
# RecursionError: the stdlib's address parser recurses once per "(" of a comment.
_BROKEN = (ValueError, LookupError, TypeError, IndexError, AttributeError, KeyError, UnicodeError, MessageError, RecursionError)

# Forward prefixes at the start of a subject: en, de (WG), fr (TR), es (RV), pt (ENC), ru.
_FORWARD = re.compile(r"^\s*(?:fwd?|wg|tr|rv|enc|пересл\.?)\s*:", re.IGNORECASE)
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
_NOT_IN_ADDRESS = re.compile(r"[\s<>(),;:\"\[\]\\]")
_DOMAIN = re.compile(r"(?:[^\W_]|[-.])+", re.UNICODE)
_EXTENSIONS = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
    "text/calendar": ".ics", "application/ms-tnef": ".dat", "message/rfc822": ".eml",
    "application/pdf": ".pdf", "text/plain": ".txt", "text/html": ".html",
}


def message_key(raw: bytes, message_id: str | None) -> str:
    """The received-mail table's unique key within a mailbox: SHA-256 (hex) of the
    Message-ID, or of the raw bytes when the mail has none (a redelivery of the same
    bytes is still the same mail)."""
    data = message_id.encode("utf-8", "surrogatepass") if message_id else raw
    return hashlib.sha256(data).hexdigest()


def parse(raw: bytes, *, reply_marker: str = REPLY_MARKER, max_file_bytes: int = 10 * 1024 * 1024) -> ParsedMail:
    """The mail in ``raw`` as intake needs it (every field as
    :class:`~chat.mail.inbound.message.ParsedMail` documents). Files bigger than
    ``max_file_bytes`` are left out. Raises
    :class:`~chat.mail.inbound.message.MalformedMail` only when the mail has no usable
    From address (and is not a delivery report, whose sender may be empty)."""
    if not raw.strip():
        raise MalformedMail("empty message")
    try:
        message = email.message_from_bytes(raw, policy=_POLICY)
    except _BROKEN as error:
        raise MalformedMail(f"not a message ({type(error).__name__})") from None
    headers = _Headers(message)

    sender_name, sender = _first_address(headers.raw("From"))
    report = _safe(lambda: is_delivery_report(message), False)
    bounce: Bounce | None = None
    if report:
        bounce = _safe(lambda: parse_bounce(message, _clean_address), None)
    if sender is None and bounce is None:
        raise MalformedMail("no usable From address")

    subject = one_line(headers.first("Subject") or "", SUBJECT_MAX)
    walk = _Walk(max_file_bytes=max_file_bytes)
    walk.visit(message, 0, report_root=True)

    body = clean_text("\n\n".join(walk.plain) if walk.plain else "\n\n".join(html_to_text(h) for h in walk.html))
    forwarded = "\n\n".join(walk.forwarded)
    above = cut_marker(body, reply_marker)
    text = clean_text(above) if _FORWARD.match(subject) else cut_reply(above)
    if forwarded:
        text = f"{text}\n\n{forwarded}".strip()
        body = f"{body}\n\n{forwarded}".strip()

    return ParsedMail(
        message_id=_first_id(headers.first("Message-ID")),
        sender=sender,
        sender_name=sender_name,
        reply_to=_first_address(headers.raw("Reply-To"))[1],
        to=_addresses(headers.raw("To")),
        cc=_addresses(headers.raw("Cc")),
        subject=subject,
        date=_date(headers.first("Date")),
        in_reply_to=_ids(headers.all("In-Reply-To")),
        references=_ids(headers.all("References")),
        text=text[:FULL_TEXT_MAX],
        full_text=body[:FULL_TEXT_MAX],
        files=tuple(walk.files),
        auto=automatic_reason(headers.first, sender, report),
        bounce=bounce,
        spam=is_spam(headers.all("X-Spam-Flag")),
        size=len(raw),
    )


def _safe(read: Callable[[], _T], default: _D) -> _T | _D:
    try:
        return read()
    except _BROKEN:
        return default


# -- headers ------------------------------------------------------------------------------


class _Headers:
    """The mail's headers as the sender wrote them, decoded by us: the stdlib's parsed
    header objects raise on some broken values, the raw text never does."""

    def __init__(self, message: Message) -> None:
        self._raw: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self._raw.setdefault(name.strip().lower(), []).append(str(value)[:HEADER_MAX])

    def raw(self, name: str) -> list[str]:
        """The undecoded values (addresses are split before their names are decoded: a
        decoded name may hold a comma)."""
        return self._raw.get(name.lower(), [])

    def all(self, name: str) -> list[str]:
        return [one_line(decode_header_value(value), HEADER_MAX) for value in self.raw(name)]

    def first(self, name: str) -> str | None:
        values = self.raw(name)
        return one_line(decode_header_value(values[0]), HEADER_MAX) if values else None


def _clean_address(value: str) -> str | None:
    """``local@domain`` with the domain lower-cased, or None: no ``@``, white space or
    control characters, characters no address holds, or longer than an address can be."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain or _NOT_IN_ADDRESS.search(local) or not _DOMAIN.fullmatch(domain):
        return None
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return None
    if any(unicodedata.category(c)[0] == "C" for c in local):
        return None
    address = f"{local}@{domain.lower()}"
    return address if len(address) <= ADDRESS_MAX else None


def _pairs(values: list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    # One header at a time: a broken one (a comment nested 5 000 deep) costs only itself.
    for value in values:
        try:
            pairs += getaddresses([unescape_surrogates(value.replace("\r", "").replace("\n", ""))])
        except _BROKEN:
            continue
        if len(pairs) >= MAX_ADDRESSES * 2:
            break
    return pairs[: MAX_ADDRESSES * 2]


def _first_address(values: list[str]) -> tuple[str, str | None]:
    for name, address in _pairs(values):
        clean = _clean_address(address)
        if clean is not None:
            return one_line(decode_header_value(name), NAME_MAX), clean
    return "", None


def _addresses(values: list[str]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for _name, address in _pairs(values):
        clean = _clean_address(address)
        if clean is not None and len(found) < MAX_ADDRESSES:
            found.setdefault(clean)
    return tuple(found)


def _first_id(value: str | None) -> str | None:
    ids = message_ids(value or "")
    return ids[0] if ids else None


def _ids(values: list[str]) -> tuple[str, ...]:
    found = list(dict.fromkeys(i for value in values for i in message_ids(value)))
    # A thread's root comes first and its newest mails last; a longer list loses its middle.
    return tuple(found if len(found) <= MAX_IDS else found[:20] + found[-(MAX_IDS - 20) :])


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# -- the MIME tree ------------------------------------------------------------------------


@dataclass
class _Walk:
    """What a walk over the MIME tree found: body texts, files, forwarded mails."""

    max_file_bytes: int
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[InboundFile] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    parts: int = 0
    collect_files: bool = True

    def visit(self, part: Message, depth: int, *, report_root: bool = False) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            return
        kind = _content_type(part)
        if kind.startswith("multipart/"):
            children = _safe(part.get_payload, [])
            if not isinstance(children, list):
                # A multipart without a usable boundary: its body is all there is.
                self._text(part, "text/plain")
                return
            if depth >= MAX_DEPTH:
                return
            parts = [c for c in children if isinstance(c, Message)]
            if kind == "multipart/alternative":
                parts = _best_alternative(parts)
            elif kind == "multipart/report" and report_root:
                # The first part is the notice for people; the rest is the report itself.
                parts = parts[:1]
            for child in parts:
                self.visit(child, depth + 1)
        elif kind == "message/rfc822":
            self._forwarded(part, depth)
        else:
            self._leaf(part, kind)

    def _leaf(self, part: Message, kind: str) -> None:
        disposition = _safe(part.get_content_disposition, None)
        name = _safe(part.get_filename, None)
        if kind in ("text/plain", "text/html") and disposition != "attachment" and not name:
            self._text(part, kind)
            return
        if not self.collect_files or len(self.files) >= MAX_FILES:
            return
        data = _payload(part)
        # Gmail sends an invite twice (an alternative and an attachment): same bytes, one file.
        if data is None or len(data) > self.max_file_bytes or any(f.data == data for f in self.files):
            return
        inline = disposition == "inline" or (disposition != "attachment" and part.get("Content-ID") is not None)
        filename = safe_filename(name, kind, len(self.files) + 1)
        self.files.append(InboundFile(filename=filename, content_type=kind, data=data, inline=inline))

    def _text(self, part: Message, kind: str) -> None:
        data = _payload(part)
        if data is None:
            return
        cut = len(data) > BODY_BYTES_MAX
        text = decode_bytes(data[:BODY_BYTES_MAX], _safe(part.get_content_charset, None), partial=cut)
        (self.plain if kind == "text/plain" else self.html).append(text)

    def _forwarded(self, part: Message, depth: int) -> None:
        payload = _safe(part.get_payload, None)
        inner = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], Message) else None
        if inner is None or depth >= MAX_DEPTH:
            return
        headers = _Headers(inner)
        subject = one_line(headers.first("Subject") or "", SUBJECT_MAX)
        if self.collect_files and len(self.files) < MAX_FILES:
            data = _safe(lambda: inner.as_bytes(policy=policy.default), None)
            if data is not None and len(data) <= self.max_file_bytes:
                name = safe_filename(f"{subject}.eml" if subject else None, "message/rfc822", len(self.files) + 1)
                self.files.append(InboundFile(filename=name, content_type="message/rfc822", data=data, inline=False))
        # The forwarded mail's own files are in its .eml; only its words are read here.
        nested = _Walk(max_file_bytes=self.max_file_bytes, parts=self.parts, collect_files=False)
        nested.visit(inner, depth + 1)
        self.parts = nested.parts
        body = clean_text("\n\n".join(nested.plain) if nested.plain else "\n\n".join(html_to_text(h) for h in nested.html))
        lines = ["---------- Forwarded message ----------"]
        lines += [f"{label}: {value}" for label, value in (("From", headers.first("From")), ("Date", headers.first("Date")), ("Subject", subject)) if value]
        self.forwarded.append("\n".join(lines) + "\n\n" + body)
        self.forwarded.extend(nested.forwarded)


def _content_type(part: Message) -> str:
    kind = _safe(part.get_content_type, "application/octet-stream")
    return kind if _CONTENT_TYPE.fullmatch(kind) else "application/octet-stream"


def _best_alternative(children: list[Message]) -> list[Message]:
    """The one alternative to read: the plain text if there is one (issue 16, item 4),
    else the richest (the last, by RFC 2046: HTML, or a multipart/related around it);
    plus a calendar invite, which Outlook sends as an alternative to its own text."""
    kinds = [_content_type(child) for child in children]
    best = kinds.index("text/plain") if "text/plain" in kinds else len(children) - 1
    return [child for at, (child, kind) in enumerate(zip(children, kinds, strict=True)) if at == best or kind == "text/calendar"]


def _payload(part: Message) -> bytes | None:
    data = _safe(lambda: part.get_payload(decode=True), None)
    return data if isinstance(data, bytes) else None


def safe_filename(name: str | None, content_type: str, index: int) -> str:
    """A file name safe to store and to offer for download: decoded, its last path
    component only, no control characters, no leading dots, at most FILENAME_MAX
    characters with the extension kept; a made-up ``attachment-<n>.<ext>`` when none."""
    text = one_line(decode_header_value(name or ""), 1000)
    text = unicodedata.normalize("NFC", text.replace("\\", "/").rpartition("/")[2]).strip(" .")
    if not text:
        stem = "image" if content_type.startswith("image/") else "attachment"
        return f"{stem}-{index}{_EXTENSIONS.get(content_type, '.bin')}"
    if len(text) > FILENAME_MAX:
        stem, dot, extension = text.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            text = f"{stem[: FILENAME_MAX - len(extension) - 1].rstrip()}.{extension}"
        else:
            text = text[:FILENAME_MAX]
    return text
