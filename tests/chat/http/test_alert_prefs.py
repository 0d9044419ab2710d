"""The console's profile switches of issue 18's alerts over HTTP: the language un-chosen
(``"language": null``) and the support groups whose transfers alert me (``ui_prefs.groups``)."""

from __future__ import annotations

import httpx

from tests.chat.http.test_account import make_user, sign_in
from tests.support.live import LiveServer


async def test_the_language_can_be_unchosen_and_groups_followed(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server)
    await sign_in(http, "agent@example.com")
    chosen = (await http.patch("/api/me", json={"language": "ru"})).json()["user"]
    assert (chosen["language"], chosen["language_chosen"]) == ("ru", True)
    # Absent: unchanged.
    assert (await http.patch("/api/me", json={"name": "Ann"})).json()["user"]["language_chosen"] is True
    # null: the browser decides again; the stored language stays for the mails.
    back = (await http.patch("/api/me", json={"language": None})).json()["user"]
    assert (back["language"], back["language_chosen"]) == ("ru", False)
    refused = await http.patch("/api/me", json={"language": "xx"})
    assert refused.status_code == 422 and refused.json()["error"]["code"]

    r = await http.patch("/api/me", json={"ui_prefs": {"groups": ["second_level", "vendor"]}})
    assert r.status_code == 200 and r.json()["user"]["ui_prefs"] == {"groups": ["second_level", "vendor"]}
    for bad in ("vendor", [1], [""], ["x" * 65], ["g"] * 51):
        refused = await http.patch("/api/me", json={"ui_prefs": {"groups": bad}, "language": "de"})
        assert refused.status_code == 422, bad
        assert set(refused.json()["error"]) == {"code", "message"}
    after = (await http.get("/api/me")).json()["user"]
    assert after["ui_prefs"] == {"groups": ["second_level", "vendor"]} and after["language_chosen"] is False
