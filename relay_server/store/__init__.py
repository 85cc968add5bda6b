"""The SQL store (SQLite or PostgreSQL) behind the relay."""

# The dispatch, operator, OTP and webhook tables live on the same MetaData; importing them
# here keeps the schema whole whichever module is imported first.
from relay_server.store import dispatch_schema, mobile_schema, operator_schema, otp_schema, webhook_schema  # noqa: F401
from relay_server.store.store import (
    InvalidApiKey,
    Store,
    UnknownClient,
    UnknownCursor,
    UnknownMessage,
)

__all__ = ["InvalidApiKey", "Store", "UnknownClient", "UnknownCursor", "UnknownMessage"]
