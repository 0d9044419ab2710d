"""CSRF in Chromium (issue 20): a page on a same-site origin (another port of the same
host: the session cookie, SameSite=Strict, is still sent) auto-submits a form and a
no-cors fetch with the admin's cookie — nothing changes; the console's shared client
(static/shared/protocol.js) on the product's own origin still works."""

from __future__ import annotations

from playwright.async_api import Browser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from chat import directory
from chat.models import Role, User
from tests.support.live import LiveServer, serve
from tests.support.processes import free_port

PASSWORD = "correct horse battery"


def attacker_site(target: str) -> Starlette:
    async def form(request: Request) -> HTMLResponse:
        return HTMLResponse(f"""<!doctype html><title>prize</title>
<form id="f" method="post" action="{target}"><input name="x" value="1"></form>
<script>document.getElementById("f").submit();</script>""")

    async def no_cors(request: Request) -> HTMLResponse:
        return HTMLResponse(f"""<!doctype html><title>prize</title><p id="done"></p>
<script>fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: "x"}}).finally(() => {{
  document.getElementById("done").textContent = "sent"; }});</script>""")

    return Starlette(routes=[Route("/form", form), Route("/fetch", no_cors)])


async def disabled(web: LiveServer, user_id: int) -> bool:
    async with web.services.sessions() as db:
        user = await db.get(User, user_id)
        assert user is not None
        return user.disabled


async def test_a_same_site_page_cannot_disable_a_user_with_the_admins_cookie(browser: Browser, web: LiveServer) -> None:
    svc = web.services
    await directory.create_user(svc, None, email="admin@x.example", role=Role.SUPPORT_ADMIN, password=PASSWORD)
    victim = await directory.create_user(svc, None, email="agent@x.example", role=Role.AGENT, password=PASSWORD)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(web.base_url + "/healthz")
    # Signed in as the console signs in, through the shared client: the cookie is set.
    await page.evaluate("""async (password) => {
        const { apiClient } = await import("/static/shared/protocol.js");
        await apiClient(() => null)("POST", "/api/auth/login", { email: "admin@x.example", password });
    }""", PASSWORD)
    assert any(c["name"] == "sc_session" for c in await context.cookies(web.base_url))

    target = f"{web.base_url}/api/users/{victim.id}/disable"
    port = free_port()
    async with serve(attacker_site(target), port):
        other = f"http://127.0.0.1:{port}"  # same site as web.base_url, another origin
        await page.goto(other + "/form")
        await page.wait_for_url(target)
        body = await page.content()
        assert "csrf_failed" in body, body
        assert not await disabled(web, victim.id)

        await page.goto(other + "/fetch")
        await page.wait_for_function("document.getElementById('done').textContent === 'sent'")
        assert not await disabled(web, victim.id)

    # The console's own calls, same origin, through the shared client: they work.
    await page.goto(web.base_url + "/healthz")
    answer = await page.evaluate("""async (id) => {
        const { apiClient } = await import("/static/shared/protocol.js");
        return await apiClient(() => null)("POST", `/api/users/${id}/disable`);
    }""", victim.id)
    assert answer["user"]["disabled"] is True
    assert await disabled(web, victim.id)
    await context.close()
