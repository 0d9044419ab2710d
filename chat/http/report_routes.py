"""Reports over HTTP (issue 17; docs/http.md, "Reports"): ``GET /api/reports/{name}`` and
its ``.csv``, and the tickets behind a number (``/api/reports/tickets`` and ``.csv``).
Each handler authorizes, parses the query string (:mod:`chat.reports.filters`), calls one
report use case and shapes the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from chat.authz import Action, Principal, require
from chat.errors import NotFound
from chat.http.common import JSON, current, services
from chat.models import User
from chat.reports import breakdown, csvfile, drill, heatmap, messages, now, ratings, sla, times, volume
from chat.reports.filters import ReportQuery, parse_query
from chat.reports.selection import CHANNELS, COORDINATES, parse_cell
from chat.reports.texts import DEFAULT as DEFAULT_LANG
from chat.reports.texts import LANGUAGES
from chat.services import Services

ReportCase = Callable[[Services, Principal, ReportQuery], Awaitable[dict[str, Any]]]

REPORTS: dict[str, ReportCase] = {
    "volume": volume.volume_report,
    "breakdown": breakdown.breakdown_report,
    "times": times.times_report,
    "sla": sla.sla_report,
    "ratings": ratings.ratings_report,
    "messages": messages.messages_report,
    "heatmap": heatmap.heatmap_report,
    "now": now.now_report,
}
# Excel reads a CSV without a byte order mark as the machine's legacy code page: names in
# Cyrillic or Portuguese would arrive garbled.
BOM = "\ufeff"


async def _viewer(request: Request) -> tuple[Principal, User]:
    principal, user = await current(request)
    require(principal, Action.VIEW_REPORTS)  # before parsing: a customer learns nothing from a 400
    return principal, user


def _query(request: Request, user: User, extra: tuple[str, ...] = ()) -> tuple[ReportQuery, dict[str, str]]:
    # The texts' language: ``lang`` (the page sends its own), else the one the viewer chose
    # in the profile; a language the console only guessed from the browser is not a choice.
    chosen = user.language if user.language_chosen and user.language in LANGUAGES else DEFAULT_LANG
    return parse_query(request.query_params.multi_items(), now=services(request).clock.now(), channels=CHANNELS,
                       profile_tz=user.time_zone, extra=extra, lang=chosen)


def _report(request: Request) -> tuple[str, ReportCase]:
    name = request.path_params["name"]
    if name not in REPORTS:
        raise NotFound(f"no report {name[:40]!r}; the reports are {', '.join(REPORTS)}")
    return name, REPORTS[name]


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}


async def report(request: Request) -> Response:
    """``GET /api/reports/{name}?from=&to=&tz=&site=&company=&plan=&group=&agent=&category=&severity=&channel=&lang=``"""
    principal, user = await _viewer(request)
    _, use_case = _report(request)
    query, _ = _query(request, user)
    return JSON(await use_case(services(request), principal, query))


async def report_csv(request: Request) -> Response:
    """``GET /api/reports/{name}.csv``: every table of the report, a ``table`` column first."""
    principal, user = await _viewer(request)
    name, use_case = _report(request)
    query, _ = _query(request, user)
    document = await use_case(services(request), principal, query)
    return Response(BOM + csvfile.report_csv(document, query.lang), media_type="text/csv; charset=utf-8",
                    headers=_attachment(csvfile.filename(name, document)))


async def tickets(request: Request) -> Response:
    """``GET /api/reports/tickets?<filters>&metric=&<coordinates>&cursor=``: the tickets
    behind a number, 100 a page."""
    principal, user = await _viewer(request)
    query, extras = _query(request, user, (*COORDINATES, "cursor"))
    cell = parse_cell(extras)
    return JSON(await drill.drill_tickets(services(request), principal, query, cell, extras.get("cursor")))


async def tickets_csv(request: Request) -> Response:
    """``GET /api/reports/tickets.csv?<filters>&metric=&<coordinates>``: all of them."""
    principal, user = await _viewer(request)
    query, extras = _query(request, user, COORDINATES)
    cell = parse_cell(extras)
    chunks = await drill.tickets_csv(services(request), principal, query, cell)

    async def body() -> Any:
        yield BOM
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers=_attachment(drill.ticket_csv_name(query, cell)))


ROUTES: list[BaseRoute] = [
    Route("/api/reports/tickets", tickets, methods=["GET"]),
    Route("/api/reports/tickets.csv", tickets_csv, methods=["GET"]),
    Route("/api/reports/{name}.csv", report_csv, methods=["GET"]),
    Route("/api/reports/{name}", report, methods=["GET"]),
]
