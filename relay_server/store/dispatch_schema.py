"""The tables the dispatch side keeps: device state, device events, incoming SMS.

They live on the store's one MetaData (``schema.metadata``) and are created by
migration 0002. Device state is what the latest heartbeat said; device events
are the online/offline transitions, kept durably until webhooks deliver them;
incoming messages are what the devices received, once per agent event.
"""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.schema import UtcDateTime, metadata

device_status = sa.Table(
    "device_status",
    metadata,
    sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), primary_key=True),
    sa.Column("online", sa.Boolean, nullable=False, default=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=True),
    sa.Column("changed_at", UtcDateTime, nullable=True),  # last online/offline transition
    sa.Column("agent_state", sa.String(16), nullable=True),  # online, modem_lost, stopped
    sa.Column("signal_percent", sa.Integer, nullable=True),
    sa.Column("signal_dbm", sa.Integer, nullable=True),
    sa.Column("operator", sa.Text, nullable=True),
    sa.Column("registration", sa.String(20), nullable=True),
    sa.Column("manufacturer", sa.Text, nullable=True),
    sa.Column("model", sa.Text, nullable=True),
    sa.Column("firmware", sa.Text, nullable=True),
    sa.Column("phone_number", sa.String(20), nullable=True),
    sa.Column("sent_today", sa.Integer, nullable=False, default=0),
    sa.Column("queue_depth", sa.Integer, nullable=False, default=0),
)

device_events = sa.Table(
    "device_events",
    metadata,
    sa.Column("event_id", sa.String(40), primary_key=True),
    sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), nullable=False),
    sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),  # device.connected / device.disconnected
    sa.Column("reason", sa.String(32), nullable=True),  # for device.disconnected
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("data_json", sa.Text, nullable=False),
    sa.Index("ix_device_events_client_occurred", "client_id", "occurred_at"),
)

incoming_messages = sa.Table(
    "incoming_messages",
    metadata,
    sa.Column("message_id", sa.String(24), primary_key=True),
    sa.Column("event_id", sa.String(40), nullable=False, unique=True),
    sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("device_id", sa.String(20), sa.ForeignKey("devices.device_id"), nullable=False),
    sa.Column("sender", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),  # the service centre's time
    sa.Column("created_at", UtcDateTime, nullable=False),
    # What kind of message it is (revision 0006): class 0 is flash; binary data keeps its hex in
    # body; an undecodable one keeps the modem's PDU in raw_pdu and an empty body.
    sa.Column("message_class", sa.SmallInteger, nullable=True),
    sa.Column("pid", sa.SmallInteger, nullable=True),
    sa.Column("data_coding", sa.SmallInteger, nullable=True),
    sa.Column("destination_port", sa.Integer, nullable=True),
    sa.Column("source_port", sa.Integer, nullable=True),
    sa.Column("binary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("undecodable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("raw_pdu", sa.Text, nullable=True),
    sa.Index("ix_incoming_messages_client_created", "client_id", "created_at", "message_id"),
)
