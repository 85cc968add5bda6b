"""Carrying messages from the relay to its device agents over Redis and RQ."""

from relay_server.dispatch.rq_dispatcher import RQDispatcher

__all__ = ["RQDispatcher"]
