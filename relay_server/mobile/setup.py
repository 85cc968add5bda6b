"""What a person types into the app: the server URL and the registration token."""

from __future__ import annotations

from typing import Any

from zimsend_common.config import Settings

MOBILE_PREFIX = "/api/mobile/v1"


def public_base(settings: Settings) -> str:
    """The relay's address as phones reach it: ``public_url``, else http://host:port."""
    if settings.relay.public_url:
        return settings.relay.public_url.rstrip("/")
    return f"http://{settings.relay.host}:{settings.relay.http_port}"


def setup_document(settings: Settings, device_id: str, registration_token: str) -> dict[str, Any]:
    """What ``add-device --android`` prints: the device, and the app's Cloud Server settings."""
    return {
        "device_id": device_id,
        "kind": "android",
        "server_url": public_base(settings) + MOBILE_PREFIX,
        "registration_token": registration_token,
        "note": (
            "In the app: Settings > Cloud Server: API URL = server_url, Private Token = "
            "registration_token; release builds need https (or http://127.0.0.1 with adb reverse)."
        ),
    }
