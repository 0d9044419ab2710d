"""The received-mail log, spam and the block list over HTTP, against a live server
(SQLite): status codes, error bodies, who may do what."""

from __future__ import annotations

from urllib.parse import quote

from chat.mail.models import InboundStatus
from tests.chat.mail.inbound.test_desk import add_inbound, original
from tests.escalation.people import People


async def _ticket(people: People, subject: str = "Cheap watches") -> int:
    body = {"subject": subject, "description": "Buy now"}
    return int((await people.call("customer", "POST", "/api/tickets", body, expect=201))["ticket"]["id"])


async def _queued(people: People) -> set[int]:
    inbox = await people.call("agent", "GET", "/api/desk/inbox")
    return {i["conversation_id"] for q in inbox["queues"] for i in q["items"]}


async def test_log_lists_pages_filters_and_opens(people: People) -> None:
    svc = people.server.services
    ids = [await add_inbound(svc, n) for n in range(1, 4)]
    raw = original("Help", "Plain words\n", "<p>Rich <script>x()</script>words</p>")
    spam = await add_inbound(svc, 4, status=InboundStatus.SPAM, sender="bot@spam.example", raw=raw)

    page = await people.call("readonly", "GET", "/api/mail/inbound?limit=2")
    assert [m["id"] for m in page["mails"]] == [spam, ids[2]] and page["next_before_id"] == ids[2]
    rest = await people.call("readonly", "GET", f"/api/mail/inbound?limit=2&before_id={page['next_before_id']}")
    assert [m["id"] for m in rest["mails"]] == [ids[1], ids[0]] and rest["next_before_id"] is None
    only = await people.call("agent", "GET", "/api/mail/inbound?status=spam")
    assert [(m["id"], m["sender"], m["status"]) for m in only["mails"]] == [(spam, "bot@spam.example", "spam")]
    assert set(only["mails"][0]) == {"id", "mailbox", "message_id", "sender", "subject", "status", "reason",
                                     "conversation_id", "size", "received_at", "decided_by_id", "decided_at"}

    opened = await people.call("readonly", "GET", f"/api/mail/inbound/{spam}")
    assert opened["text"] == "Plain words\n" and opened["truncated"] is False
    assert opened["html"] == "<p>Rich words</p>\n"
    assert {"name": "Subject", "value": "Help"} in opened["headers"]

    for query in ("status=lost", "limit=0", "limit=201", "before_id=x", "before_id=9223372036854775808"):
        await people.error("agent", "GET", f"/api/mail/inbound?{query}", None, 422, "validation_failed")
    await people.error("agent", "GET", f"/api/mail/inbound/{spam + 50}", None, 404, "mail_not_found")
    await people.error("agent", "GET", "/api/mail/inbound/abc", None, 422, "validation_failed")
    await people.error("agent", "GET", "/api/mail/inbound/99999999999999999999", None, 422, "validation_failed")
    await people.error("customer", "GET", "/api/mail/inbound", None, 403, "forbidden")
    await people.error("customer", "GET", f"/api/mail/inbound/{spam}", None, 403, "forbidden")
    await people.error("nobody", "GET", "/api/mail/inbound", None, 401, "unauthenticated")


