"""The HTTP API under /v1, one blueprint per part of the contract, and /healthz and /metrics beside it.

The folder's rule: a /v1 route is declared with ``routes.route``, naming the
models of ``api.models`` it takes and answers; it reads its body and query
only through those models and answers through ``routes.respond`` (or
an ``ApiError`` of the code table in ``relay_server.api.errors``). The OpenAPI
document is written from that table and those models, never by hand.
"""
