"""The API's blueprints, in the order ``create_app`` registers them.

Importing a route module is what adds its operations to the OpenAPI document
(``routes.route``), so this list is also the document's.
"""

from __future__ import annotations

from flask import Blueprint

from relay_server.api import (
    account,
    blocked_numbers,
    devices,
    health,
    inbox,
    metrics,
    openapi,
    otp,
    sending,
    tracking,
    webhooks,
)

BLUEPRINTS: tuple[Blueprint, ...] = tuple(
    module.bp
    for module in (
        sending,
        otp,
        account,
        tracking,
        devices,
        webhooks,
        inbox,
        blocked_numbers,
        openapi,
        health,
        metrics,
    )
)
