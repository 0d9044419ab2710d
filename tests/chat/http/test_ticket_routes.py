"""The tickets HTTP API against a live server (docs/http.md, "Tickets").

The use cases behind it run on both backends in tests/escalation; here the HTTP layer is
checked once, on SQLite: parsing, status codes, error bodies, who may do what. The
server's own sweeper is off so nothing moves behind the tests' backs.
"""

from __future__ import annotations

import pytest

from chat.client import ProtocolError
from tests.escalation.people import People


async def test_categories_and_support_groups(people: People) -> None:
    for who in ("visitor", "customer"):
        categories = (await people.call(who, "GET", "/api/categories"))["categories"]
        assert all(c["customer_selectable"] for c in categories)
        assert {c["key"] for c in categories} == {"data_accuracy", "technical_question", "training_request",
                                                  "configuration_request", "service_request"}
        assert "availability" not in categories[0]
    staff = {c["key"]: c for c in (await people.call("readonly", "GET", "/api/categories"))["categories"]}
    assert staff["device_error"]["availability"] == "staff" and not staff["device_error"]["customer_selectable"]
    assert staff["data_accuracy"]["sla"] == {"resolution": {"business_days": 3}, "stage_one": None}
    groups = await people.call("agent", "GET", "/api/groups/support")
    assert groups["levels"] == [1, 2, 3]
    assert [(g["key"], g["name"], g["level"]) for g in groups["groups"]] == [
        ("second_level", "Second level", 2), ("marketing", "Marketing", 2), ("vendor", "Vendor", 3),
        ("incidents", "Incidents", 2)]
    await people.error("customer", "GET", "/api/groups/support", None, 403, "forbidden")
    await people.error("nobody", "GET", "/api/categories", None, 401, "unauthenticated")


async def test_open_read_and_list_tickets(people: People) -> None:
    body = {"subject": "Mileage doubled", "description": "Since Monday", "category": "data_accuracy",
            "severity": 2, "assets": ["TRUCK-7"], "happened_at": "2026-03-01T10:00:00Z",
            "cc": [people.ids["colleague"]]}
    created = await people.call("customer", "POST", "/api/tickets", body, expect=201)
    ticket, conversation = created["ticket"], created["conversation"]
    assert ticket["id"] == conversation["id"] == ticket["conversation_id"]
    assert (ticket["status"], ticket["channel"], ticket["tracked"], ticket["next_action"]) == ("new", "web", True, "support")
    assert ticket["happened_at"] == "2026-03-01T10:00:00+00:00" and "deadlines" not in ticket
    tid = ticket["id"]
    assert (await people.call("colleague", "GET", f"/api/tickets/{tid}"))["ticket"]["subject"] == "Mileage doubled"
    await people.error("stranger", "GET", f"/api/tickets/{tid}", None, 404, "not_found")
    await people.error("agent", "GET", "/api/tickets/abc", None, 422, "validation_failed")
    staff = (await people.call("readonly", "GET", f"/api/tickets/{tid}"))["ticket"]
    assert set(staff["deadlines"]) == {"first_response", "resolution"} and staff["tasks"] == []
    for bad, status, code in (
        ({"subject": "x", "description": "y", "category": "device_error"}, 422, "category_not_allowed"),
        ({"subject": "x", "description": "y", "severity": "high"}, 422, "validation_failed"),
        ({"subject": "x", "description": "y", "happened_at": "2026-03-01T10:00:00"}, 422, "validation_failed"),
        ({"subject": "x"}, 422, "validation_failed"),
        ({"subject": "x", "description": "y", "extra": 1}, 422, "validation_failed"),
    ):
        await people.error("customer", "POST", "/api/tickets", bad, status, code)
    offline: dict[str, object] = {"channel": "widget_offline", "subject": "Call me", "description": "Nobody online", "email": "v@example.org"}
    second = (await people.call("visitor", "POST", "/api/tickets", offline, expect=201))["ticket"]
    third = (await people.call("agent", "POST", "/api/tickets", {
        "channel": "phone", "subject": "Caller", "description": "Printer", "requester_id": people.ids["customer"]},
        expect=201))["ticket"]
    assert third["requester"]["id"] == people.ids["customer"]
    listed = await people.call("agent", "GET", "/api/tickets?limit=2")
    assert [t["id"] for t in listed["tickets"]] == [third["id"], second["id"]] and listed["next_cursor"]
    rest = await people.call("agent", "GET", f"/api/tickets?limit=2&cursor={listed['next_cursor']}")
    assert [t["id"] for t in rest["tickets"]] == [tid] and rest["next_cursor"] is None
    for query, expected in (("status=new&tracked=true", {tid, second["id"], third["id"]}), ("q=mileage", {tid}),
                            (f"q={tid}", {tid}), ("assignee=me", set()), ("status=open&level=1&group=none",
                            {tid, second["id"], third["id"]}), ("category=data_accuracy", {tid})):
        found = await people.call("agent", "GET", f"/api/tickets?{query}")
        assert {t["id"] for t in found["tickets"]} == expected, query
    for bad_query in ("status=bogus", "level=7", "tracked=maybe", "assignee=x", "cursor=%%%", "limit=0"):
        await people.error("agent", "GET", f"/api/tickets?{bad_query}", None, 422, "validation_failed")
    await people.error("customer", "GET", "/api/tickets", None, 403, "forbidden")


