"""A migrated store on each database, for the tests of the webhook pump."""

from __future__ import annotations

from migrated_store import store  # noqa: F401  (a migrated store on the test's own database)
