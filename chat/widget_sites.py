"""Use cases behind the widget's HTTP routes: a site by its public key, its widget
settings (read and replace), and whether an agent is online to answer a live chat."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import widget
from chat.attachments import ALLOWED_TYPES, MAX_PER_MESSAGE
from chat.authz import Action, Principal, require
from chat.directory import audited, require_site_reader
from chat.directory_views import audit_site
from chat.errors import NotFound, ValidationFailed
from chat.models import Role, Site, User
from chat.services import Services

# Roles that answer chats; a read-only user who is connected answers nobody.
ANSWERING_ROLES = (Role.AGENT, Role.SUPPORT_ADMIN)


async def site_by_key(svc: Services, public_key: str | None) -> Site:
    if not public_key:
        raise ValidationFailed("give the site's public key as ?site=")
    async with svc.reads() as db:
        site = await db.scalar(select(Site).where(Site.public_key == public_key))
    if site is None:
        raise NotFound("no such site", code="site_not_found")
    return site


async def agents_online(svc: Services) -> bool:
    """Whether any agent or support admin is connected and not away, on any process."""
    online = [uid for uid, status in svc.presence.agent_statuses().items() if status == "online"]
    if not online:
        return False
    async with svc.reads() as db:
        found = await db.scalar(
            select(User.id)
            .where(User.id.in_(online), User.role.in_(ANSWERING_ROLES), User.disabled.is_(False))
            .limit(1)
        )
    return found is not None


async def public_config(svc: Services, site: Site) -> dict[str, Any]:
    return widget.public_config(
        site_name=site.name,
        default_language=site.default_language,
        widget=widget.stored_settings(site.settings, site.id),
        uploads=widget.Uploads(svc.settings.max_upload_bytes, tuple(sorted(ALLOWED_TYPES)), MAX_PER_MESSAGE),
        max_message_chars=svc.settings.max_message_chars,
        agents_online=await agents_online(svc),
    )


async def widget_settings(svc: Services, actor: Principal, site_id: int) -> widget.WidgetSettings:
    require_site_reader(actor)
    async with svc.reads() as db:
        site = await db.get(Site, site_id)
    if site is None:
        raise NotFound("no such site", code="site_not_found")
    return widget.stored_settings(site.settings, site.id)


async def replace_widget_settings(svc: Services, actor: Principal, site_id: int, raw: object) -> widget.WidgetSettings:
    """Replace a site's widget settings (absent keys take their defaults)."""
    require(actor, Action.MANAGE_SITES)
    parsed = widget.parse_settings(raw)
    async with svc.sessions.begin() as db:
        site = await db.get(Site, site_id)
        if site is None:
            raise NotFound("no such site", code="site_not_found")
        before = audit_site(site)
        # A new dict: the JSON column notices only reassignment, not in-place changes.
        site.settings = {**(site.settings or {}), widget.SETTINGS_KEY: parsed.stored()}
        await _audited(db, svc, actor, site, before)
    return parsed


async def patch_widget_settings(
    svc: Services, actor: Principal | None, site_id: int, patch: object
) -> widget.WidgetSettings:
    """Change some of a site's widget settings (:func:`chat.widget.patched_settings`);
    ``actor`` None: the operator's command line. Nothing is stored when anything is refused."""
    if actor is not None:
        require(actor, Action.MANAGE_SITES)
    async with svc.sessions.begin() as db:
        site = await db.get(Site, site_id)
        if site is None:
            raise NotFound("no such site", code="site_not_found")
        parsed = widget.patched_settings(widget.stored_settings(site.settings, site.id), patch)
        before = audit_site(site)
        site.settings = {**(site.settings or {}), widget.SETTINGS_KEY: parsed.stored()}
        await _audited(db, svc, actor, site, before)
    return parsed


async def _audited(db: AsyncSession, svc: Services, actor: Principal | None, site: Site, before: dict[str, Any]) -> None:
    # The widget settings are part of the site's audited state (chat.directory_views.audit_site).
    await audited(db, actor, at=svc.clock.now(), action="config.site.update", target_kind="site",
                  target_id=site.id, before=before, after=audit_site(site))