async def test_staff_work_a_ticket_and_everyone_else_is_refused(people: People) -> None:
    tid = (await people.call("customer", "POST", "/api/tickets",
                             {"subject": "Gateway", "description": "Offline"}, expect=201))["ticket"]["id"]
    base = f"/api/tickets/{tid}"
    for who, status, code in (("customer", 403, "forbidden"), ("readonly", 403, "forbidden"),
                              ("stranger", 404, "not_found")):
        await people.error(who, "PATCH", base, {"severity": 1}, status, code)
        await people.error(who, "POST", f"{base}/assign", {"assignee_id": people.ids["agent"]}, status, code)
        await people.error(who, "POST", f"{base}/tasks", {"text": "x", "type": "internal"}, status, code)
    ticket = (await people.call("agent", "PATCH", base, {"severity": 1, "category": "device_error",
                                                          "assets": ["GW-9"]}))["ticket"]
    assert (ticket["severity"], ticket["category"], ticket["assets"]) == (1, "device_error", ["GW-9"])
    await people.error("agent", "PATCH", base, {"label": "Invented"}, 422, "invalid_label")
    await people.error("agent", "POST", f"{base}/status", {"action": "fly"}, 422, "validation_failed")
    await people.error("agent", "POST", f"{base}/status", {"action": "propose_close"}, 409, "illegal_transition")
    await people.error("customer", "POST", f"{base}/status", {"action": "propose_close"}, 403, "actor_not_allowed")
    ticket = (await people.call("agent", "POST", f"{base}/status", {"action": "start", "note": "mine"}))["ticket"]
    assert ticket["status"] == "in_progress"
    ticket = (await people.call("agent", "POST", f"{base}/assign", {"assignee_id": people.ids["agent2"]}))["ticket"]
    assert ticket["assignee"]["id"] == people.ids["agent2"]
    await people.error("agent", "POST", f"{base}/assign", {"assignee_id": people.ids["agent2"]}, 409, "no_change")
    await people.error("agent", "POST", f"{base}/transfer", {"group": "nowhere"}, 422, "invalid_transfer")
    await people.error("agent", "POST", f"{base}/transfer", {}, 422, "validation_failed")
    ticket = (await people.call("agent", "POST", f"{base}/transfer", {"group": "incidents", "note": "outage"}))["ticket"]
    assert (ticket["level"], ticket["group"]) == (2, "incidents")
    task = (await people.call("agent", "POST", f"{base}/tasks", {"text": "Replace PSU", "type": "support_operation",
                                                                 "hours": 2, "due_at": "2026-03-03T12:00:00Z"},
                              expect=201))["task"]
    assert task["due_at"] == "2026-03-03T12:00:00+00:00"
    task = (await people.call("agent", "PATCH", f"{base}/tasks/{task['id']}", {"status": "done"}))["task"]
    assert task["status"] == "done"
    await people.error("agent", "PATCH", f"{base}/tasks/999999", {"status": "done"}, 404, "not_found")
    await people.error("agent", "POST", f"{base}/tasks", {"text": "x", "type": "internal", "hours": -1}, 422,
                       "validation_failed")
    ticket = (await people.call("agent", "POST", f"/api/conversations/{tid}/escalate", {"level": 3}))["ticket"]
    assert (ticket["level"], ticket["group"]) == (3, None)
    await people.error("agent", "POST", f"/api/conversations/{tid}/escalate", {}, 409, "already_tracked")
    # The customer's view keeps the desk's internals out.
    mine = (await people.call("customer", "GET", base))["ticket"]
    assert not {"tasks", "assignee", "level", "group", "deadlines", "escalation_step"} & set(mine)


