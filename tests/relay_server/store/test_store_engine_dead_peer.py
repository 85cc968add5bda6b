"""A PostgreSQL host that stops answering is noticed within bounds: a connection it never answers
fails after the connect timeout, and the kernel probes an idle one and gives up on unanswered data."""

from __future__ import annotations

import socket
import time

import pytest
from silent_database import silent_database_url

from relay_server.store import Store
from relay_server.store.engine import create_engine
from relay_server.store.errors import DatabaseUnreachable

# The documented connect timeout (10 s), and room for a loaded machine.
WITHIN_SECONDS = 15


@pytest.mark.slow  # waits out the whole connect timeout
def test_opening_a_store_on_a_host_that_never_answers_fails_within_the_connect_timeout() -> None:
    with silent_database_url() as url:
        started = time.monotonic()
        with pytest.raises(DatabaseUnreachable, match="timeout"):
            Store.open(url)
        waited = time.monotonic() - started

    assert 9 < waited < WITHIN_SECONDS


def test_a_connect_timeout_in_the_database_url_wins_over_the_default() -> None:
    with silent_database_url() as url:
        started = time.monotonic()
        with pytest.raises(DatabaseUnreachable, match="timeout"):
            Store.open(f"{url}?connect_timeout=2")
        waited = time.monotonic() - started

    assert 2 <= waited < 5


def _tcp_options(url: str) -> dict[str, int]:
    """The keepalive and unanswered-data settings the kernel holds for a pooled connection's socket."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            descriptor = conn.connection.dbapi_connection.pgconn.socket  # type: ignore[union-attr]
            with socket.socket(fileno=socket.dup(descriptor)) as sock:
                return {
                    "keepalive": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                    "idle": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                    "interval": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                    "count": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                    "unanswered_ms": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
                }
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgres_connection_probes_its_idle_peer_and_gives_up_on_data_left_unanswered(postgres_url: str) -> None:
    assert _tcp_options(postgres_url) == {
        "keepalive": 1,
        "idle": 30,
        "interval": 10,
        "count": 3,
        "unanswered_ms": 30_000,
    }


@pytest.mark.postgres
def test_keepalive_settings_in_the_database_url_win_over_the_defaults(postgres_url: str) -> None:
    options = _tcp_options(f"{postgres_url}?keepalives_idle=45&tcp_user_timeout=60000")

    assert (options["idle"], options["interval"], options["unanswered_ms"]) == (45, 10, 60_000)
