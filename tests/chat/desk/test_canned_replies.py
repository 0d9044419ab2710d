"""Canned replies over HTTP: admins edit, staff search and fill them in, nobody else."""

from __future__ import annotations

import pytest

from chat.desk.placeholders import check, render
from chat.errors import ValidationFailed
from tests.support.desk import Desk


def test_placeholders_fill_in_with_fallbacks_and_unknown_names_are_refused() -> None:
    text = "Hi {customer.first_name|there}, {agent.name} from {organization.name|our team} here."
    assert render(text, {"customer.first_name": "Vera", "agent.name": "Alex"}) == "Hi Vera, Alex from our team here."
    assert render(text, {"customer.first_name": "", "agent.name": None}) == "Hi there,  from our team here."
    check(text)
    with pytest.raises(ValidationFailed, match=r"\{customer.nmae\}"):
        check("Hello {customer.nmae}")


async def test_an_admin_creates_a_reply_staff_search_it_and_it_fills_in_for_a_conversation(desk: Desk) -> None:
    created = await desk.call(desk.admin, "POST", "/api/desk/canned-replies", {
        "title": "Greeting", "body": "Hello {customer.first_name|there}, this is {agent.first_name}. About #{conversation.id}:",
        "shortcut": "/Hello", "kb_url": "https://kb.example/start",
    }, expect=201)
    reply = created["canned_reply"]
    assert reply["shortcut"] == "hello"
    await desk.call(desk.admin, "POST", "/api/desk/canned-replies",
                    {"title": "Reset password", "body": "Use the reset link."}, expect=201)

    found = await desk.call(desk.readonly, "GET", "/api/desk/canned-replies?q=HELLO", expect=200)
    assert [r["title"] for r in found["canned_replies"]] == ["Greeting"]
    everything = await desk.call(desk.agent, "GET", "/api/desk/canned-replies", expect=200)
    assert [r["title"] for r in everything["canned_replies"]] == ["Greeting", "Reset password"]

    conv = desk.chat.conversation_id
    rendered = await desk.call(desk.agent, "POST", f"/api/desk/canned-replies/{reply['id']}/render",
                               {"conversation_id": conv}, expect=200)
    # The visitor is "Vera Visitor", the agent "agent"; the KB link goes at the end.
    assert rendered["text"] == f"Hello Vera, this is agent. About #{conv}:\n\nhttps://kb.example/start"


async def test_only_support_admins_edit_replies_and_bad_input_changes_nothing(desk: Desk) -> None:
    body = {"title": "T", "body": "B"}
    for who in (desk.agent, desk.readonly):
        answer = await desk.call(who, "POST", "/api/desk/canned-replies", body, expect=403)
        assert answer["error"]["code"] == "forbidden"
    customer = desk.chat.visitor
    assert (await desk.call(customer, "GET", "/api/desk/canned-replies", expect=403))["error"]["code"] == "forbidden"

    bad = await desk.call(desk.admin, "POST", "/api/desk/canned-replies", {"title": "T", "body": "Hi {customer.nmae}"}, expect=422)
    assert "customer.nmae" in bad["error"]["message"]
    await desk.call(desk.admin, "POST", "/api/desk/canned-replies",
                    {"title": "T", "body": "B", "kb_url": "javascript:alert(1)"}, expect=422)
    await desk.call(desk.admin, "POST", "/api/desk/canned-replies", {"title": " ", "body": "B"}, expect=422)
    assert (await desk.call(desk.admin, "GET", "/api/desk/canned-replies", expect=200))["canned_replies"] == []

    first = (await desk.call(desk.admin, "POST", "/api/desk/canned-replies",
                             {"title": "One", "body": "1", "shortcut": "one"}, expect=201))["canned_reply"]
    taken = await desk.call(desk.admin, "POST", "/api/desk/canned-replies",
                            {"title": "Two", "body": "2", "shortcut": "ONE"}, expect=409)
    assert taken["error"]["code"] == "shortcut_taken"

    updated = await desk.call(desk.admin, "PATCH", f"/api/desk/canned-replies/{first['id']}",
                              {"body": "Dear {customer.name}", "shortcut": None}, expect=200)
    assert (updated["canned_reply"]["body"], updated["canned_reply"]["shortcut"]) == ("Dear {customer.name}", None)
    await desk.call(desk.agent, "DELETE", f"/api/desk/canned-replies/{first['id']}", expect=403)
    await desk.call(desk.admin, "DELETE", f"/api/desk/canned-replies/{first['id']}", expect=204)
    await desk.call(desk.admin, "DELETE", f"/api/desk/canned-replies/{first['id']}", expect=404)
