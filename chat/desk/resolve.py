"""Resolve (PSD "Решить"): a reply to the customer, then "proposed to close" — the widget
then asks the customer to confirm and rate. One request, so the console never has to
wait for the reply to be processed before the status may change."""

from __future__ import annotations

from typing import Any

from chat.authz import Action, Principal, require
from chat.conversations import post_message
from chat.desk import autoassign
from chat.errors import AppError
from chat.events import publish_events
from chat.services import Services
from escalation.tickets import change_status, get_ticket


async def resolve(svc: Services, actor: Principal, conversation_id: int, *, body: str, client_msg_id: str) -> dict[str, Any]:
    """Send ``body`` as a reply and propose to close. Idempotent on ``client_msg_id``: a
    retry after a lost answer finds the reply stored and the ticket already proposed."""
    require(actor, Action.WORK_DESK)
    ack, events = await post_message(svc, actor, conversation_id, client_msg_id=client_msg_id, body=body)
    await publish_events(svc, events)
    await svc.react(actor, events)
    try:
        # The status change catches up with the stored reply first (escalation.unit_of_work), so
        # a NEW ticket is in progress by then and may be proposed to close.
        ticket = await change_status(svc, actor, conversation_id, "propose_close")
    except AppError:
        if not ack.duplicate:
            raise
        ticket = await get_ticket(svc, actor, conversation_id)
    # A resolved chat no longer counts against its agent's limit.
    await autoassign.assign_waiting(svc)
    return {"ack": ack.frame(), "ticket": ticket}
