"""Fixtures of the relay's command-line tests."""

from own_redis import own_redis  # noqa: F401  (a redis-server a test may configure)
