"""The signing keys of clients' devices, as a recovery round reads them: once a round a client.

A round signs the jobs it places, judges the devices' heartbeat keys
(``recovery.live_states_of``) and returns messages to the devices that
claimed them, all by the keys of the devices of the same clients: read once,
whichever asks first, they serve the rest of the round.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from relay_server.store.store import Store


class RoundKeys:
    """A ``placement.KeysOf``: each client's enabled devices' keys, read at its first ask."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._read: dict[str, dict[str, str]] = {}

    def __call__(self, client_id: str) -> Mapping[str, str]:
        if client_id not in self._read:
            self._read[client_id] = self._store.devices.signing_keys(client_id)
        return self._read[client_id]

    def read(self, client_ids: Collection[str]) -> None:
        """Read the keys of those of ``client_ids`` not read yet, in one query (none when all were)."""
        missing = set(client_ids) - self._read.keys()
        if missing:
            self._read.update(self._store.devices.clients_signing_keys(missing))