async def test_an_agent_marks_a_ticket_spam_and_not_spam(people: People) -> None:
    ticket_id = await _ticket(people)
    assert ticket_id in await _queued(people)

    await people.error("readonly", "POST", f"/api/tickets/{ticket_id}/spam", {"block": "sender"}, 403, "forbidden")
    await people.error("customer", "POST", f"/api/tickets/{ticket_id}/spam", {"block": "sender"}, 403, "forbidden")
    await people.error("agent", "POST", f"/api/tickets/{ticket_id}/spam", {"block": "all"}, 422, "validation_failed")
    await people.error("agent", "POST", f"/api/tickets/{ticket_id}/spam", {"blocks": "sender"}, 422,
                       "validation_failed")
    await people.error("agent", "POST", f"/api/tickets/{ticket_id + 999}/spam", {"block": "none"}, 404, "not_found")

    marked = await people.call("agent", "POST", f"/api/tickets/{ticket_id}/spam", {"block": "domain"})
    assert marked["ticket"]["spam_at"] is not None and marked["ticket"]["status"] == "new"
    assert ticket_id not in await _queued(people)
    blocks = await people.call("agent", "GET", "/api/mail/blocklist")
    assert [(b["pattern"], b["reason"]) for b in blocks["blocks"]] == [("@x.example", f"ticket #{ticket_id} marked as spam")]
    spam = await people.call("readonly", "GET", "/api/mail/spam")
    assert [t["conversation_id"] for t in spam["tickets"]] == [ticket_id] and spam["mails"] == []
    await people.error("agent", "POST", f"/api/tickets/{ticket_id}/spam", {"block": "none"}, 409, "already_spam")
    # The customer reads their ticket, but not that it is held for spam.
    assert "spam_at" not in await people.call("customer", "GET", f"/api/tickets/{ticket_id}")

    await people.error("readonly", "DELETE", f"/api/tickets/{ticket_id}/spam", None, 403, "forbidden")
    restored = await people.call("agent", "DELETE", f"/api/tickets/{ticket_id}/spam")
    assert restored["ticket"]["spam_at"] is None
    assert ticket_id in await _queued(people)
    assert (await people.call("agent", "GET", "/api/mail/blocklist"))["blocks"] == []
    await people.error("agent", "DELETE", f"/api/tickets/{ticket_id}/spam", None, 409, "not_spam")


async def test_a_spam_mail_is_released(people: People) -> None:
    mail_id = await add_inbound(people.server.services, 1, status=InboundStatus.SPAM)
    spam = await people.call("agent", "GET", "/api/mail/spam")
    assert [m["id"] for m in spam["mails"]] == [mail_id]
    await people.error("readonly", "POST", f"/api/mail/inbound/{mail_id}/not-spam", None, 403, "forbidden")
    released = await people.call("agent", "POST", f"/api/mail/inbound/{mail_id}/not-spam")
    assert released["decided_by_id"] == people.ids["agent"]
    # ann@acme.example is no user and no company's: an unidentified requester's ticket (the default).
    assert (released["status"], released["conversation_id"] is not None) == ("ticket", True)
    assert (await people.call("agent", "GET", "/api/mail/spam"))["mails"] == []
    await people.error("agent", "POST", f"/api/mail/inbound/{mail_id}/not-spam", None, 409, "already_decided")
    await people.error("agent", "POST", f"/api/mail/inbound/{mail_id + 9}/not-spam", None, 404, "mail_not_found")


async def test_support_admins_edit_the_block_list(people: People) -> None:
    added = await people.call("admin", "POST", "/api/mail/blocklist", {"pattern": "@Spam.Example", "reason": "a run"},
                              expect=201)
    assert (added["pattern"], added["reason"], added["created_by_id"]) == ("@spam.example", "a run", people.ids["admin"])
    await people.error("admin", "POST", "/api/mail/blocklist", {"pattern": "@spam.example"}, 409, "already_blocked")
    for bad in ({"pattern": "spam.example"}, {"pattern": "@"}, {"pattern": 5}, {}, {"pattern": "a@b.example", "x": 1}):
        await people.error("admin", "POST", "/api/mail/blocklist", bad, 422, "validation_failed")
    await people.error("agent", "POST", "/api/mail/blocklist", {"pattern": "a@b.example"}, 403, "forbidden")
    await people.error("readonly", "DELETE", "/api/mail/blocklist/@spam.example", None, 403, "forbidden")
    assert [b["pattern"] for b in (await people.call("readonly", "GET", "/api/mail/blocklist"))["blocks"]] == [
        "@spam.example"]
    await people.error("customer", "GET", "/api/mail/blocklist", None, 403, "forbidden")

    await people.call("admin", "DELETE", f"/api/mail/blocklist/{quote('@spam.example')}", expect=204)
    await people.error("admin", "DELETE", "/api/mail/blocklist/@spam.example", None, 404, "block_not_found")
    assert (await people.call("admin", "GET", "/api/mail/blocklist"))["blocks"] == []
