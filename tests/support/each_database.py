"""The databases a test runs on when it runs on each: a SQLite file, and PostgreSQL
(marked ``postgres``, for the runs that have a server). Parameters for a fixture or a test."""

from __future__ import annotations

import pytest

EACH_DATABASE = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
