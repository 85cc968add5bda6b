"""The OpenAPI 3.1 description of the relay's API, built as Python data."""

from relay_server.openapi.document import document
from relay_server.errors import ERROR_CODES, ErrorCode

__all__ = ["ERROR_CODES", "ErrorCode", "document"]
