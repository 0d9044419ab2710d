"""The Team page's changes are audited (issue 19): agents' limits, assignment rules and the
default assignee, canned replies, support groups, reseller settings — each a ``config.*``
row written with the change, before → after the JSON view GET returns, read back through
``GET /api/audit`` by read-only staff; a refused change leaves no row. Both databases."""

from __future__ import annotations

from typing import Any

from chat import directory
from chat.models import OrgKind
from tests.support.desk import Desk


async def _config_rows(desk: Desk, **query: str) -> list[dict[str, Any]]:
    params = "&".join(f"{k}={v}" for k, v in {"action": "config.", **query}.items())
    page = await desk.call(desk.readonly, "GET", f"/api/audit?{params}", expect=200)
    return list(page["entries"])


async def test_an_agents_limit_change_is_audited_with_before_and_after(desk: Desk) -> None:
    agent_id = desk.agent.principal.user_id
    await desk.call(desk.admin, "PATCH", f"/api/desk/agents/{agent_id}", {"max_chats": 7}, expect=200)
    # An agent stepping away themselves is their working day, not a configuration change.
    await desk.call(desk.agent, "PATCH", "/api/desk/me", {"away": True}, expect=200)

    [row] = await _config_rows(desk)
    assert row["action"] == "config.agent.update"
    assert row["actor"]["id"] == desk.admin.principal.user_id
    assert row["target"] == {"kind": "agent", "id": str(agent_id)}
    assert row["before"]["max_chats"] == 5 and row["after"]["max_chats"] == 7
    assert {k for k in row["after"] if row["after"][k] != row["before"][k]} == {"max_chats"}

    refused = await desk.call(desk.admin, "PATCH", f"/api/desk/agents/{agent_id}", {"max_chats": 1000}, expect=422)
    assert refused["error"]["field"] == "max_chats"
    assert len(await _config_rows(desk)) == 1


async def test_rules_and_the_default_assignee_are_audited(desk: Desk) -> None:
    agent_id = desk.agent.principal.user_id
    created = (await desk.call(desk.admin, "POST", "/api/desk/rules",
                               {"name": "Billing", "assignee_id": agent_id, "category": "billing"}, expect=201))["rule"]
    await desk.call(desk.admin, "PATCH", f"/api/desk/rules/{created['id']}", {"severity": 1}, expect=200)
    await desk.call(desk.admin, "PUT", "/api/desk/default-assignee", {"user_id": agent_id}, expect=200)
    await desk.call(desk.admin, "DELETE", f"/api/desk/rules/{created['id']}", expect=204)

    rows = await _config_rows(desk)
    assert [r["action"] for r in rows] == [
        "config.rule.delete", "config.rule.default_assignee", "config.rule.update", "config.rule.create"]
    delete, default, update, create = rows
    assert create["before"] is None and create["after"] == created
    assert update["before"]["severity"] is None and update["after"]["severity"] == 1
    assert update["target"] == {"kind": "rule", "id": str(created["id"])}
    assert default["before"] == {"default_assignee_id": None} and default["after"] == {"default_assignee_id": agent_id}
    assert delete["before"]["severity"] == 1 and delete["after"] is None

    # Refusals name the field and leave no row.
    bad = [({"name": " ", "assignee_id": agent_id}, "name"),
           ({"name": "X", "assignee_id": desk.readonly.principal.user_id}, "assignee_id"),
           ({"name": "X", "assignee_id": agent_id, "severity": 9}, "severity"),
           ({"name": "X", "assignee_id": agent_id, "category": "no spaces"}, "category")]
    for body, field in bad:
        answer = await desk.call(desk.admin, "POST", "/api/desk/rules", body, expect=422)
        assert answer["error"]["field"] == field, answer
    refused = await desk.call(desk.admin, "PUT", "/api/desk/default-assignee",
                              {"user_id": desk.readonly.principal.user_id}, expect=422)
    assert refused["error"]["field"] == "user_id"
    assert len(await _config_rows(desk)) == 4


async def test_canned_replies_are_audited_and_a_taken_shortcut_leaves_no_row(desk: Desk) -> None:
    reply = (await desk.call(desk.admin, "POST", "/api/desk/canned-replies",
                             {"title": "Hello", "body": "Hi there", "shortcut": "hi"}, expect=201))["canned_reply"]
    await desk.call(desk.admin, "PATCH", f"/api/desk/canned-replies/{reply['id']}", {"body": "Hi again"}, expect=200)
    taken = await desk.call(desk.admin, "POST", "/api/desk/canned-replies",
                            {"title": "Other", "body": "B", "shortcut": "hi"}, expect=409)
    assert taken["error"]["field"] == "shortcut"
    for body, field in (({"title": "T", "body": "Hi {customer.nmae}"}, "body"), ({"title": " ", "body": "B"}, "title"),
                        ({"title": "T", "body": "B", "kb_url": "javascript:x"}, "kb_url")):
        answer = await desk.call(desk.admin, "POST", "/api/desk/canned-replies", body, expect=422)
        assert answer["error"]["field"] == field, answer
    await desk.call(desk.admin, "DELETE", f"/api/desk/canned-replies/{reply['id']}", expect=204)

    delete, update, create = await _config_rows(desk, target_kind="canned")
    assert (create["action"], update["action"], delete["action"]) == (
        "config.canned.create", "config.canned.update", "config.canned.delete")
    assert create["after"]["title"] == "Hello" and create["before"] is None
    assert (update["before"]["body"], update["after"]["body"]) == ("Hi there", "Hi again")
    assert delete["before"]["body"] == "Hi again" and delete["after"] is None


async def test_support_groups_and_reseller_settings_are_audited(desk: Desk) -> None:
    svc = desk.server.services
    await desk.call(desk.admin, "PUT", "/api/groups/support/l2", {"name": "Second line", "level": 2}, expect=200)
    await desk.call(desk.admin, "PUT", "/api/groups/support/l2", {"name": "Second line", "level": 3}, expect=200)
    reseller = (await directory.create_organization(svc, None, name="Partner", kind=OrgKind.RESELLER)).organization
    await desk.call(desk.admin, "PUT", f"/api/organizations/{reseller.id}/reseller-settings",
                    {"own_first_line": True}, expect=200)

    rows = await _config_rows(desk)
    assert [r["action"] for r in rows] == ["config.reseller.update", "config.group.update", "config.group.create"]
    partner, update, create = rows
    assert create["target"] == {"kind": "group", "id": "l2"} and create["before"] is None
    assert (update["before"]["level"], update["after"]["level"]) == (2, 3)
    assert partner["target"] == {"kind": "organization", "id": str(reseller.id)}
    assert (partner["before"]["own_first_line"], partner["after"]["own_first_line"]) == (False, True)


async def test_the_audit_filter_takes_an_action_prefix(desk: Desk) -> None:
    agent_id = desk.agent.principal.user_id
    await desk.call(desk.admin, "PATCH", f"/api/desk/agents/{agent_id}", {"max_chats": 3}, expect=200)
    await desk.call(desk.admin, "POST", "/api/desk/canned-replies", {"title": "T", "body": "B"}, expect=201)
    assert [r["action"] for r in await _config_rows(desk, action="config.canned.")] == ["config.canned.create"]
    assert [r["action"] for r in await _config_rows(desk, action="config.agent.update")] == ["config.agent.update"]
    assert len(await _config_rows(desk)) == 2
