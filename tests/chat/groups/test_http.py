"""The groups HTTP API as documented in docs/http.md ("Groups"): shapes, statuses, error
codes, and tickets raised from group chats and from direct customers' join requests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.chat.groups.helpers import GroupWorld, Person, make_group_world
from tests.support.live import LiveServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def world(server: LiveServer) -> GroupWorld:
    return await make_group_world(server.services)


def auth(p: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {p.token}"}


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def _request(http: httpx.AsyncClient, p: Person, group: int | str) -> dict[str, Any]:
    r = await http.post("/api/group-join-requests", json={"group": group}, headers=auth(p))
    assert r.status_code == 201, r.text
    return dict(r.json()["request"])


async def test_groups_are_created_listed_and_changed(world: GroupWorld, http: httpx.AsyncClient) -> None:
    r = await http.post("/api/chat-groups", json={"organization": world.acme, "name": "  Billing ",
                                                  "history": "since_join"}, headers=auth(world.r1admin))
    assert r.status_code == 201, r.text
    billing = r.json()["group"]
    assert billing["name"] == "Billing" and billing["history"] == "since_join" and billing["membership"] is None
    refusals = [
        # Not its customer: the same 404 as a company that does not exist (issue 20).
        (world.r2admin, {"organization": world.acme, "name": "X"}, (404, "organization_not_found")),
        (world.alice, {"organization": world.acme, "name": "X"}, (403, "forbidden")),
        (world.readonly, {"organization": world.acme, "name": "X"}, (403, "forbidden")),
        (world.agent, {"organization": world.reseller1, "name": "X"}, (422, "validation_failed")),
        (world.agent, {"organization": world.acme, "name": "Billing"}, (409, "group_name_taken")),
        (world.agent, {"organization": world.acme, "name": " "}, (422, "validation_failed")),
        (world.agent, {"organization": world.acme, "name": "X", "history": "sometimes"}, (422, "validation_failed")),
        (world.agent, {"organization": "no-such-org", "name": "X"}, (404, "organization_not_found")),
        (world.agent, {"organization": world.acme, "name": "X", "colour": "red"}, (422, "validation_failed")),
    ]
    for who, body, expected in refusals:
        assert error(await http.post("/api/chat-groups", json=body, headers=auth(who))) == expected, (who.name, body)
    names = lambda r: [(g["organization_id"], g["name"]) for g in r.json()["groups"]]  # noqa: E731
    assert names(await http.get("/api/chat-groups", headers=auth(world.alice))) == [
        (world.acme, "Billing"), (world.acme, "Ops")]
    assert names(await http.get("/api/chat-groups", headers=auth(world.carol))) == []
    assert names(await http.get("/api/chat-groups", headers=auth(world.r2admin))) == []
    assert names(await http.get(f"/api/chat-groups?organization={world.direct}", headers=auth(world.agent))) == [
        (world.direct, "Ops")]

    r = await http.patch(f"/api/chat-groups/{billing['id']}", json={"name": "Invoices", "history": "full"},
                         headers=auth(world.agent))
    assert r.status_code == 200 and r.json()["group"]["name"] == "Invoices" and r.json()["group"]["history"] == "full"
    assert error(await http.patch(f"/api/chat-groups/{billing['id']}", json={"name": "Ops"},
                                  headers=auth(world.agent))) == (409, "group_name_taken")
    assert error(await http.patch(f"/api/chat-groups/{billing['id']}", json={"name": "Mine"},
                                  headers=auth(world.alice))) == (403, "forbidden")
    assert error(await http.patch(f"/api/chat-groups/{billing['id']}", json={"name": "Mine"},
                                  headers=auth(world.carol))) == (404, "group_not_found")
    conv = (await http.get(f"/api/conversations/{billing['conversation_id']}", headers=auth(world.agent))).json()
    assert conv["conversation"]["kind"] == "group" and conv["conversation"]["subject"] == "Invoices"


async def test_join_request_lifecycle_over_http(world: GroupWorld, http: httpx.AsyncClient) -> None:
    made = await _request(http, world.alice, "Ops")
    assert made["group"] == {"id": world.ops.id, "name": "Ops", "organization_id": world.acme}
    assert made["user"]["id"] == world.alice.id and made["status"] == "pending" and made["ticket_id"] is None
    bad = [
        (world.alice, {"group": "Ops"}, (409, "request_pending")),
        (world.alice, {"group": "Nope"}, (404, "group_not_found")),
        (world.alice, {"group": world.direct_group.id}, (404, "group_not_found")),
        (world.alice, {}, (422, "validation_failed")),
        (world.alice, {"group": 1.5}, (422, "validation_failed")),
        (world.agent, {"group": world.ops.id}, (403, "forbidden")),
    ]
    for who, body, expected in bad:
        r = await http.post("/api/group-join-requests", json=body, headers=auth(who))
        assert error(r) == expected, (who.name, body, r.text)
    r = await http.post("/api/group-join-requests", content=b"group=Ops", headers=auth(world.bob))
    assert error(r) == (415, "unsupported_media_type")
    assert (await http.get("/api/group-join-requests", headers=auth(world.bob))).json()["requests"] == []

    listed = (await http.get("/api/group-join-requests?status=pending", headers=auth(world.r1admin))).json()
    assert [x["id"] for x in listed["requests"]] == [made["id"]]
    assert (await http.get("/api/group-join-requests?status=pending", headers=auth(world.r2admin))).json() == {
        "requests": []}
    for query in ("?status=maybe", "?limit=0", "?mine=perhaps", "?group_id=x"):
        assert error(await http.get(f"/api/group-join-requests{query}", headers=auth(world.agent)))[0] == 422

    reject = f"/api/group-join-requests/{made['id']}/reject"
    assert error(await http.post(reject, json={}, headers=auth(world.r1admin))) == (422, "validation_failed")
    assert error(await http.post(reject, json={"reason": "no"}, headers=auth(world.r2admin))) == (404, "request_not_found")
    assert error(await http.post(reject, json={"reason": "no"}, headers=auth(world.agent))) == (403, "forbidden")
    r = await http.post(reject, json={"reason": "ask your manager first"}, headers=auth(world.r1admin))
    assert r.status_code == 200 and r.json()["request"]["status"] == "rejected"
    assert error(await http.post(f"/api/group-join-requests/{made['id']}/approve", json={},
                                 headers=auth(world.r1admin))) == (409, "already_decided")
    assert error(await http.post("/api/group-join-requests/999999/approve", json={},
                                 headers=auth(world.r1admin))) == (404, "request_not_found")
    mine = (await http.get("/api/group-join-requests?mine=true", headers=auth(world.alice))).json()["requests"]
    assert [(x["status"], x["reason"], x["decided_by"]["id"]) for x in mine] == [
        ("rejected", "ask your manager first", world.r1admin.id)]
    groups = (await http.get("/api/chat-groups", headers=auth(world.alice))).json()["groups"]
    assert [g["membership"] for g in groups] == ["rejected"]

    again = await _request(http, world.alice, world.ops.id)
    r = await http.post(f"/api/group-join-requests/{again['id']}/approve", json={"reason": "ok now"},
                        headers=auth(world.r1admin))
    assert r.status_code == 200
    detail = (await http.get(f"/api/chat-groups/{world.ops.id}", headers=auth(world.alice))).json()
    assert detail["group"]["membership"] == "member"
    assert [m["user"]["id"] for m in detail["members"]] == [world.alice.id]
    outsider = (await http.get(f"/api/chat-groups/{world.ops.id}", headers=auth(world.erin))).json()
    assert outsider["members"] is None and outsider["group"]["membership"] is None

    remove = f"/api/chat-groups/{world.ops.id}/members/{world.alice.id}/remove"
    assert error(await http.post(remove, json={}, headers=auth(world.alice))) == (403, "forbidden")
    assert error(await http.post(remove, json={}, headers=auth(world.r2admin))) == (404, "group_not_found")
    r = await http.post(remove, json={"reason": "left"}, headers=auth(world.r1admin))
    assert r.status_code == 200 and r.json()["member"]["state"] == "removed"
    assert error(await http.post(remove, json={}, headers=auth(world.r1admin))) == (404, "member_not_found")


async def test_a_direct_customers_request_opens_a_service_request_ticket(world: GroupWorld,
                                                                         http: httpx.AsyncClient) -> None:
    made = await _request(http, world.dave, "Ops")
    assert made["route"] == "platform" and made["ticket_id"] is not None
    ticket = (await http.get(f"/api/tickets/{made['ticket_id']}", headers=auth(world.agent))).json()["ticket"]
    assert ticket["category"] == "service_request" and "Ops" in ticket["subject"]
    events = (await http.get(f"/api/conversations/{made['ticket_id']}/events", headers=auth(world.agent))).json()
    description = next(e for e in events["events"] if e["kind"] == "message")
    assert "dave@direct.example" in description["body"] and f"group {world.direct_group.id}" in description["body"]
    listed = (await http.get("/api/group-join-requests?status=pending", headers=auth(world.agent))).json()
    assert [(x["id"], x["ticket_id"]) for x in listed["requests"]] == [(made["id"], made["ticket_id"])]
    r = await http.post(f"/api/group-join-requests/{made['id']}/approve", json={}, headers=auth(world.agent))
    assert r.status_code == 200 and r.json()["request"]["status"] == "approved"


async def test_escalating_a_group_message_into_a_ticket(world: GroupWorld, http: httpx.AsyncClient,
                                                        server: LiveServer) -> None:
    from chat.conversations import post_message

    made = await _request(http, world.alice, "Ops")
    await http.post(f"/api/group-join-requests/{made['id']}/approve", json={}, headers=auth(world.r1admin))
    ack, _ = await post_message(server.services, world.alice.principal, world.ops.conversation_id,
                                client_msg_id="m1", body="The export to CSV has been failing since Monday")
    path = f"/api/chat-groups/{world.ops.id}/escalate"
    assert error(await http.post(path, json={"seq": ack.seq}, headers=auth(world.alice))) == (403, "forbidden")
    assert error(await http.post(path, json={"seq": 1}, headers=auth(world.agent))) == (404, "message_not_found")
    assert error(await http.post(path, json={"seq": 999}, headers=auth(world.agent))) == (404, "message_not_found")
    r = await http.post(path, json={"seq": ack.seq, "severity": 2}, headers=auth(world.agent))
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    assert ticket["requester"]["id"] == world.alice.id and ticket["severity"] == 2
    assert ticket["subject"] == "The export to CSV has been failing since Monday"
    first = [e for e in (await http.get(f"/api/conversations/{ticket['id']}/events", headers=auth(world.alice)))
             .json()["events"] if e["kind"] == "message"]
    assert [e["body"] for e in first] == ["The export to CSV has been failing since Monday"]
    group_events = (await http.get(f"/api/conversations/{world.ops.conversation_id}/events?after_seq={ack.seq}",
                                   headers=auth(world.alice))).json()["events"]
    assert [(e["data"]["event"], e["data"]["to"], e["data"]["linked_seq"]) for e in group_events] == [
        ("ticket.linked", ticket["id"], ack.seq)]


async def test_reseller_settings_and_first_line_over_http(world: GroupWorld, http: httpx.AsyncClient) -> None:
    path = f"/api/organizations/{world.reseller1}/reseller-settings"
    assert (await http.get(path, headers=auth(world.r1admin))).json()["reseller_settings"]["own_first_line"] is False
    assert error(await http.put(path, json={"own_first_line": True}, headers=auth(world.r1admin))) == (403, "forbidden")
    assert error(await http.put(path, json={"own_first_line": "yes"}, headers=auth(world.admin)))[0] == 422
    r = await http.put(path, json={"own_first_line": True}, headers=auth(world.admin))
    assert r.status_code == 200 and r.json()["reseller_settings"]["own_first_line"] is True
    assert error(await http.get(f"/api/organizations/{world.acme}/reseller-settings",
                                headers=auth(world.admin))) == (422, "validation_failed")
    first = (await http.get(f"/api/organizations/{world.acme}/first-line", headers=auth(world.alice))).json()
    assert first == {"organization_id": world.acme, "partner_id": world.reseller1, "first_line": "partner"}
    direct = (await http.get(f"/api/organizations/{world.direct}/first-line", headers=auth(world.agent))).json()
    assert direct == {"organization_id": world.direct, "partner_id": None, "first_line": "platform"}
    assert error(await http.get(f"/api/organizations/{world.acme}/first-line", headers=auth(world.r2admin))) == (
        404, "organization_not_found")


async def test_alerts_with_files_over_http(world: GroupWorld, http: httpx.AsyncClient) -> None:
    r = await http.post("/api/alert-files?filename=login-map.png", content=PNG,
                        headers={**auth(world.agent), "Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    upload = r.json()["file"]
    r = await http.post("/api/alert-files?filename=x.png", content=PNG,
                        headers={**auth(world.alice), "Content-Type": "image/png"})
    assert error(r) == (403, "forbidden")
    r = await http.post("/api/alert-files?filename=x.html", content=b"<script>",
                        headers={**auth(world.agent), "Content-Type": "text/html"})
    assert error(r) == (415, "attachment_type")
    # Before it is sent, only its uploader (and staff) may fetch it.
    assert (await http.get(upload["url"], headers=auth(world.alice))).status_code == 404

    body = {"organization": world.acme, "type": "complaint", "title": "About ticket 7", "body": "We heard you.",
            "files": [upload["id"]]}
    bad = [
        (world.alice, body, (403, "forbidden")),
        (world.readonly, body, (403, "forbidden")),
        (world.r1admin, body, (403, "forbidden")),
        (world.agent, {**body, "type": "gossip"}, (422, "validation_failed")),
        (world.agent, {**body, "title": ""}, (422, "validation_failed")),
        (world.agent, {**body, "organization": world.reseller1}, (422, "validation_failed")),
        (world.admin, body, (422, "invalid_attachment")),  # not the admin's own upload
    ]
    for who, b, expected in bad:
        assert error(await http.post("/api/alerts", json=b, headers=auth(who))) == expected, (who.name, b)
    r = await http.post("/api/alerts", json=body, headers=auth(world.agent))
    assert r.status_code == 201, r.text
    alert = r.json()["alert"]
    assert alert["type"] == "complaint" and [f["id"] for f in alert["files"]] == [upload["id"]]
    assert alert["created_by"]["id"] == world.agent.id
    # The file cannot be used twice.
    assert error(await http.post("/api/alerts", json=body, headers=auth(world.agent))) == (422, "invalid_attachment")

    for who, expected in ((world.alice, [alert["id"]]), (world.r1admin, [alert["id"]]), (world.agent, [alert["id"]]),
                          (world.carol, []), (world.r2admin, []), (world.dave, [])):
        listed = (await http.get("/api/alerts", headers=auth(who))).json()["alerts"]
        assert [a["id"] for a in listed] == expected, who.name
    assert (await http.get(f"/api/alerts/{alert['id']}", headers=auth(world.alice))).json()["alert"] == alert
    assert error(await http.get(f"/api/alerts/{alert['id']}", headers=auth(world.carol))) == (404, "alert_not_found")
    assert error(await http.get(f"/api/alerts?organization={world.acme}", headers=auth(world.carol))) == (
        404, "organization_not_found")
    got = await http.get(upload["url"], headers=auth(world.alice))
    assert got.status_code == 200 and got.content == PNG and got.headers["x-content-type-options"] == "nosniff"
    assert (await http.get(upload["url"], headers=auth(world.carol))).status_code == 404


async def test_the_portal_is_served(world: GroupWorld, http: httpx.AsyncClient) -> None:
    r = await http.get("/portal", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/portal/"
    r = await http.get("/portal/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    # Only its own scripts; images from its own origin and blob: (chat pictures fetched with
    # the bearer token, never a token in a URL).
    assert "script-src" not in r.headers["content-security-policy"]
    assert "img-src 'self' data: blob:" in r.headers["content-security-policy"]
    for path in ("/portal/js/app.js", "/portal/js/tickets.js", "/portal/i18n/portal.js"):
        assert (await http.get(path)).status_code == 200, path
