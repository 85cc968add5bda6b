"""The store's refusals share one root, so a caller can tell them from a bug."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import relay_server.store
from relay_server.store.errors import StoreError


def test_every_exception_the_store_defines_is_a_store_error():
    defined = []
    for info in pkgutil.iter_modules(relay_server.store.__path__):
        module = importlib.import_module(f"relay_server.store.{info.name}")
        defined += [
            value
            for value in vars(module).values()
            if inspect.isclass(value) and issubclass(value, Exception) and value.__module__ == module.__name__
        ]

    assert len(defined) >= 10
    assert [error.__name__ for error in defined if not issubclass(error, StoreError)] == []
