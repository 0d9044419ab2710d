"""Sites, people and companies changed on one web process take effect on the other with no
restart (issue 19): each request reads them from the database."""

from __future__ import annotations

from urllib.parse import urlencode

from chat import directory
from chat.auth import identity_hash
from chat.models import OrgKind, Role
from tests.support.chatlog import new_staff
from tests.support.topology import Topology


async def test_a_change_on_one_node_counts_on_the_other(topology: Topology) -> None:
    svc = topology.services
    admin = await new_staff(svc, "ada@x.example", Role.SUPPORT_ADMIN)
    otto = await new_staff(svc, "otto@x.example", Role.AGENT)
    acme = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization
    site = (await directory.create_site(svc, None, name="Shop", allowed_origins=["https://old.example"])).site

    def frame(host: str) -> str:
        return "/widget/frame?" + urlencode({"site": site.public_key, "host": host})

    await topology.call(None, "GET", frame("https://old.example"), node=1, expect=200)
    await topology.call(admin.token, "PATCH", f"/api/sites/{site.id}", {"allowed_origins": ["https://new.example"]},
                        node=0, expect=200)
    await topology.call(None, "GET", frame("https://old.example"), node=1, expect=403)
    await topology.call(None, "GET", frame("https://new.example"), node=1, expect=200)

    await topology.call(admin.token, "PATCH", f"/api/sites/{site.id}/widget",
                        {"offline_message": {"en": "Back at 9."}, "prechat": {"fields": {"email": "required"}}},
                        node=0, expect=200)
    config = (await topology.call(None, "GET", f"/api/widget/config?site={site.public_key}", node=1, expect=200)).json()
    assert config["offline_message"] == {"en": "Back at 9."}
    assert {"name": "email", "mode": "required"} in config["prechat"]["fields"]

    rotated = (await topology.call(admin.token, "POST", f"/api/sites/{site.id}/rotate-secret", {"grace_hours": 0},
                                   node=0, expect=200)).json()
    for secret, status in ((site.identity_secret, 401), (rotated["identity_secret"], 200)):
        await topology.call(None, "POST", "/api/widget/session", {
            "site": site.public_key, "user_id": "crm-1", "user_hash": identity_hash(secret, "crm-1")},
            node=1, expect=status)

    await topology.call(admin.token, "PATCH", f"/api/users/{otto.principal.user_id}", {"role": "read_only"}, node=0, expect=200)
    me = (await topology.call(otto.token, "GET", "/api/me", node=1, expect=200)).json()
    assert me["user"]["role"] == "read_only"

    await topology.call(admin.token, "PATCH", f"/api/organizations/{acme.id}", {"auto_close_waiting": "2bd"}, node=0,
                        expect=200)
    orgs = (await topology.call(admin.token, "GET", "/api/organizations", node=1, expect=200)).json()["organizations"]
    assert [o["auto_close_waiting"] for o in orgs] == ["2bd"]
