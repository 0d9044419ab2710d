"""``python -m chat …`` / ``supportchat …``: run, migrate and administer the server.

Exit status: 0 done; 2 bad arguments or refused input (one line on stderr);
78 configuration error (EX_CONFIG).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from chat import directory, metrics, migrate, widget_sites
from chat.broker import BrokerUnavailable
from chat.clock import ManualClock
from chat.demo import Sweep, seed_demo
from chat.errors import AppError
from chat.mail.inbound.smtp_in import serve_mail_in
from chat.models import OrgKind, Role
from chat.services import Services
from chat.settings import EX_CONFIG, Settings, SettingsError, load_settings
from chat.wiring import build_services, build_sweeper
from escalation import preset_apply
from escalation.policy_table import PlanTier
from escalation.presets import PRESETS

T = TypeVar("T")
EX_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One clear line instead of argparse's usage dump.
        self.exit(EX_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _port(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {raw!r}: give 1-65535")
    return int(raw)


def _positive(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"invalid count {raw!r}: give a positive integer")
    return int(raw)


def _csv(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="supportchat", description="Real-time support chat server with ticket escalation.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser("serve", help="run the web server (applies migrations on the embedded default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, help="default: PORT, else 8000; PUBLIC_URL defaults to it")
    serve.add_argument("--workers", type=_positive, default=1, help="web processes (needs REDIS_URL when > 1)")

    sub.add_parser("migrate", help="apply pending database migrations")

    sub.add_parser(
        "mail-in",
        help="receive mail: SMTP (or LMTP) on MAIL_IN_HOST:MAIL_IN_PORT, and the IMAP_URL folder when set; until SIGTERM",
    )

    user = sub.add_parser("create-user", help="create a login")
    user.add_argument("--email", required=True)
    user.add_argument("--role", required=True, choices=[r.value for r in Role if r is not Role.VISITOR])
    user.add_argument("--org", help="organization id or slug (customers and reseller admins)")
    user.add_argument("--password", help="omit to generate one, printed once")
    user.add_argument("--name", default="")
    user.add_argument("--language", default="en")

    org = sub.add_parser("create-org", help="create a customer or reseller organization")
    org.add_argument("--name", required=True)
    org.add_argument("--kind", required=True, choices=[k.value for k in OrgKind])
    org.add_argument("--plan", default=PlanTier.BASIC.value, choices=[p.value for p in PlanTier])
    org.add_argument("--domains", type=_csv, default=[], help="comma-separated e-mail domains")
    org.add_argument("--parent", help="the reseller (id or slug) of a customer organization")
    org.add_argument("--slug")

    site = sub.add_parser("create-site", help="register a widget installation and print its embed snippet")
    site.add_argument("--name", required=True)
    site.add_argument("--origins", type=_csv, required=True, help="comma-separated origins, e.g. https://shop.example.com")
    site.add_argument("--org", help="the customer organization the site belongs to")
    site.add_argument("--language", default="en")

    widget = sub.add_parser(
        "site-widget", help="show or change a site's widget settings: pre-chat fields, language, offline form"
    )
    widget.add_argument("--site", type=_positive, required=True, help="the site's id (create-site prints it)")
    widget.add_argument("--fields", type=_csv, default=[],
                        help="pre-chat fields as name=required|optional|hidden, comma-separated, e.g. email=required")
    widget.add_argument("--language", help="auto, or a language the widget always uses")
    widget.add_argument("--prechat", choices=["on", "off"], help="ask the pre-chat form at all")
    widget.add_argument("--offline-form", choices=["on", "off"], help="leave a message when no agent is online")

    disable = sub.add_parser("disable-user", help="disable a user everywhere at once")
    disable.add_argument("--email", required=True)
    enable = sub.add_parser("enable-user", help="enable a disabled user")
    enable.add_argument("--email", required=True)

    password = sub.add_parser("set-password", help="set or reset a user's password")
    password.add_argument("--email", required=True)
    password.add_argument("--password", help="omit to generate one, printed once")

    sub.add_parser("demo", help="seed demo organizations, site and users; print their logins and URLs")
    preset = sub.add_parser("apply-preset", help="set the desk up as a source desk does: 360, FFC or SKAI")
    preset.add_argument("name", choices=list(PRESETS))
    return parser


async def _mail_in(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    svc = build_services(settings)
    await svc.broker.connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve_mail_in(svc, stop)
    finally:
        await svc.close()


def _generated_password() -> str:
    return secrets.token_urlsafe(12)


async def _with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    svc = await _connected_services(settings)
    try:
        return await work(svc)
    finally:
        await svc.close()


async def _connected_services(settings: Settings) -> Services:
    """Services whose publishes reach the running servers' sockets through the broker.
    When that broker cannot be reached, one line says so and the command goes on without
    it: the database is the truth, and every client catches up by ``seq`` (a warning per
    event would read like a fault)."""
    svc = build_services(settings)
    try:
        await svc.broker.connect()
        await svc.broker.ping()
    except BrokerUnavailable as exc:
        await svc.close()
        print(f"supportchat: note: {exc}; open consoles and widgets catch up when they next sync",
              file=sys.stderr)
        return build_services(replace(settings, redis_url=None))
    return svc


def _metrics_dir(workers: int) -> Path | None:
    """Multi-process metrics (chat/metrics.py): a ``PROMETHEUS_MULTIPROC_DIR`` given in the
    environment is cleaned of the files of processes no longer running; without one,
    ``workers`` > 1 get a fresh temporary directory, returned for removal at the end. Set
    before uvicorn starts the workers (they inherit the environment at their start)."""
    given = os.environ.get(metrics.MULTIPROC_ENV, "").strip()
    if given:
        metrics.clean_multiprocess_dir(Path(given))
        return None
    if workers == 1:
        return None
    made = Path(tempfile.mkdtemp(prefix="supportchat-metrics-"))
    os.environ[metrics.MULTIPROC_ENV] = str(made)
    return made


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    import uvicorn

    if workers > 1 and settings.redis_url is None:
        print("supportchat: error: --workers > 1 needs REDIS_URL (the in-memory broker is one process)", file=sys.stderr)
        return EX_USAGE
    if settings.auto_migrate:
        migrate.upgrade(settings.database_url)
    made = _metrics_dir(workers)
    try:
        uvicorn.run(
            "chat.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
            # Compression on websockets multiplies memory per socket and opens the door to
            # decompression bombs; the widget's frames are small anyway.
            ws="websockets-sansio",
            ws_per_message_deflate=False,
            ws_max_size=settings.max_frame_bytes,
            proxy_headers=True,
            # No header timeout exists in uvicorn (timeout_keep_alive starts after a response):
            # a client trickling its request head is held open. That is the reverse proxy's job
            # (nginx client_header_timeout; docs/operations.md, "Slow clients"). Said here so
            # nobody reads the keep-alive below as one.
            timeout_keep_alive=5,
        )
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return 0


async def _create_user(svc: Services, args: argparse.Namespace) -> None:
    password = args.password if args.password is not None else _generated_password()
    user = await directory.create_user(
        svc, None, email=args.email, role=Role(args.role), organization=args.org, password=password,
        name=args.name, language=args.language,
    )
    print(f"created user {user.id} {user.email} ({user.role.value})")
    if args.password is None:
        print(f"password: {password}")


async def _create_org(svc: Services, args: argparse.Namespace) -> None:
    org = (await directory.create_organization(
        svc, None, name=args.name, kind=OrgKind(args.kind), plan_tier=PlanTier(args.plan), domains=args.domains,
        parent=args.parent, slug=args.slug,
    )).organization
    print(f"created organization {org.id} {org.slug} ({org.kind.value}, {org.plan_tier.value})")


async def _create_site(svc: Services, args: argparse.Namespace) -> None:
    created = await directory.create_site(
        svc, None, name=args.name, allowed_origins=args.origins, organization=args.org, default_language=args.language
    )
    print(f"created site {created.site.id} {created.site.public_key}")
    print(f"identity secret (give it to the site's backend only): {created.site.identity_secret}")
    print("embed snippet:")
    print(created.snippet)


async def _site_widget(svc: Services, args: argparse.Namespace) -> None:
    patch: dict[str, Any] = {}
    prechat: dict[str, Any] = {}
    fields = dict(part.partition("=")[::2] for part in args.fields)
    if fields:
        prechat["fields"] = fields
    if args.prechat is not None:
        prechat["enabled"] = args.prechat == "on"
    if prechat:
        patch["prechat"] = prechat
    if args.language is not None:
        patch["language"] = args.language
    if args.offline_form is not None:
        patch["offline_form"] = args.offline_form == "on"
    saved = await widget_sites.patch_widget_settings(svc, None, args.site, patch)
    print(json.dumps(saved.stored(), indent=2))


async def _demo(svc: Services) -> None:
    @asynccontextmanager
    async def history(clock: ManualClock) -> AsyncIterator[tuple[Services, Sweep]]:
        # Last month's history: live sockets have nothing to hear of it (no broker).
        past = build_services(replace(svc.settings, redis_url=None), clock=clock)
        try:
            yield past, build_sweeper(past).run_once
        finally:
            await past.close()

    print(await seed_demo(svc, history))


async def _set_password(svc: Services, args: argparse.Namespace) -> None:
    password = args.password if args.password is not None else _generated_password()
    await directory.set_password(svc, args.email, password)
    print(f"password set for {args.email.strip().lower()}")
    if args.password is None:
        print(f"password: {password}")


async def _set_disabled(svc: Services, email: str, disabled: bool) -> None:
    user = await directory.set_user_disabled(svc, None, email, disabled=disabled)
    print(f"{'disabled' if disabled else 'enabled'} user {user.id} {user.email}")


async def _apply_preset(svc: Services, name: str) -> None:
    applied = await preset_apply.apply_preset(svc, None, name)
    for kind in ("calendars", "categories", "policies"):
        done = getattr(applied, kind)
        print(f"{kind}: created {', '.join(done['created']) or '-'}; updated {', '.join(done['updated']) or '-'}")
    print(f"desk settings: {', '.join(applied.settings) or '-'}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve" and args.port is not None:
        # The app reads its settings from the environment (in uvicorn's worker processes
        # too): the port given here is the one PUBLIC_URL defaults to.
        os.environ["PORT"] = str(args.port)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"supportchat: configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    if args.command == "serve":
        return _serve(settings, args.host, settings.port, args.workers)
    if args.command == "migrate":
        migrate.upgrade(settings.database_url)
        print(f"database is at revision {migrate.head_revision()}")
        return 0
    if settings.auto_migrate:
        migrate.upgrade(settings.database_url)
    elif migrate.pending(settings.database_url):
        print("supportchat: error: the database schema is out of date: run `supportchat migrate` first", file=sys.stderr)
        return EX_USAGE
    if args.command == "mail-in":
        try:
            asyncio.run(_mail_in(settings))
        except OSError as exc:  # the port is taken, or the address is not ours
            print(f"supportchat: error: mail-in cannot listen on {settings.mail_in_host}:{settings.mail_in_port}: {exc}",
                  file=sys.stderr)
            return EX_USAGE
        return 0
    commands: dict[str, Callable[[Services], Awaitable[None]]] = {
        "create-user": lambda svc: _create_user(svc, args),
        "create-org": lambda svc: _create_org(svc, args),
        "create-site": lambda svc: _create_site(svc, args),
        "site-widget": lambda svc: _site_widget(svc, args),
        "set-password": lambda svc: _set_password(svc, args),
        "disable-user": lambda svc: _set_disabled(svc, args.email, True),
        "enable-user": lambda svc: _set_disabled(svc, args.email, False),
        "demo": _demo,
        "apply-preset": lambda svc: _apply_preset(svc, args.name),
    }
    try:
        asyncio.run(_with_services(settings, commands[args.command]))
    except AppError as exc:
        print(f"supportchat: error: {exc.message}", file=sys.stderr)
        return EX_USAGE
    return 0
