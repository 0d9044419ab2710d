"""Our server as the benchmark runs it: ``supportchat serve`` in this process, unchanged,
except (by default) the per-socket and per-principal frame rate limits.

Why lift them: the limits (20 frames/s per socket, 50/s per principal, chat/hub/endpoint.py)
are abuse protection, not capacity. With them a room of two can never carry more than
40 messages/s, and a benchmark of the server's capacity would only measure the limiter.
They are module constants read at call time, so setting them here changes nothing on disk
and nothing else in the server. ``--product-limits`` keeps them (the reconnect storm and
idle scenarios do not depend on them either way).

Everything else is the product path: ``chat.cli.main(["serve", ...])`` (uvicorn,
websockets-sansio, no permessage-deflate, max frame size from settings) with settings from
the environment (DATABASE_URL, SECRET_KEY, VAR_DIR, LOG_LEVEL, no REDIS_URL → memory broker).

Run: ``python -m bench.ours_server --port 8766 [--product-limits] [--profile out.prof]``.
"""

from __future__ import annotations

import argparse
import resource
import sys

UNLIMITED = 1e12


def lift_rate_limits() -> None:
    from chat.hub import endpoint

    endpoint.RATE_PER_SECOND = UNLIMITED
    endpoint.RATE_BURST = UNLIMITED
    endpoint.PRINCIPAL_RATE_PER_SECOND = UNLIMITED
    endpoint.PRINCIPAL_BURST = UNLIMITED


def drop_reactions() -> None:
    """Run the server without its after-commit reactions and room watchers (tickets
    following their chats, desk auto-assignment, a visitor's departure): the hub's own
    cost, to tell it apart from the features that ride on every message."""
    import chat.app
    from chat.wiring import build_services

    def bare(*args: object, **kwargs: object) -> object:
        svc = build_services(*args, **kwargs)  # type: ignore[arg-type]
        svc.reactions.clear()
        svc.room_watchers.clear()
        return svc

    chat.app.build_services = bare  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(description="our server, as the benchmark runs it")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--product-limits", action="store_true", help="keep the frame rate limits")
    parser.add_argument("--profile", help="write a cProfile of the event-loop thread to this file on exit")
    parser.add_argument("--no-reactions", action="store_true",
                        help="without after-commit reactions and room watchers (the hub alone)")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not args.product_limits:
        lift_rate_limits()
    if args.no_reactions:
        drop_reactions()
    from chat.cli import main as cli_main

    argv = ["serve", "--host", args.host, "--port", str(args.port)]
    if args.profile:
        import cProfile
        import signal

        # uvicorn re-raises the SIGTERM it caught once it has shut down; with the default
        # handler that kills the process before the profile below is written.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        profiler = cProfile.Profile()
        try:
            return int(profiler.runcall(cli_main, argv))
        finally:
            profiler.dump_stats(args.profile)
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
