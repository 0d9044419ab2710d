"""System alerts (PSD): support opens a notice to a customer company — Information,
Complaint or Suspicious activity — with a title, a text and files. It is recorded, listed
in the company's support area, and pushed live to the company's users as an ``alert``
frame on their user channels. (E-mail delivery comes with the e-mail work.)

Files are uploaded first (like chat attachments, into the same upload store under their
own random keys), then named by id when the alert is opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import validation
from chat.attachments import check_upload, store_upload, stored_file
from chat.authz import Action, OrgRef, Principal, can, require
from chat.directory import user_channel, visible_organization
from chat.errors import NotFound, ValidationFailed
from chat.events import author_json
from chat.groups.models import AlertFile, AlertType, SystemAlert
from chat.mail.kinds import MailKind
from chat.mail.queue import queue_mail
from chat.models import Organization, OrgKind, User
from chat.services import Services
from chat.wire import View, iso

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_FILES = 10
LIST_MAX = 200


class AlertNotFound(NotFound):
    code = "alert_not_found"


class AlertFileView(View, frozen=True, kw_only=True):
    id: int
    filename: str
    content_type: str
    size: int
    url: str

    @classmethod
    def of(cls, f: AlertFile) -> AlertFileView:
        return cls(id=f.id, filename=f.filename, content_type=f.content_type, size=f.size,
                   url=f"/api/alert-files/{f.id}")


class AlertView(View, frozen=True, kw_only=True):
    id: int
    organization_id: int
    type: str
    title: str
    body: str
    files: list[AlertFileView]
    created_by: dict[str, Any] | None  # chat.events.author_json
    created_at: str

    @classmethod
    def of(cls, alert: SystemAlert, files: Sequence[AlertFile], author: User | None) -> AlertView:
        return cls(
            id=alert.id, organization_id=alert.organization_id, type=alert.type.value, title=alert.title,
            body=alert.body, files=[AlertFileView.of(f) for f in files], created_by=author_json(author),
            created_at=iso(alert.created_at),
        )


def _may_open_some_alert(actor: Principal) -> bool:
    return can(actor, Action.OPEN_ALERT, OrgRef(None, OrgKind.CUSTOMER, None))


async def upload_file(
    svc: Services,
    actor: Principal,
    *,
    filename: str,
    content_type: str,
    declared_size: int | None,
    chunks: AsyncIterator[bytes],
) -> AlertFile:
    """Store a file for an alert about to be opened; same types and size limit as chat
    attachments, refused before anything is kept."""
    require(actor, Action.OPEN_ALERT, OrgRef(None, OrgKind.CUSTOMER, None))
    name, ctype = check_upload(svc, filename, content_type, declared_size)
    return await store_upload(svc, "alert-", ctype, chunks, lambda key, size: AlertFile(
        alert_id=None, uploader_id=actor.user_id, filename=name, content_type=ctype, size=size,
        storage_key=key, created_at=svc.clock.now(),
    ))


async def _org_user_ids(db: AsyncSession, organization_id: int) -> list[int]:
    return list(await db.scalars(
        select(User.id).where(User.organization_id == organization_id, User.disabled.is_(False))
    ))


async def _mail_alert(
    db: AsyncSession, svc: Services, alert: SystemAlert, organization: str, user_ids: list[int], now: datetime
) -> None:
    """PSD: a system alert is also e-mailed to the company's users, in the alert's own
    transaction (the outbox row commits with the alert, or neither does)."""
    url = f"{svc.settings.public_url.rstrip('/')}/portal/"
    for user in await db.scalars(select(User).where(User.id.in_(user_ids)).order_by(User.id)):
        if user.id == alert.created_by_id:
            continue
        await queue_mail(db, svc, key=f"alert:{alert.id}:u{user.id}", kind=MailKind.SYSTEM_ALERT, user=user,
                         context={"alert": {"title": alert.title, "body": alert.body, "url": url},
                                  "organization": organization}, now=now)


async def open_alert(
    svc: Services,
    actor: Principal,
    *,
    organization: int | str,
    type: AlertType,
    title: str,
    body: str,
    files: Sequence[int] = (),
) -> AlertView:
    """Record an alert to a customer company and push it to its users' open sockets."""
    clean_title = validation.text(title, "title", max_length=MAX_TITLE)
    clean_body = validation.text(body, "body", max_length=MAX_BODY)
    if len(files) > MAX_FILES:
        raise ValidationFailed(f"files: at most {MAX_FILES} per alert")
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        org = await visible_organization(db, actor, organization)
        if org.kind is not OrgKind.CUSTOMER and _may_open_some_alert(actor):
            raise ValidationFailed("organization: alerts go to customer companies, not resellers")
        require(actor, Action.OPEN_ALERT, OrgRef(org.id, org.kind, org.parent_id))
        wanted = sorted(set(files))
        rows = list(await db.scalars(
            select(AlertFile).where(
                AlertFile.id.in_(wanted), AlertFile.uploader_id == actor.user_id, AlertFile.alert_id.is_(None)
            )
        )) if wanted else []
        if len(rows) != len(wanted):
            raise ValidationFailed("files must be your own uploads not yet used in an alert", code="invalid_attachment")
        alert = SystemAlert(
            organization_id=org.id, type=type, title=clean_title, body=clean_body, created_by_id=actor.user_id,
            created_at=now,
        )
        db.add(alert)
        await db.flush()
        for row in rows:
            row.alert_id = alert.id
        author = await db.get(User, actor.user_id)
        result = AlertView.of(alert, sorted(rows, key=lambda f: wanted.index(f.id)), author)
        recipients = await _org_user_ids(db, org.id)
        await _mail_alert(db, svc, alert, org.name, recipients, now)
    frame = {"type": "alert", "alert": result}
    for uid in recipients:
        await svc.publish(user_channel(uid), frame)
    return result


