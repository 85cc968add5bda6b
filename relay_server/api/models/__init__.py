"""The API's shapes: what each ``/v1`` route takes and answers, as typed models.

One module per resource. Request models validate what clients send with the
contract's rules, each field raising the error code the contract gives it
(see ``fields.Rule``); answer models write every timestamp, enum and null in
one shape. ``relay_server.openapi`` builds the OpenAPI document from these
models and the route table (``relay_server.api.routes``), so nothing here is
described twice.
"""
