"""The OpenAPI 3.1 description of the relay's API, written from the route table and its models."""

from relay_server.api.errors import ERROR_CODES, ErrorCode
from relay_server.openapi.document import document

__all__ = ["ERROR_CODES", "ErrorCode", "document"]
