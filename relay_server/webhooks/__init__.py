"""Webhooks: the events the relay posts to its clients, and how it delivers them."""
