"""The tables the dispatch side keeps: device state, device events, incoming SMS,
the agent events that could not be applied, and the devices that refused a message.

They live on the store's one MetaData (``schema.metadata``) and are created by
migrations 0002 and 0003. Device state is what the latest heartbeat said;
device events are the online/offline transitions, kept durably until webhooks
deliver them; incoming messages are what the devices received, once per agent
event (``exact_json`` as ``storable_text`` describes). Event attempts count the
failed tries of each agent event; dead letters keep the events that failed
every try, for the operator. Message refusals (revision 0021) name the devices
whose SIM refused a shared message for want of credit, so that it is placed
again for the client's other devices only; they go with their message.
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
    sa.Column("battery_percent", sa.Integer, nullable=True),  # phones only: what their ping told
    sa.Column("battery_charging", sa.Boolean, nullable=True),
    # An agent's device that sent its day's daily_send_limit takes jobs again from then; one whose
    # SIM refused a send for want of credit takes its client's shared jobs again from then (migration 0026).
    sa.Column("daily_limit_reached_until", UtcDateTime, nullable=True),
    sa.Column("shared_paused_until", UtcDateTime, nullable=True),
    # When the device's day that sent_today counts ends, as its agent tells (migration 0029).
    sa.Column("day_ends_at", UtcDateTime, nullable=True),
    # The SMS parts the device sends a day at most, as its agent tells; 0: no limit; null: not
    # told (a phone, an older agent) (migration 0035).
    sa.Column("daily_send_limit", sa.Integer, nullable=True),
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
    # The daily purge, across clients (revision 0017).
    sa.Index("ix_device_events_occurred", "occurred_at"),
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
    # The exact sender and text, when the columns above could only hold a display form.
    sa.Column("exact_json", sa.Text, nullable=True),
    # What kind of message it is (revision 0005): class 0 is flash; binary data keeps its hex in
    # body; an undecodable one keeps the modem's PDU in raw_pdu and an empty body.
    sa.Column("message_class", sa.SmallInteger, nullable=True),
    sa.Column("pid", sa.SmallInteger, nullable=True),
    sa.Column("data_coding", sa.SmallInteger, nullable=True),
    sa.Column("destination_port", sa.Integer, nullable=True),
    sa.Column("source_port", sa.Integer, nullable=True),
    sa.Column("binary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("undecodable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("raw_pdu", sa.Text, nullable=True),
    # The inbox's order, newest first (revision 0014), then its filters in front of it (0016).
    sa.Index("ix_incoming_messages_client_received", "client_id", "received_at", "message_id"),
    sa.Index("ix_incoming_messages_client_sender_received", "client_id", "sender", "received_at", "message_id"),
    sa.Index("ix_incoming_messages_client_device_received", "client_id", "device_id", "received_at", "message_id"),
    # The daily purge, across clients (revision 0017).
    sa.Index("ix_incoming_messages_created", "created_at"),
)

event_attempts = sa.Table(
    "event_attempts",
    metadata,
    sa.Column("event_id", sa.String(40), primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_attempt_at", UtcDateTime, nullable=False),
    sa.Column("last_attempt_at", UtcDateTime, nullable=False),
    sa.Index("ix_event_attempts_last_attempt", "last_attempt_at"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("event_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    # As the event named it: the device may be unknown, or gone since.
    sa.Column("device_id", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),  # the error's class
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("payload_json", sa.Text, nullable=False),  # the event, as ``storable_text.exact_json``
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_attempt_at", UtcDateTime, nullable=False),
    sa.Column("last_attempt_at", UtcDateTime, nullable=False),
    sa.Column("dead_lettered_at", UtcDateTime, nullable=False),
    sa.Index("ix_dead_letters_dead_lettered", "dead_lettered_at", "event_id"),
)

message_refusals = sa.Table(
    "message_refusals",
    metadata,
    # No foreign keys: a refusal goes with its message (``retention``), and names a device
    # as its event did, whatever became of the device since.
    sa.Column("message_id", sa.String(24), primary_key=True),
    sa.Column("device_id", sa.String(20), primary_key=True),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=True),  # the modem's own words
    sa.Column("refused_at", UtcDateTime, nullable=False),
)