async def _files_by_alert(db: AsyncSession, alert_ids: list[int]) -> dict[int, list[AlertFile]]:
    found: dict[int, list[AlertFile]] = {a: [] for a in alert_ids}
    if alert_ids:
        for f in await db.scalars(select(AlertFile).where(AlertFile.alert_id.in_(alert_ids)).order_by(AlertFile.id)):
            assert f.alert_id is not None
            found[f.alert_id].append(f)
    return found


async def list_alerts(
    svc: Services,
    actor: Principal,
    *,
    organization: int | str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[AlertView]:
    """Alerts the actor may see, newest first (customers: their company's; reseller
    admins: their customers'; staff: all)."""
    limit = max(1, min(limit, LIST_MAX))
    async with svc.reads() as db:
        query = (
            select(SystemAlert, User, Organization)
            .join(Organization, Organization.id == SystemAlert.organization_id)
            .outerjoin(User, User.id == SystemAlert.created_by_id)
            .order_by(SystemAlert.id.desc())
            .limit(limit)
        )
        if organization is not None:
            org = await visible_organization(db, actor, organization)
            require(actor, Action.VIEW_ALERTS, OrgRef(org.id, org.kind, org.parent_id))
            query = query.where(SystemAlert.organization_id == org.id)
        if not actor.is_staff:
            if actor.organization_id is None:
                return []
            query = query.where(
                (SystemAlert.organization_id == actor.organization_id) | (Organization.parent_id == actor.organization_id)
            )
        if before_id is not None:
            query = query.where(SystemAlert.id < before_id)
        rows = [
            (a, u) for a, u, o in (await db.execute(query)).all()
            if can(actor, Action.VIEW_ALERTS, OrgRef(o.id, o.kind, o.parent_id))
        ]
        files = await _files_by_alert(db, [a.id for a, _ in rows])
        return [AlertView.of(a, files[a.id], u) for a, u in rows]


async def _visible_alert(db: AsyncSession, actor: Principal, alert_id: int) -> SystemAlert:
    alert = await db.get(SystemAlert, alert_id)
    if alert is None:
        raise AlertNotFound("no such alert")
    org = await db.get(Organization, alert.organization_id)
    assert org is not None
    if not can(actor, Action.VIEW_ALERTS, OrgRef(org.id, org.kind, org.parent_id)):
        raise AlertNotFound("no such alert")
    return alert


async def get_alert(svc: Services, actor: Principal, alert_id: int) -> AlertView:
    async with svc.reads() as db:
        alert = await _visible_alert(db, actor, alert_id)
        author = await db.get(User, alert.created_by_id) if alert.created_by_id else None
        files = await _files_by_alert(db, [alert.id])
        return AlertView.of(alert, files[alert.id], author)


async def open_file(svc: Services, actor: Principal, file_id: int) -> tuple[AlertFile, Path]:
    """An alert's file for whoever may see the alert; before it is sent, only its
    uploader and staff."""
    async with svc.reads() as db:
        row = await db.get(AlertFile, file_id)
        if row is None:
            raise NotFound("no such file", code="not_found")
        if row.alert_id is None:
            if row.uploader_id != actor.user_id and not actor.is_staff:
                raise NotFound("no such file", code="not_found")
        else:
            try:
                await _visible_alert(db, actor, row.alert_id)
            except AlertNotFound:
                raise NotFound("no such file", code="not_found") from None
    path = await stored_file(svc, row.storage_key)
    if path is None:
        raise NotFound("the file is missing", code="not_found")
    return row, path
