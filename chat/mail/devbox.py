"""The development mailbox: the embedded default's transport when no ``SMTP_URL`` is set.

Nothing leaves the machine. Every mail stays in the outbox as sent by ``"devbox"`` with its
whole message, and support admins read it in the console ("Sent mail"), so a newcomer sees
what would have been sent — never a silent drop.
"""

from __future__ import annotations

from chat.mail.transport import DELIVERED, Envelope, Outcome


class DevMailbox:
    name = "devbox"

    async def send(self, envelope: Envelope) -> Outcome:
        # The row already holds the raw message; keeping it is the delivery.
        return DELIVERED

    async def close(self) -> None:
        return None
