"""A database host that takes every connection and never says a word: a hung server, or one
behind a route that drops its answers, as the relay's driver sees it. A real listening
socket, no mock."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_database_url(database: str = "zimsend") -> Iterator[str]:
    """A PostgreSQL URL whose host accepts connections and answers nothing on them, for as long
    as the block runs (the connections it accepted are then closed)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with listener:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:  # the listener was closed: the block ended
                    return
                accepted.append(connection)  # held open, never read, never answered

    acceptor = threading.Thread(target=accept, name="silent-database", daemon=True)
    acceptor.start()
    port = listener.getsockname()[1]
    try:
        yield f"postgresql+psycopg://zimsend:secret@127.0.0.1:{port}/{database}"
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        acceptor.join(timeout=5)
        for connection in accepted:
            connection.close()
