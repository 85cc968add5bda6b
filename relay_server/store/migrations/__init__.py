"""Alembic migrations of the store's schema (run through ``relay_server.store.migrate``)."""
