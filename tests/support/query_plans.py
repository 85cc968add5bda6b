"""The statements an action runs, and the plan each database makes of one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

Statement = tuple[str, Any]  # SQL as the driver got it, and its parameters


def statements_run(engine: sa.Engine, action: Callable[[], object], containing: str) -> list[Statement]:
    """The statements ``action`` sends through ``engine`` whose SQL contains ``containing``."""
    seen: list[Statement] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if containing in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


def plan_of(engine: sa.Engine, statement: str, parameters: Any = ()) -> str:
    """The database's plan of ``statement``, one line per step joined by `` | ``.

    On PostgreSQL sequential scans are switched off for the question: a test's
    tables are so small that reading them whole is what the planner would choose.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            return " | ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
        return " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
