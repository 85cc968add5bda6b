"""A client's credentials as tests send them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Credentials:
    client_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        """The two authentication headers every /v1 route wants."""
        return {"X-Client-ID": self.client_id, "X-API-Key": self.api_key}