async def test_close_rate_and_follow_up(people: People) -> None:
    conv = (await people.call("customer", "POST", "/api/conversations", {"subject": "Help", "body": "Hi"},
                              expect=201))["conversation"]["id"]
    await people.error("customer", "POST", f"/api/conversations/{conv}/rating", {"value": "good"}, 409,
                       "rating_not_allowed")
    await people.error("customer", "POST", "/api/conversations", {"linked_to": conv, "body": "more"}, 409, "not_closed")
    await people.error("stranger", "POST", f"/api/conversations/{conv}/close", None, 404, "not_found")
    await people.error("agent", "POST", f"/api/conversations/{conv}/close", None, 403, "forbidden")
    await people.error("customer", "POST", f"/api/conversations/{conv}/close", {"rating": {"value": "great"}}, 422,
                       "validation_failed")
    closed = (await people.call("customer", "POST", f"/api/conversations/{conv}/close",
                                {"rating": {"value": "good", "comment": "quick"}}))["ticket"]
    assert (closed["status"], [r["value"] for r in closed["ratings"]]) == ("closed", ["good"])
    await people.error("customer", "POST", f"/api/conversations/{conv}/rating", {"value": "bad"}, 409, "already_rated")
    await people.error("customer", "POST", f"/api/conversations/{conv}/close", None, 409, "conversation_closed")
    follow = (await people.call("customer", "POST", "/api/conversations",
                                {"subject": "Again", "body": "It is back", "linked_to": conv}, expect=201))["conversation"]
    assert (await people.call("customer", "GET", f"/api/tickets/{follow['id']}"))["ticket"]["linked_from"] == conv
    assert (await people.call("customer", "GET", f"/api/tickets/{conv}"))["ticket"]["linked_to"] == follow["id"]
    # Proposed to close: the customer may rate without closing.
    await people.call("agent", "POST", f"/api/tickets/{follow['id']}/status", {"action": "start"})
    await people.call("agent", "POST", f"/api/tickets/{follow['id']}/status", {"action": "propose_close"})
    rated = await people.call("customer", "POST", f"/api/conversations/{follow['id']}/rating",
                              {"value": "none", "reason": "n/a"}, expect=201)
    assert rated["ticket"]["status"] == "proposed_to_close"
    listed = (await people.call("customer", "GET", "/api/conversations"))["conversations"]
    assert {c["id"]: c["ticket"]["status"] for c in listed} == {conv: "closed", follow["id"]: "proposed_to_close"}
    # One conversation carries the same summary as the list, the staff's with the routing.
    for who in ("customer", "agent"):
        listed = (await people.call(who, "GET", "/api/conversations"))["conversations"]
        one = (await people.call(who, "GET", f"/api/conversations/{follow['id']}"))["conversation"]
        assert one["ticket"] == next(c["ticket"] for c in listed if c["id"] == follow["id"])
        assert ("level" in one["ticket"]) is (who == "agent")


