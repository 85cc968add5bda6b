"""The table of one-time passwords, on the store's one MetaData; created by migration 0006.

A row holds an OTP's code only as a keyed MAC (see ``relay_server.api.otp_codes``),
the message that carried it, and where its verification stands.
"""

from __future__ import annotations

import sqlalchemy as sa

from relay_server.store.schema import UtcDateTime, metadata

otps = sa.Table(
    "otps",
    metadata,
    sa.Column("otp_id", sa.String(24), primary_key=True),
    sa.Column("client_id", sa.String(20), sa.ForeignKey("clients.client_id"), nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False),
    sa.Column("recipient", sa.String(20), nullable=False),
    sa.Column("purpose", sa.String(40), nullable=False),  # '' when none was given
    sa.Column("code_mac", sa.String(64), nullable=False),
    # No foreign key: retention deletes old messages, whose OTPs outlive them.
    sa.Column("message_id", sa.String(24), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # pending, verified, superseded, exhausted
    sa.Column("attempts", sa.Integer, nullable=False),  # failed verifications
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("verified_at", UtcDateTime, nullable=True),
    # The hourly limit per number, and the OTPs a new one supersedes.
    sa.Index("ix_otps_client_recipient_created", "client_id", "is_test", "recipient", "created_at"),
    sa.Index("ix_otps_message_id", "message_id"),
    # The daily purge, across clients (revision 0017).
    sa.Index("ix_otps_created", "created_at"),
)
