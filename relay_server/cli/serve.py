"""``zimsend-relay serve``'s HTTP server: gunicorn, one gevent worker process per core.

Why this server:

- Every core: gunicorn's arbiter forks ``workers`` processes that share the
  listening socket, and starts again any that dies.
- Long-lived streams: phones will hold server-sent-event streams open by the
  hundred. A thread per connection (waitress, gunicorn's ``gthread``) would
  pin a thread to each stream; a gevent worker serves each connection in a
  greenlet, up to ``worker_connections`` (1000) per process.
- What the relay does in a request cooperates with gevent once the worker
  has patched the standard library: redis-py (and RQ on it) is pure Python
  over the patched socket module; psycopg 3 waits cooperatively under
  gevent by itself from 3.1.14 on (psycogreen is for psycopg2 only);
  SQLAlchemy's pool locks are the patched ones. A SQLite call holds its
  process while it runs: they are short (WAL, one writer at a time).
- Nothing is shared across the fork: the app is not preloaded, so each
  worker imports ``relay_server.wsgi`` (store engine, Redis clients) after
  gevent patched it. The arbiter, this module, imports none of the app:
  ``serve`` migrates the store, then executes ``python -m relay_server.cli.serve``
  in its place (same process id, so systemd keeps following it).

SIGTERM stops it gracefully: the arbiter stops listening and tells each
worker, which finishes the requests in flight (for ``GRACE_SECONDS`` at
most) before it exits. Bodies over ``max_body_bytes`` are refused by the app
before they are read (``relay_server.api.body_limit``). Counters of every worker
go to ``PROMETHEUS_MULTIPROC_DIR`` (``relay_server.api.metrics_dir``); a worker
that exits has its live gauges marked dead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import gunicorn.util
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from relay_server.api import metrics_dir
from zimsend_common.config import Settings, load_settings
from zimsend_common.logs import configure_logging

# Below the systemd unit's TimeoutStopSec (30 s), so that the arbiter, not systemd, ends a stream.
GRACE_SECONDS = 25
KEEPALIVE_SECONDS = 5
# A worker silent this long is killed and replaced: longer than a SQLite writer may wait for the lock.
SILENT_WORKER_SECONDS = 60


def default_workers() -> int:
    """One server process per core this process may run on."""
    return len(os.sched_getaffinity(0))


def worker_count(requested: int | None, settings: Settings) -> int:
    """``requested`` when given, else the ``http_workers`` setting, else one per core."""
    if requested is not None:
        return requested
    return settings.relay.http_workers or default_workers()


def exec_server(workers: int) -> NoReturn:
    """Replace this process by the server (``-P``: nothing is imported from the working directory)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-P", "-m", __name__, "--workers", str(workers)])


class _RelayLogs(glogging.Logger):
    """gunicorn's own messages, through the relay's log handler (its format, its level)."""

    def setup(self, cfg: Any) -> None:
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True


def _forget_worker(arbiter: Any, worker: Any) -> None:
    if metrics_dir.multiprocess_directory() is not None:
        multiprocess.mark_process_dead(worker.pid)


def options(settings: Settings, workers: int) -> dict[str, Any]:
    """gunicorn's settings for the relay."""
    host = settings.relay.host
    return {
        "bind": [f"[{host}]:{settings.relay.http_port}" if ":" in host else f"{host}:{settings.relay.http_port}"],
        "workers": workers,
        "worker_class": "gevent",
        "graceful_timeout": GRACE_SECONDS,
        "timeout": SILENT_WORKER_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "logger_class": _RelayLogs,
        "accesslog": None,
        "child_exit": _forget_worker,
        "post_worker_init": _refuse_in_json,
    }


def _refuse_in_json(worker: Any) -> None:
    """Have the worker answer in the contract's JSON what gunicorn refuses itself, before
    the app sees it (a request line or headers too long, HTTP it cannot read): gunicorn
    writes those with ``util.write_error``, as an HTML page."""
    gunicorn.util.write_error = _write_json_error


def _write_json_error(sock: Any, status: int, reason: str, detail: str) -> None:
    from relay_server.api.errors import http_error  # in a worker, which has loaded the app

    body = json.dumps({"success": False, "error": http_error(status, reason)}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


class Server(BaseApplication):
    """gunicorn with ``settings``, serving the WSGI app ``load`` returns (called in each worker)."""

    def __init__(self, settings: dict[str, Any], load: Callable[[], Any]) -> None:
        self._settings = settings
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._settings.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return self._load()


def _relay_app() -> Any:
    # Here, in each worker after the fork and after gevent patched the standard library.
    from relay_server.wsgi import app

    return app


def main(argv: list[str] | None = None) -> NoReturn:
    """Serve the relay until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    settings = load_settings()
    metrics_dir.enter_multiprocess_mode(settings)
    configure_logging(settings.logging)
    logging.getLogger("relay_server.cli.serve").info(
        "relay listening",
        extra={"host": settings.relay.host, "port": settings.relay.http_port, "workers": args.workers},
    )
    Server(options(settings, args.workers), _relay_app).run()
    sys.exit(0)


if __name__ == "__main__":
    main()
