"""The relay: the ZimSend HTTP API, the SQL store and the worker that applies agents' events."""
