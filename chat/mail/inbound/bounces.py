"""Mail no person wrote: auto-replies, list mail, delivery reports (issue 16, item 5), and
the upstream spam filter's verdict (item 6). Pure functions over a parsed message.

An automatic mail is recorded but opens nothing and is answered by nothing: answering an
auto-reply with our "we got your request" is how two robots mail each other forever.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from email.message import Message

from chat.mail.inbound.message import Bounce
from chat.mail.inbound.text import message_ids, one_line

# "mailer-daemon@", "MAILER-DAEMON@", "postmaster@": the senders of bounces and of the
# mail systems' own notices.
_DAEMONS = frozenset({"mailer-daemon", "postmaster"})
_PRECEDENCE = frozenset({"bulk", "junk", "list"})
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
# The per-recipient blocks a report may hold: more means a report made to hurt us.
_MAX_RECIPIENTS = 100
STATUS_MAX = 300

Header = Callable[[str], str | None]
"""Reads one header of the mail, decoded, on one line, or None when absent."""


def automatic_reason(header: Header, sender: str | None, delivery_report: bool) -> str | None:
    """Why the mail is automatic (the reasons :class:`~chat.mail.inbound.message.ParsedMail`
    documents), or None: a person wrote it. ``X-Auto-Response-Suppress`` is no reason: it
    asks *us* not to auto-reply, and Outlook sets it on mail people write."""
    if delivery_report:
        return "delivery report"
    submitted = header("Auto-Submitted")
    if submitted is not None and submitted.split(";")[0].strip().lower() not in ("", "no"):
        return one_line(f"Auto-Submitted: {submitted}", 100)
    for name in ("X-Autoreply", "X-Autorespond"):
        if header(name) is not None:
            return name
    precedence = (header("Precedence") or "").strip().lower()
    if precedence in _PRECEDENCE:
        return f"Precedence: {precedence}"
    if header("List-Id") is not None:
        return "List-Id"
    return_path = header("Return-Path")
    if return_path is not None and return_path.strip().strip("<>").strip() == "":
        return "empty Return-Path"
    if sender is not None and sender.partition("@")[0].lower() in _DAEMONS:
        return "mailer-daemon sender"
    return None


def is_spam(flags: Sequence[str]) -> bool:
    """The upstream filter said so: any of the ``X-Spam-Flag`` headers reads ``YES``
    (SpamAssassin's spelling; case does not matter)."""
    return any(value.strip().lower() == "yes" for value in flags)


def is_delivery_report(message: Message) -> bool:
    """``multipart/report; report-type=delivery-status`` (RFC 3464)."""
    if message.get_content_type() != "multipart/report":
        return False
    report_type = message.get_param("report-type", header="content-type")
    return isinstance(report_type, str) and report_type.strip().lower() == "delivery-status"


def _fields(block: Message) -> dict[str, str]:
    return {name.lower(): one_line(str(value), 500) for name, value in block.items()}


def _address(field: str, clean: Callable[[str], str | None]) -> str | None:
    # "rfc822; ann@example.com": the address type, then the address.
    kind, semi, value = field.partition(";")
    if not semi:
        value = kind
    elif kind.strip().lower() != "rfc822":
        return None
    return clean(value.strip().strip("<>"))


def parse_bounce(report: Message, clean_address: Callable[[str], str | None]) -> Bounce:
    """The report's recipients and verdict: ``permanent`` when some recipient's Action is
    ``failed`` with a 5.x.x Status, and then ``recipients`` are only those (their
    addresses go on the suppression list); otherwise every recipient the report names (a
    delay, a relay, a success). ``original_message_id`` comes from the returned headers
    (``text/rfc822-headers``) or the returned mail (``message/rfc822``)."""
    failed: list[str] = []
    others: list[str] = []
    statuses: list[tuple[bool, str]] = []
    original: str | None = None
    parts = report.get_payload()
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Message):
            continue
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            blocks = part.get_payload()
            if not isinstance(blocks, list):
                continue
            # The first block describes the message, the rest one recipient each.
            for block in blocks[1 : _MAX_RECIPIENTS + 1]:
                if not isinstance(block, Message):
                    continue
                fields = _fields(block)
                address = _address(fields.get("final-recipient") or fields.get("original-recipient") or "", clean_address)
                status_match = _STATUS.search(fields.get("status", ""))
                status = status_match.group() if status_match else ""
                permanent = fields.get("action", "").lower() == "failed" and status.startswith("5.")
                diagnostic = fields.get("diagnostic-code", "")
                statuses.append((permanent, one_line(f"{status} {diagnostic}".strip() or fields.get("action", ""), STATUS_MAX)))
                if address is not None:
                    (failed if permanent else others).append(address)
        elif kind in ("text/rfc822-headers", "message/rfc822") and original is None:
            original = _original_message_id(part)
    permanent = bool(failed)
    status = next((line for is_permanent, line in statuses if is_permanent == permanent), "")
    return Bounce(
        original_message_id=original,
        recipients=tuple(dict.fromkeys(failed if permanent else others)),
        permanent=permanent,
        status=status,
    )


def _original_message_id(part: Message) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list):
        inner = payload[0] if payload and isinstance(payload[0], Message) else None
        value = str(inner.get("Message-ID", "")) if inner is not None else ""
    else:
        # text/rfc822-headers: the headers as text; the id is the Message-ID line's.
        value = ""
        for line in str(payload).splitlines():
            if line.lower().startswith("message-id:"):
                value = line.partition(":")[2]
                break
    ids = message_ids(value)
    return ids[0] if ids else None