async def test_admins_edit_the_dictionaries_and_bad_ones_are_refused(people: People) -> None:
    await people.error("agent", "PUT", "/api/categories/firmware", {"name": "Firmware"}, 403, "forbidden")
    category = (await people.call("admin", "PUT", "/api/categories/firmware", {
        "name": "Firmware update", "resolution": {"hours": 8}, "default_severity": 2, "position": 20}))["category"]
    assert category["sla"]["resolution"] == {"minutes": 480} and category["customer_selectable"]
    for bad, code in (({"name": "x", "resolution": {"hours": -1}}, "invalid_policy"),
                      ({"name": "x", "resolution": {"days": 2}}, "invalid_policy"),
                      ({"name": "x", "resolution": {"business_days": 400}}, "invalid_policy"),
                      ({"name": "x", "availability": "everyone"}, "invalid_policy"),
                      ({"name": "x", "default_severity": 5}, "invalid_policy")):
        await people.error("admin", "PUT", "/api/categories/bad", bad, 422, code)
    await people.error("admin", "PUT", "/api/categories/Bad Key", {"name": "x"}, 422, "invalid_policy")
    week = {"0": [["09:00", "13:00"], ["14:00", "18:00"]], "4": [["09:00", "16:00"]]}
    calendar = (await people.call("admin", "PUT", "/api/sla/calendars/berlin", {"name": "Berlin office", "definition": {
        "timezone": "Europe/Berlin", "weekly": week, "holidays": "DE", "closed_dates": ["2026-12-24"]}}))["calendar"]
    assert calendar["definition"]["weekly"]["0"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    for definition in ({"timezone": "Mars/Olympus", "weekly": week},
                       {"timezone": "UTC", "weekly": {"0": [["09:00", "13:00"], ["12:00", "18:00"]]}},
                       {"timezone": "UTC", "weekly": {}},
                       {"timezone": "UTC", "weekly": week, "holidays": "XX"},
                       {"timezone": "UTC", "weekly": {"0": [["18:00", "09:00"]]}}):
        await people.error("admin", "PUT", "/api/sla/calendars/bad", {"name": "Bad", "definition": definition}, 422,
                           "invalid_calendar")
    policy = (await people.call("admin", "POST", "/api/sla/policies", {
        "name": "Critical on office hours", "severity": 1, "calendar": "berlin", "first_response": {"minutes": 15},
        "resolution": {"business_days": 1}, "warning_share": 0.5}, expect=201))["policy"]
    await people.error("admin", "POST", "/api/sla/policies", {"name": "Twin", "severity": 1, "calendar": "berlin"}, 422,
                       "invalid_policy")
    await people.error("admin", "POST", "/api/sla/policies", {"name": "x", "calendar": "nowhere"}, 422,
                       "invalid_calendar")
    await people.error("admin", "POST", "/api/sla/policies", {"name": "x", "tier": "gold", "severity": 2}, 422,
                       "validation_failed")
    await people.error("admin", "POST", "/api/sla/policies", {"name": "x", "severity": 2, "warning_share": 1.5}, 422,
                       "invalid_policy")
    ticket = (await people.call("customer", "POST", "/api/tickets", {
        "subject": "Down", "description": "All of it", "severity": 1}, expect=201))["ticket"]
    staff = (await people.call("agent", "GET", f"/api/tickets/{ticket['id']}"))["ticket"]
    assert staff["sla_policy"] == "Critical on office hours"
    group = (await people.call("admin", "PUT", "/api/groups/support/billing",
                               {"name": "Billing", "level": 2, "lead_id": people.ids["agent"]}))["group"]
    assert group == {"key": "billing", "name": "Billing", "level": 2, "lead_id": people.ids["agent"], "position": 0}
    await people.error("admin", "PUT", "/api/groups/support/bad", {"name": "Bad", "level": 4}, 422, "validation_failed")
    await people.error("admin", "PUT", "/api/groups/support/bad", {"name": "Bad", "level": 2,
                                                                   "lead_id": people.ids["customer"]}, 422,
                       "validation_failed")
    await people.call("admin", "DELETE", f"/api/sla/policies/{policy['id']}", expect=204)
    await people.error("admin", "DELETE", f"/api/sla/policies/{policy['id']}", None, 404, "not_found")
    assert len((await people.call("readonly", "GET", "/api/sla/policies"))["policies"]) == 3


async def test_a_closed_conversation_takes_nothing_more_from_anyone(people: People) -> None:
    """Closed by the customer, a chat refuses staff's replies and notes too, over the socket
    (``conversation_closed``, nothing stored) and for uploads; the console is told so (no
    reply, no note) — and there is no reopen of a closed ticket."""
    conv = (await people.call("customer", "POST", "/api/conversations", {"subject": "Help", "body": "Hi"},
                              expect=201))["conversation"]["id"]
    async with people.client("agent") as agent:
        await agent.join(conv)
        await agent.send(conv, "how can I help?")
        await people.call("customer", "POST", f"/api/conversations/{conv}/close", {})
        last = (await people.call("agent", "GET", f"/api/conversations/{conv}"))["conversation"]["last_seq"]
        for internal in (False, True):
            with pytest.raises(ProtocolError) as refused:
                await agent.send(conv, "one more thing", internal=internal)
            assert refused.value.code == "conversation_closed"
        assert (await people.call("agent", "GET", f"/api/conversations/{conv}"))["conversation"]["last_seq"] == last
    abilities = (await people.call("agent", "GET", f"/api/desk/conversations/{conv}"))["can"]
    assert (abilities["reply"], abilities["internal"]) == (False, False)
    r = await people.http.post(f"/api/conversations/{conv}/attachments?filename=a.txt", content=b"late",
                               headers={"Authorization": f"Bearer {people.tokens['agent']}",
                                        "Content-Type": "text/plain"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "conversation_closed")
    await people.error("agent", "POST", f"/api/tickets/{conv}/status", {"action": "reopen"}, 409,
                       "illegal_transition")
