"""Reading what a real SMTP server received, as a mail client would, and a product wired
to send there: helpers for the end-to-end mail tests (tests/chat/mail/test_end_to_end.py,
tests/browser/test_rating_from_mail.py).

Mails are parsed with the stdlib ``email`` package (``policy.default``) from the raw
bytes the server received; nothing here looks at the outbox to decide what a mail says.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterable
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from tests.support.smtp_server import Received, SmtpServer


def smtp_env(smtp: SmtpServer, tmp_path: Path, *, public_url: str) -> dict[str, str]:
    """Settings for a product that sends through ``smtp`` (its STARTTLS certificate
    trusted through ``SMTP_CA_FILE``, AUTH from the URL) and whose links point at
    ``public_url``. The in-process sweeper is off: the tests run its passes on their clock."""
    return {
        "SMTP_URL": smtp.url,
        "SMTP_CA_FILE": smtp.write_ca(str(tmp_path / "smtp-ca.pem")),
        "MAIL_FROM": "Acme Support <support@ours.example>",
        "PUBLIC_URL": public_url,
        "SWEEPER_IN_PROCESS": "false",
    }


def parse(received: Received) -> EmailMessage:
    """The message as a mail client reads it: SMTP's CRLF line ends become ``\\n`` (as
    a client storing it locally does), so decoded text parts split into plain lines."""
    message = email.message_from_bytes(received.raw.replace(b"\r\n", b"\n"), policy=default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "no text/plain part"
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "no text/html part"
    return str(part.get_content())


def readable(message: EmailMessage) -> str:
    """Every header and every decoded text part: what a reader of the mail could see."""
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    parts = [str(part.get_content()) for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join([headers, *parts])


def to_us(received: Iterable[Received], address: str) -> list[EmailMessage]:
    """The messages whose envelope went to ``address``, in arrival order."""
    return [parse(r) for r in received if address.lower() in (rcpt.lower() for rcpt in r.rcpt_tos)]


def link_after(text: str, label: str) -> str:
    """The URL on the text part's ``"<label>: <url>"`` line (the mail's buttons)."""
    found = re.findall(rf"^{re.escape(label)}: (https?://\S+)$", text, flags=re.MULTILINE)
    assert len(found) == 1, f"{label!r} lines: {found}"
    return str(found[0])


def unbracketed(header: object) -> str:
    """``List-Unsubscribe``'s one URL without its angle brackets."""
    value = str(header).strip()
    assert value.startswith("<") and value.endswith(">"), value
    return value[1:-1]
