"""The ASGI application factory: ``uvicorn --factory chat.app:create_app``."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute

from chat import metrics, migrate
from chat.clock import Clock
from chat.errors import AppError
from chat.http import (
    account,
    account_mail,
    admin,
    attachment_routes,
    conversation_routes,
    demo,
    desk_routes,
    desk_settings_routes,
    directory_settings,
    group_routes,
    health,
    impersonation_routes,
    mail_in_routes,
    mail_pages,
    mail_routes,
    metrics_routes,
    report_routes,
    ticket_routes,
    widget_routes,
)
from chat.http.common import app_error_handler, http_error_handler, internal_error_handler
from chat.http.csrf import CsrfMiddleware
from chat.http.url_guard import UrlGuardMiddleware
from chat.hub.endpoint import quiet_invalid_utf8, websocket_endpoint
from chat.hub.hub import Hub
from chat.hub.presence import Presence
from chat.services import Services
from chat.settings import EX_CONFIG, Settings, SettingsError, load_settings
from chat.wiring import build_services, build_sweepers, build_web_sweepers
from escalation.config import warm_up

log = logging.getLogger("chat")
# The browser client the console, the portal and the widget share (the widget links it in).
SHARED_DIR = Path(__file__).resolve().parents[1] / "static" / "shared"


class SchemaOutOfDate(RuntimeError):
    pass


async def _ensure_schema(settings: Settings) -> None:
    current = await migrate.current_revision(settings.database_url)
    head = migrate.head_revision()
    if current == head:
        return
    if settings.auto_migrate:
        log.info("applying database migrations (%s -> %s)", current, head)
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        return
    raise SchemaOutOfDate(
        f"the database schema is at {current or 'empty'}, this code needs {head}: run `supportchat migrate` first"
    )


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Starlette:
    if settings is None:
        try:
            settings = load_settings()
        except SettingsError as exc:
            print(f"supportchat: configuration error: {exc}", file=sys.stderr)
            raise SystemExit(EX_CONFIG) from None
    # Who of the staff is online: the hub keeps it, use cases read it through the services.
    presence = Presence(grace_seconds=settings.presence_grace_seconds)
    svc = build_services(settings, clock=clock, presence=presence)
    hub = Hub(svc, presence)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        metrics.process_started()
        await _ensure_schema(settings)
        await warm_up(svc)
        await svc.broker.connect()
        quiet_invalid_utf8()
        await hub.start()
        stop = asyncio.Event()
        # Embedded default: no separate worker process to run, so all of it here; beside a
        # worker, only what needs this process's hub.
        loops = build_sweepers(svc) if settings.sweeper_in_process else build_web_sweepers(svc)
        sweepers = [asyncio.create_task(s.run_forever(stop), name=f"sweeper-{i}") for i, s in enumerate(loops)]
        try:
            yield
        finally:
            stop.set()
            for sweeper in sweepers:
                await sweeper
            await hub.stop()
            await svc.close()
            metrics.process_stopped()

    routes = [
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        *metrics_routes.ROUTES,
        Route("/api/auth/login", account.login, methods=["POST"]),
        Route("/api/auth/logout", account.logout, methods=["POST"]),
        Route("/api/me", account.me, methods=["GET"]),
        Route("/api/me", account.update_me, methods=["PATCH"]),
        Route("/api/me/password", account.change_password, methods=["POST"]),
        Route("/api/widget/session", account.widget_session, methods=["POST"]),
        Route("/api/organizations", admin.list_organizations, methods=["GET"]),
        Route("/api/organizations", admin.create_organization, methods=["POST"]),
        Route("/api/users", admin.create_user, methods=["POST"]),
        Route("/api/users/{user_id}", admin.get_user, methods=["GET"]),
        Route("/api/users/{user_id}/disable", admin.disable_user, methods=["POST"]),
        Route("/api/users/{user_id}/enable", admin.enable_user, methods=["POST"]),
        Route("/api/sites", admin.list_sites, methods=["GET"]),
        Route("/api/sites", admin.create_site, methods=["POST"]),
        Route("/api/conversations", conversation_routes.list_mine, methods=["GET"]),
        Route("/api/conversations", conversation_routes.start, methods=["POST"]),
        Route("/api/conversations/{conversation_id}", conversation_routes.detail, methods=["GET"]),
        Route("/api/conversations/{conversation_id}/events", conversation_routes.history, methods=["GET"]),
        Route("/api/conversations/{conversation_id}/attachments", attachment_routes.upload, methods=["POST"]),
        Route("/api/attachments/{attachment_id}", attachment_routes.download, methods=["GET"]),
        WebSocketRoute("/ws", websocket_endpoint),
        *ticket_routes.ROUTES,
        *group_routes.ROUTES,
        *desk_routes.ROUTES,
        *desk_settings_routes.ROUTES,
        *widget_routes.ROUTES,
        *account_mail.ROUTES,
        *directory_settings.ROUTES,
        *mail_pages.ROUTES,
        *mail_routes.ROUTES,
        *mail_in_routes.ROUTES,
        *report_routes.ROUTES,
        *impersonation_routes.ROUTES,
        Mount("/static/shared", app=group_routes.PortalFiles(directory=SHARED_DIR, check_dir=False), name="shared"),
    ]
    if settings.demo_page:
        routes.append(Route("/", demo.demo_page, methods=["GET"]))

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # Issue 20: a cookie-authenticated unsafe request needs X-Requested-With (chat/http/csrf.py).
        middleware=[Middleware(UrlGuardMiddleware), Middleware(CsrfMiddleware, public_url=settings.public_url)],
        exception_handlers={
            AppError: app_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
    )
    app.state.services = svc
    app.state.hub = hub
    return app


def services_of(app: Starlette) -> Services:
    svc: Services = app.state.services
    return svc
