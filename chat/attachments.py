"""Attachments: uploaded over HTTP into a conversation, then referenced by a message.

The bytes live in an upload store (a folder under ``var/`` by default) under a random
key; the database row says who may read them. An attachment is readable by whoever may
see its conversation — and, once it is on an internal note, by staff only. Before it is
sent, only its uploader and staff see it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import unicodedata
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import delete, select

from chat import visitor_limits
from chat.authz import Action, Principal, can, require
from chat.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from chat.events import ConversationClosed, history_floor, load_visible
from chat.models import Attachment, ConversationKind, Event
from chat.services import Services
from chat.wire import View

# Screenshots, photos, video, logs and documents (FFC, SKAI, BX). Anything a browser would
# run (HTML, SVG, JavaScript) is refused: it would execute on our origin if opened.
R = TypeVar("R")

ALLOWED_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp",
    "video/mp4", "video/webm", "video/quicktime",
    "text/plain", "text/csv", "application/json", "application/pdf",
    "application/zip", "application/gzip", "application/x-gzip", "application/x-tar",
    "application/octet-stream",
})
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Leading bytes that must match for types a browser would render inline, so a file
# labelled image/png cannot be something else (system alert files follow the same rule).
MAGIC_BYTES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
MAX_PER_MESSAGE = 10


def upload_dir(svc: Services) -> Path:
    """The upload store's folder, made if missing. It touches the disk: from async code,
    call it in a worker thread."""
    path = svc.settings.var_dir / "uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


async def stored_file(svc: Services, storage_key: str) -> Path | None:
    """The stored file under ``storage_key``, or None if it is missing."""

    def find() -> Path | None:
        path = upload_dir(svc) / storage_key
        return path if path.is_file() else None

    # A stat can wait on a slow or network disk; the event loop must not wait with it.
    return await asyncio.to_thread(find)


def clean_filename(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*').strip(" .")
    if not name:
        raise ValidationFailed("filename must not be empty")
    return name[:255]


class AttachmentView(View, frozen=True, kw_only=True):
    id: int
    conversation_id: int
    filename: str
    content_type: str
    size: int
    url: str

    @classmethod
    def of(cls, a: Attachment) -> AttachmentView:
        return cls(id=a.id, conversation_id=a.conversation_id, filename=a.filename, content_type=a.content_type,
                   size=a.size, url=f"/api/attachments/{a.id}")


async def upload(
    svc: Services,
    actor: Principal,
    conversation_id: int,
    *,
    filename: str,
    content_type: str,
    declared_size: int | None,
    chunks: AsyncIterator[bytes],
) -> Attachment:
    """Store an upload; refuse wrong types and oversize bodies before keeping anything."""
    name, ctype = check_upload(svc, filename, content_type, declared_size)
    async with svc.reads() as db:
        _, ref = await load_visible(db, actor, conversation_id)
        if not ref.is_open:
            raise ConversationClosed("this conversation is closed; start a new one")
        # Authorized as the message it is for: who may not post there may not upload there.
        require(actor, Action.POST_MESSAGE, ref)
    await visitor_limits.check_unsent_uploads(svc, actor, declared_size)  # 429 past a visitor's unsent files
    return await store_upload(svc, "", ctype, chunks, lambda key, size: Attachment(
        conversation_id=conversation_id, uploader_id=actor.user_id, event_id=None, filename=name,
        content_type=ctype, size=size, storage_key=key, created_at=svc.clock.now(),
    ))


def check_upload(svc: Services, filename: str, content_type: str, declared_size: int | None) -> tuple[str, str]:
    """The cheap checks before a byte is read: a clean file name and an accepted type
    within the size limit. Returns ``(filename, content_type)``."""
    name = clean_filename(filename)
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in ALLOWED_TYPES:
        raise UnsupportedMediaType(f"files of type {ctype or 'unknown'} are not accepted", code="attachment_type")
    limit = svc.settings.max_upload_bytes
    if declared_size is not None and declared_size > limit:
        raise PayloadTooLarge(f"the file is larger than {limit} bytes", code="attachment_too_large")
    return name, ctype


async def store_upload(
    svc: Services, key_prefix: str, ctype: str, chunks: AsyncIterator[bytes], make_row: Callable[[str, int], R]
) -> R:
    """Stream a checked upload to ``var/uploads``, then record it with ``make_row(key, size)``
    in one transaction. Oversize, empty or mislabelled files (magic bytes) are refused and
    leave nothing behind: neither a file nor a row."""
    limit = svc.settings.max_upload_bytes
    key = key_prefix + secrets.token_hex(16)
    # Every touch of the disk runs in a worker thread (a slow disk must not hold the event
    # loop and every socket on it): one hop per chunk, so that an upload of up to
    # max_upload_bytes is never gathered in memory.
    target = await asyncio.to_thread(upload_dir, svc) / key
    partial = target.with_suffix(".part")
    size = 0
    head = b""
    try:
        handle = await asyncio.to_thread(open, partial, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the file is larger than {limit} bytes", code="attachment_too_large")
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        if size == 0:
            raise ValidationFailed("the file is empty")
        magic = MAGIC_BYTES.get(ctype)
        if magic is not None and not any(head.startswith(m) for m in magic):
            raise UnsupportedMediaType(f"the file is not a {ctype}", code="attachment_type")
        await asyncio.to_thread(os.replace, partial, target)
    finally:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
    try:
        async with svc.sessions.begin() as db:
            row = make_row(key, size)
            db.add(row)
    except BaseException:
        await asyncio.to_thread(target.unlink, missing_ok=True)
        raise
    return row


async def open_for_download(svc: Services, actor: Principal, attachment_id: int) -> tuple[Attachment, Path]:
    async with svc.reads() as db:
        row = await db.get(Attachment, attachment_id)
        if row is None:
            raise NotFound("no such attachment", code="not_found")
        conv, _ = await load_visible(db, actor, row.conversation_id)  # not_found unless visible
        staff = can(actor, Action.VIEW_INTERNAL_NOTES)
        if row.event_id is None:
            if row.uploader_id != actor.user_id and not staff:
                raise NotFound("no such attachment", code="not_found")
        else:
            internal, seq = (await db.execute(select(Event.internal, Event.seq).where(Event.id == row.event_id))).one()
            if internal and not staff:
                raise NotFound("no such attachment", code="not_found")
            # A group that shows history since joining hides the files of what came before too.
            if (
                not staff
                and conv.kind is ConversationKind.GROUP
                and seq < await history_floor(db, actor.user_id, conv.id)
            ):
                raise NotFound("no such attachment", code="not_found")
    path = await stored_file(svc, row.storage_key)
    if path is None:
        raise NotFound("the attachment's file is missing", code="not_found")
    return row, path


# Unsent uploads deleted per pass; a backlog drains over the next passes.
SWEEP_BATCH = 200


async def sweep_unsent_uploads(svc: Services, now: datetime) -> int:
    """The sweeper's job ``attachments.sweep``: uploads never attached to a message within
    ``UNSENT_UPLOAD_HOURS`` (a widget closed mid-draft, or someone filling the disk) are
    deleted, row and file. The row goes first, in a conditional delete (a message that
    took the file meanwhile keeps it); a file whose row is gone is removed after the
    commit. Returns how many were deleted."""
    cutoff = now - timedelta(hours=svc.settings.unsent_upload_hours)
    async with svc.sessions.begin() as db:
        stale: list[tuple[int, str]] = [(row_id, key) for row_id, key in await db.execute(
            select(Attachment.id, Attachment.storage_key)
            .where(Attachment.event_id.is_(None), Attachment.created_at < cutoff)
            .order_by(Attachment.id).limit(SWEEP_BATCH)
        )]
        if not stale:
            return 0
        gone = set((await db.execute(
            delete(Attachment)
            .where(Attachment.id.in_([row_id for row_id, _ in stale]), Attachment.event_id.is_(None))
            .returning(Attachment.id)
        )).scalars())

    def unlink(keys: list[str]) -> None:
        folder = upload_dir(svc)
        for key in keys:
            (folder / key).unlink(missing_ok=True)

    await asyncio.to_thread(unlink, [key for row_id, key in stale if row_id in gone])
    return len(gone)
