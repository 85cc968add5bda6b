"""The table of phones that join as devices through the SMSGate app; created by migration 0008.

A row extends a ``devices`` row: the device's kind (``android``), the digest of
the registration token that lets the app register (printed once by
``zimsend-relay add-device --android``), the digest of the token the app
calls with once registered, and what the app tells of itself: its version,
whether it uses push or server-sent events, and its SIM cards. Tokens are
kept as SHA-256 digests only.

``phone_events`` keeps each event the relay made of a phone's report until
the worker has applied it (see ``phone_events``); created by migration 0019.
"""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.schema import UtcDateTime, metadata

mobile_devices = sa.Table(
    "mobile_devices",
    metadata,
    sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # android
    sa.Column("registration_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("token_digest", sa.String(64), nullable=True, unique=True),  # None until registered
    sa.Column("registered_at", UtcDateTime, nullable=True),
    sa.Column("app_name", sa.Text, nullable=True),  # what the app calls the phone: MANUFACTURER/PRODUCT
    sa.Column("app_version", sa.String(32), nullable=True),
    sa.Column("push_token", sa.Text, nullable=True),  # None: the app listens to GET /events
    sa.Column("sim_cards_json", sa.Text, nullable=True),
    sa.Column("phone_number", sa.String(20), nullable=True),
    sa.Column("carrier", sa.Text, nullable=True),
)

phone_events = sa.Table(
    "phone_events",
    metadata,
    sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), primary_key=True),
    sa.Column("event_id", sa.String(40), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),  # the event as signed, JSON
    sa.Column("signature", sa.String(64), nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("handed_at", UtcDateTime, nullable=False),  # last put on the events queue
    # The worker's hand-on seeks those handed long enough ago; the purge, those recorded before its cutoff.
    sa.Index("ix_phone_events_handed", "handed_at"),
    sa.Index("ix_phone_events_recorded", "recorded_at"),
)
