"""The HTTP API under /v1, one blueprint per part of the contract, and /healthz and /metrics beside it."""

# Each module exports ``bp``, a Blueprint; ``create_app`` registers them in this order.
BLUEPRINT_MODULES = (
    "relay_server.api.sending",
    "relay_server.api.otp",
    "relay_server.api.account",
    "relay_server.api.tracking",
    "relay_server.api.devices",
    "relay_server.api.webhooks",
    "relay_server.api.inbox",
    "relay_server.api.openapi",
    "relay_server.api.health",
    "relay_server.api.metrics",
)
