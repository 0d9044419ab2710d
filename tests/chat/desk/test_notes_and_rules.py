"""Support notes on customers and the assignment rules' configuration, over HTTP."""

from __future__ import annotations

from tests.support.desk import Desk


async def test_agents_write_notes_on_customers_everyone_on_staff_reads_them(desk: Desk) -> None:
    customer_id = desk.chat.visitor.principal.user_id
    path = f"/api/desk/customers/{customer_id}/notes"
    first = (await desk.call(desk.agent, "POST", path, {"body": "Prefers e-mail. Call back after 14:00."}, expect=201))["note"]
    second = (await desk.call(desk.admin, "POST", path, {"body": "VIP since March"}, expect=201))["note"]
    assert first["author"]["id"] == desk.agent.principal.user_id

    seen = (await desk.call(desk.readonly, "GET", path, expect=200))["notes"]
    assert [n["body"] for n in seen] == ["VIP since March", "Prefers e-mail. Call back after 14:00."]

    # Read-only staff change nothing; customers see no notes at all, not even their own.
    assert (await desk.call(desk.readonly, "POST", path, {"body": "x"}, expect=403))["error"]["code"] == "forbidden"
    await desk.call(desk.chat.visitor, "GET", path, expect=403)
    # Notes are about customers, not staff; empty notes are refused.
    await desk.call(desk.agent, "POST", f"/api/desk/customers/{desk.admin.principal.user_id}/notes", {"body": "x"}, expect=404)
    await desk.call(desk.agent, "POST", path, {"body": "   "}, expect=422)

    # The author takes a note back; another agent may not, a support admin may.
    await desk.call(desk.chat.agent2, "DELETE", f"/api/desk/notes/{first['id']}", expect=403)
    await desk.call(desk.agent, "DELETE", f"/api/desk/notes/{first['id']}", expect=204)
    await desk.call(desk.admin, "DELETE", f"/api/desk/notes/{second['id']}", expect=204)
    assert (await desk.call(desk.agent, "GET", path, expect=200))["notes"] == []


async def test_admins_configure_rules_and_the_default_assignee(desk: Desk) -> None:
    agent_id = desk.agent.principal.user_id
    rule = (await desk.call(desk.admin, "POST", "/api/desk/rules", {
        "name": "Critical device errors", "assignee_id": agent_id, "category": "device_error", "severity": 1,
    }, expect=201))["rule"]
    later = (await desk.call(desk.admin, "POST", "/api/desk/rules", {
        "name": "E-mail", "assignee_id": desk.chat.agent2.principal.user_id, "source": "email",
    }, expect=201))["rule"]
    assert (rule["position"], later["position"]) == (1, 2)
    moved = (await desk.call(desk.admin, "PATCH", f"/api/desk/rules/{later['id']}", {"position": 0, "source": None}, expect=200))["rule"]
    assert (moved["position"], moved["source"]) == (0, None)

    await desk.call(desk.admin, "PUT", "/api/desk/default-assignee", {"user_id": agent_id}, expect=200)
    listed = await desk.call(desk.readonly, "GET", "/api/desk/rules", expect=200)
    assert [r["name"] for r in listed["rules"]] == ["E-mail", "Critical device errors"]
    assert listed["default_assignee_id"] == agent_id

    # Nobody but a support admin changes them, and bad input changes nothing.
    await desk.call(desk.agent, "POST", "/api/desk/rules", {"name": "x", "assignee_id": agent_id}, expect=403)
    await desk.call(desk.readonly, "PUT", "/api/desk/default-assignee", {"user_id": None}, expect=403)
    await desk.call(desk.admin, "POST", "/api/desk/rules", {"name": "x", "assignee_id": agent_id, "severity": 7}, expect=422)
    await desk.call(desk.admin, "POST", "/api/desk/rules",
                    {"name": "x", "assignee_id": desk.readonly.principal.user_id}, expect=422)
    await desk.call(desk.admin, "POST", "/api/desk/rules",
                    {"name": "x", "assignee_id": desk.chat.visitor.principal.user_id}, expect=422)
    await desk.call(desk.admin, "PUT", "/api/desk/default-assignee", {"user_id": desk.chat.visitor.principal.user_id}, expect=422)
    await desk.call(desk.admin, "POST", "/api/desk/rules", {"name": "x", "assignee_id": agent_id, "extra": 1}, expect=422)
    assert len((await desk.call(desk.admin, "GET", "/api/desk/rules", expect=200))["rules"]) == 2

    await desk.call(desk.admin, "DELETE", f"/api/desk/rules/{rule['id']}", expect=204)
    await desk.call(desk.admin, "PUT", "/api/desk/default-assignee", {"user_id": None}, expect=200)
    listed = await desk.call(desk.admin, "GET", "/api/desk/rules", expect=200)
    assert ([r["id"] for r in listed["rules"]], listed["default_assignee_id"]) == ([later["id"]], None)


async def test_admins_edit_the_transfer_groups_and_a_group_in_use_stays(desk: Desk) -> None:
    created = (await desk.call(desk.admin, "POST", "/api/desk/groups",
                               {"key": "billing", "name": "Billing", "level": 2}, expect=201))["group"]
    assert created["position"] == 4  # after the four seeded groups
    await desk.call(desk.admin, "POST", "/api/desk/groups", {"key": "billing", "name": "Again", "level": 2}, expect=409)
    await desk.call(desk.admin, "POST", "/api/desk/groups", {"key": "Bad Key", "name": "x", "level": 2}, expect=422)
    await desk.call(desk.admin, "POST", "/api/desk/groups", {"key": "x", "name": "x", "level": 4}, expect=422)
    await desk.call(desk.agent, "POST", "/api/desk/groups", {"key": "y", "name": "y", "level": 2}, expect=403)
    await desk.call(desk.readonly, "PATCH", "/api/desk/groups/billing", {"name": "z"}, expect=403)

    renamed = (await desk.call(desk.admin, "PATCH", "/api/desk/groups/billing", {"name": "Billing & invoices", "level": 3},
                               expect=200))["group"]
    assert (renamed["name"], renamed["level"]) == ("Billing & invoices", 3)
    support = (await desk.call(desk.agent, "GET", "/api/groups/support", expect=200))["groups"]
    assert {"key": "billing", "name": "Billing & invoices", "level": 3} in [
        {k: g[k] for k in ("key", "name", "level")} for g in support]
    inbox = await desk.call(desk.agent, "GET", "/api/desk/inbox", expect=200)
    assert "group:billing" in [q["key"] for q in inbox["queues"]]

    # A ticket in the group keeps it from being deleted.
    conv = desk.chat.conversation_id
    await desk.call(desk.agent, "POST", f"/api/tickets/{conv}/transfer", {"group": "billing"}, expect=200)
    in_use = await desk.call(desk.admin, "DELETE", "/api/desk/groups/billing", expect=409)
    assert in_use["error"]["code"] == "group_in_use"
    await desk.call(desk.agent, "POST", f"/api/tickets/{conv}/transfer", {"group": "vendor"}, expect=200)
    await desk.call(desk.admin, "DELETE", "/api/desk/groups/billing", expect=204)
    await desk.call(desk.admin, "DELETE", "/api/desk/groups/billing", expect=404)
