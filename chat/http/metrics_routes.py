"""``GET /metrics``: the operations metrics in Prometheus' format (chat/metrics.py).

Off unless ``METRICS_TOKEN`` is set: then 404, as for any unknown path, so an open
deployment does not even say it has metrics. With it set, the scraper sends
``Authorization: Bearer <METRICS_TOKEN>``; anything else is 401. A token rather than a bind
address because the web process listens on one address for everyone (browsers, the
balancer, the scraper), and a path cannot be kept off the public side by the process
itself; a proxy may still refuse ``/metrics`` from outside as a second fence.
"""

from __future__ import annotations

import asyncio
import hmac

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat import metrics
from chat.errors import Unauthenticated
from chat.http.common import services
from chat.mail.sender import outbox_depth


def _token_of(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def scrape(request: Request) -> Response:
    svc = services(request)
    expected = svc.settings.metrics_token
    if expected is None:
        raise HTTPException(status_code=404)
    given = _token_of(request)
    # compare_digest: the time taken says nothing about how much of a guess was right.
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        metrics.AUTH_FAILURES["metrics"].inc()
        raise Unauthenticated("send Authorization: Bearer <METRICS_TOKEN>", code="invalid_token")
    depth = await outbox_depth(svc)
    metrics.FRAMES_SENT_TALLY.flush()  # here, on the loop's thread that counts them
    # In multi-process mode the scrape reads every process's files: off the event loop.
    body, content_type = await asyncio.to_thread(metrics.exposition, request.headers.get("accept"), outbox=depth)
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


ROUTES = [Route("/metrics", scrape, methods=["GET"])]
