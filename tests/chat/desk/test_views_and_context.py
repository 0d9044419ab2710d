"""Issue 18, item 3, over HTTP against a live server: the Mine / Unassigned / All views of
the queues, a transfer releasing the claim, the visitor's context and earlier tickets in
the conversation view, one name for a nameless visitor, the plan the SLA really uses, and
action tasks reassigned, re-dated and completed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from chat.client import ChatClient
from chat.desk.visitor_context import REPORT_WINDOW_SECONDS, REPORTS_PER_WINDOW
from chat.models import Organization
from escalation.policy_table import PlanTier
from tests.support.chatlog import new_visitor
from tests.support.desk import Desk

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")


def items(inbox: dict[str, Any]) -> list[int]:
    return sorted(i["conversation_id"] for q in inbox["queues"] for i in q["items"])


async def test_views_filter_items_and_counts_per_agent(desk: Desk) -> None:
    mine = desk.chat.conversation_id
    other = await new_visitor(desk.server.services, desk.chat.site_key, "Otto")
    from chat.conversations import start_conversation

    second = (await start_conversation(desk.server.services, other.principal, subject="Second")).conversation.id
    await desk.call(desk.agent, "POST", f"/api/desk/conversations/{mine}/claim", {}, expect=200)

    async def seen(who: Any, view: str) -> tuple[list[int], int]:
        inbox = await desk.call(who, "GET", f"/api/desk/inbox?view={view}", expect=200)
        counts = await desk.call(who, "GET", f"/api/desk/counts?view={view}", expect=200)
        return items(inbox), sum(counts["counts"].values())

    assert await seen(desk.agent, "mine") == ([mine], 1)
    assert await seen(desk.agent, "unassigned") == ([second], 1)
    assert await seen(desk.agent, "all") == (sorted([mine, second]), 2)
    assert await seen(desk.chat.agent2, "mine") == ([], 0)
    assert await seen(desk.chat.agent2, "unassigned") == ([second], 1)
    # No view is "all", as before views existed; every queue is listed in every view.
    assert items(await desk.call(desk.agent, "GET", "/api/desk/inbox", expect=200)) == sorted([mine, second])
    keys = [q["key"] for q in (await desk.call(desk.agent, "GET", "/api/desk/inbox?view=mine", expect=200))["queues"]]
    assert keys[0] == "new" and keys[-1] == "waiting"
    for path in ("/api/desk/inbox?view=theirs", "/api/desk/counts?view=MINE"):
        refused = await desk.call(desk.agent, "GET", path, expect=422)
        assert refused["error"]["code"] == "validation_failed"


async def test_a_transfer_releases_the_claim(desk: Desk) -> None:
    conv = desk.chat.conversation_id
    await desk.call(desk.agent, "POST", f"/api/desk/conversations/{conv}/claim", {}, expect=200)
    moved = (await desk.call(desk.agent, "POST", f"/api/tickets/{conv}/transfer", {"group": "second_level"},
                             expect=200))["ticket"]
    assert moved["assignee"] is None and moved["group"] == "second_level"
    item = (await desk.call(desk.agent, "GET", f"/api/desk/items/{conv}", expect=200))["item"]
    assert item["assignee"] is None and item["queue"] == "group:second_level"
    mine = await desk.call(desk.agent, "GET", "/api/desk/inbox?view=mine", expect=200)
    assert items(mine) == []
    detail = await desk.call(desk.agent, "GET", f"/api/desk/conversations/{conv}", expect=200)
    assert detail["ticket"]["assignee"] is None
    # Without a claim a transfer changes nobody's work.
    await desk.call(desk.agent, "POST", f"/api/tickets/{conv}/transfer", {"level": 1}, expect=200)


async def test_the_visitor_context_reaches_the_side_panel_and_garbage_is_refused(desk: Desk) -> None:
    conv = desk.chat.conversation_id
    visitor = desk.chat.visitor
    headers = {"Authorization": f"Bearer {visitor.token}", "User-Agent": CHROME}
    report = {"page_url": "https://shop.example/cart?step=2", "page_title": "Your\tcart\n— Shop",
              "referrer": "https://search.example/?q=printer", "language": "pt-BR", "time_zone": "America/Sao_Paulo"}
    async with ChatClient(desk.server.ws_url + "/ws", desk.agent.token) as console:
        response = await desk.http.post("/api/widget/context", json=report, headers=headers)
        assert response.status_code == 204, response.text
        # Consoles showing the visitor's ticket hear of it (and re-read the panel).
        bell = await console.next_frame("inbox")
        assert (bell["conversation_id"], bell["reason"]) == (conv, "context")
    context = (await desk.call(desk.agent, "GET", f"/api/desk/conversations/{conv}", expect=200))["context"]
    assert context["page_url"] == "https://shop.example/cart?step=2"
    assert context["page_title"] == "Your cart — Shop"
    assert (context["referrer"], context["language"], context["time_zone"]) == (
        "https://search.example/?q=printer", "pt-BR", "America/Sao_Paulo")
    assert context["browser"]["text"] == "Chrome 131 on Windows"

    bad: list[dict[str, Any]] = [
        {"page_url": "javascript:alert(1)"}, {"referrer": "file:///etc/passwd"}, {"time_zone": "Mars/Olympus"},
        {"time_zone": "../../etc/passwd"}, {"language": "<script>"}, {"page_url": 5}, {"colour": "red"},
    ]
    for body in bad:
        refused = await desk.http.post("/api/widget/context", json=body, headers=headers)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["code"] in ("validation_failed", "invalid_request", "bad_request"), refused.text
    # Nothing of it was stored: the last good report stands; a very long title is cut.
    long = await desk.http.post("/api/widget/context", json={"page_title": "x" * 5000}, headers=headers)
    assert long.status_code == 204
    context = (await desk.call(desk.agent, "GET", f"/api/desk/conversations/{conv}", expect=200))["context"]
    assert len(context["page_title"]) == 300 and context["page_url"] is None
    # Signed out: 401.
    assert (await desk.http.post("/api/widget/context", json={})).status_code == 401


async def test_an_anonymous_visitor_has_one_name_and_the_plan_the_sla_uses(desk: Desk) -> None:
    svc = desk.server.services
    async with svc.sessions.begin() as db:
        await db.execute(update(Organization).where(Organization.name == "Acme").values(plan_tier=PlanTier.REGULAR))
    anon = await new_visitor(svc, desk.chat.site_key, "")
    from chat.conversations import start_conversation

    conv = (await start_conversation(svc, anon.principal, subject="No name")).conversation.id
    detail = await desk.call(desk.agent, "GET", f"/api/desk/conversations/{conv}", expect=200)
    number = anon.principal.user_id
    assert detail["customer"]["name"] == f"Visitor #{number}" and detail["customer"]["anonymous"] is True
    # The company is the site's, shown as such; the SLA runs on the basic plan.
    assert detail["organization"]["via_site"] is True and detail["organization"]["plan_tier"] == "regular"
    assert detail["sla"]["plan_tier"] == "basic"
    item = (await desk.call(desk.agent, "GET", f"/api/desk/items/{conv}", expect=200))["item"]
    assert item["customer"]["name"] == f"Visitor #{number}" and item["customer"]["anonymous"] is True
    # A named visitor is named, and not flagged.
    named = await desk.call(desk.agent, "GET", f"/api/desk/conversations/{desk.chat.conversation_id}", expect=200)
    assert named["customer"]["name"] == "Vera Visitor" and "anonymous" not in named["customer"]


async def test_earlier_tickets_of_the_visitor_are_listed(desk: Desk) -> None:
    svc = desk.server.services
    from chat.conversations import start_conversation

    first = desk.chat.conversation_id
    second = (await start_conversation(svc, desk.chat.visitor.principal, subject="Again")).conversation.id
    detail = await desk.call(desk.agent, "GET", f"/api/desk/conversations/{second}", expect=200)
    assert [h["conversation_id"] for h in detail["history"]] == [first]
    assert detail["history"][0]["subject"] == "Printer on fire"


async def test_tasks_are_reassigned_redated_and_completed(desk: Desk) -> None:
    conv = desk.chat.conversation_id
    task = (await desk.call(desk.agent, "POST", f"/api/tickets/{conv}/tasks",
                            {"text": "Call the vendor", "type": "software"}, expect=201))["task"]
    assert task["assignee_id"] is None
    path = f"/api/tickets/{conv}/tasks/{task['id']}"
    agent2 = desk.chat.agent2.principal.user_id
    moved = (await desk.call(desk.agent, "PATCH", path, {"assignee_id": agent2, "due_at": "2030-03-02T09:00:00Z"},
                             expect=200))["task"]
    assert moved["assignee_id"] == agent2 and moved["due_at"].startswith("2030-03-02T09:00")
    done = (await desk.call(desk.agent, "PATCH", path, {"status": "done"}, expect=200))["task"]
    assert done["status"] == "done"
    for body in ({"assignee_id": desk.chat.visitor.principal.user_id}, {"assignee_id": True},
                 {"assignee_id": 10**20}, {"assignee_id": 987654}):
        await desk.call(desk.agent, "PATCH", path, body, expect=422)
    await desk.call(desk.readonly, "PATCH", path, {"status": "open"}, expect=403)
    ticket = (await desk.call(desk.agent, "GET", f"/api/tickets/{conv}", expect=200))["ticket"]
    assert ticket["tasks"][0]["assignee_id"] == agent2 and ticket["tasks"][0]["status"] == "done"


async def test_context_reports_are_limited_per_person(desk: Desk) -> None:
    """A script posting its page in a loop would ring every staff console: past the limit
    the report is refused (429 with Retry-After) and nothing is stored or rung."""
    visitor = desk.chat.visitor
    headers = {"Authorization": f"Bearer {visitor.token}", "User-Agent": CHROME}
    for n in range(REPORTS_PER_WINDOW):
        ok = await desk.http.post("/api/widget/context", json={"page_url": f"https://shop.example/{n}"}, headers=headers)
        assert ok.status_code == 204, ok.text
    refused = await desk.http.post("/api/widget/context", json={"page_url": "https://shop.example/x"}, headers=headers)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_reports", refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= REPORT_WINDOW_SECONDS + 1  # rounded up
    conv = desk.chat.conversation_id
    context = (await desk.call(desk.agent, "GET", f"/api/desk/conversations/{conv}", expect=200))["context"]
    assert context["page_url"] == f"https://shop.example/{REPORTS_PER_WINDOW - 1}"
